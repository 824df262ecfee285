//! `POST /slots` and `GET /slots/available`.

use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{caller, json, json_body, Bound, Checks, Ctx, Query, Reply, Request, BOUND};
use crate::api::ApiError;
use crate::domain::{Interval, ProviderId, Slot, SlotId, SlotStatus, UtcTime};
use crate::store::{keys, page};

const MAX_SLOT_LENGTH: SignedDuration = SignedDuration::from_hours(12);
const MAX_SEATS: u32 = 100;
const MAX_RANGE_DAYS: i32 = 366;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewSlot {
    provider_id: ProviderId,
    start_time: UtcTime,
    end_time: UtcTime,
    #[serde(default = "one")]
    max_bookings: u32,
    #[serde(default)]
    allowed_appointment_types: Vec<Uuid>,
    location_id: Option<String>,
    room_number: Option<String>,
    notes: Option<String>,
    #[serde(default)]
    is_overbook: bool,
}

fn one() -> u32 {
    1
}

/// A slot as clients see it: `status` is derived (`booked` when no seat is left).
pub fn slot_json(slot: &Slot) -> Value {
    let mut v = serde_json::to_value(slot).expect("a slot serializes");
    v["status"] = serde_json::to_value(slot.state()).expect("a state serializes");
    v["seatsLeft"] = slot.seats_left().into();
    v
}

/// `POST /slots`: a provider publishes one slot of their own time (staff and admins for any provider).
pub async fn create(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: NewSlot = json_body(&req)?;
    let now = ctx.now();
    let mut checks = Checks::default();
    let interval = Interval::new(body.start_time, body.end_time);
    checks.check(interval.is_ok(), "endTime", "must be after startTime");
    checks.check(
        body.start_time.is_whole_minute(),
        "startTime",
        "must be on a whole minute",
    );
    checks.check(
        body.end_time.is_whole_minute(),
        "endTime",
        "must be on a whole minute",
    );
    checks.check(body.start_time > now, "startTime", "must be in the future");
    checks.check(
        interval
            .map(|iv| iv.duration() <= MAX_SLOT_LENGTH)
            .unwrap_or(true),
        "endTime",
        "a slot may last at most 12 hours",
    );
    checks.check(
        (1..=MAX_SEATS).contains(&body.max_bookings),
        "maxBookings",
        "must be 1 to 100",
    );
    checks.check(
        body.allowed_appointment_types.len() <= 20,
        "allowedAppointmentTypes",
        "at most 20",
    );
    checks.text(&body.location_id, "locationId", 100);
    checks.text(&body.room_number, "roomNumber", 50);
    checks.text(&body.notes, "notes", 1000);
    checks.finish()?;
    if !who.may_act_for_provider(body.provider_id) {
        return Err(ApiError::forbidden(
            "only the provider, staff or an admin may create the provider's slots",
        ));
    }
    if body.is_overbook && !who.is_staff() {
        return Err(ApiError::forbidden(
            "only staff or an admin may create an overbook slot",
        ));
    }
    let slot = Slot {
        id: SlotId::new(),
        provider_id: body.provider_id,
        start_time: body.start_time,
        end_time: body.end_time,
        max_bookings: body.max_bookings,
        current_bookings: 0,
        status: SlotStatus::Available,
        allowed_appointment_types: body.allowed_appointment_types,
        location_id: body.location_id,
        room_number: body.room_number,
        notes: body.notes,
        is_overbook: body.is_overbook,
        created_at: now,
        updated_at: now,
    };
    ctx.store.create_slot(&slot, now).await?;
    tracing::info!(slot_id = %slot.id, provider_id = %slot.provider_id, "slot created");
    let mut response = json(201, &slot_json(&slot));
    response.headers_mut().insert(
        "location",
        format!("/slots/{}", slot.id)
            .parse()
            .expect("a valid header"),
    );
    Ok(response)
}

/// `GET /slots/available`: a provider's future slots with a free seat, soonest first, cursor paged.
pub async fn available(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let mut q = Query::of(&req);
    let provider: Option<ProviderId> = q.required("providerId", "must be a UUID");
    let from: Option<Bound> = q.required("startDate", BOUND);
    let to: Option<Bound> = q.required("endDate", BOUND);
    let type_id: Option<Uuid> = q.optional("appointmentTypeId", "must be a UUID");
    let limit: i32 = q
        .optional("limit", "must be a whole number from 1 to 100")
        .unwrap_or(50);
    if !(1..=100).contains(&limit) {
        q.fail("limit", "must be a whole number from 1 to 100");
    }
    if let (Some(f), Some(t)) = (from, to) {
        if t.end() <= f.start() {
            q.fail("endDate", "must be after startDate");
        } else if f.start().until(t.end())
            > SignedDuration::from_hours(24 * i64::from(MAX_RANGE_DAYS))
        {
            q.fail("endDate", "the range may span at most 366 days");
        }
    }
    let cursor = q.text("cursor");
    q.finish()?;
    let (provider, from, to) = (
        provider.expect("checked"),
        from.expect("checked").start(),
        to.expect("checked").end(),
    );

    // Started slots are not bookable; the cursor is still checked against the range the client asked for.
    let earliest = from.max(ctx.now().plus(SignedDuration::from_secs(1)));
    let pk = keys::provider_slots(provider);
    let start_key = cursor
        .map(|c| {
            page::decode(
                c,
                keys::GSI1PK,
                &pk,
                keys::GSI1SK,
                &from.to_string(),
                &to.to_string(),
            )
        })
        .transpose()
        .map_err(|e| ApiError::field("cursor", e.to_string()))?;
    let page = if earliest >= to {
        page::Page {
            items: vec![],
            next: None,
        }
    } else {
        ctx.store
            .available_slots(provider, earliest, to, limit, start_key)
            .await?
    };
    let data: Vec<Value> = page
        .items
        .iter()
        .filter(|s| {
            type_id.is_none_or(|t| {
                s.allowed_appointment_types.is_empty() || s.allowed_appointment_types.contains(&t)
            })
        })
        .map(slot_json)
        .collect();
    Ok(json(
        200,
        &serde_json::json!({ "data": data, "nextCursor": page.next }),
    ))
}
