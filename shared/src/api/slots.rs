//! A provider's slots one by one: `POST /slots`, `GET /slots/available`, `POST /slots/block` and
//! `POST /slots/{id}/release`. Slots by the calendar (bulk, the day schedule) are in `calendar.rs`.

use jiff::SignedDuration;
use serde::Deserialize;
use uuid::Uuid;

use super::views::{Blocked, Page, Skipped, SlotView};
use super::{caller, json, json_body, Bound, Checks, Ctx, Query, Reply, Request, BOUND};
use crate::api::{ApiError, Code};
use crate::domain::resource::{SlotResource, MAX_PER_SLOT};
use crate::domain::{Interval, ProviderId, Slot, SlotId, SlotStatus, UtcTime};
use crate::store::keys::Range;
use crate::store::slots::Capacities;

const MAX_SLOT_LENGTH: SignedDuration = SignedDuration::from_hours(12);
const MAX_SEATS: u32 = 100;
const MAX_RANGE_DAYS: i32 = 366;
/// At most this many slots overlap one block request (three weeks of 15-minute slots, 12 hours a day),
/// one conditional update each, a few at a time: well inside the function's timeout.
pub const MAX_BLOCK_SLOTS: usize = 1000;
/// At most this many appointment types a slot admits (single and bulk alike): they are stored on every
/// slot, and a day's transaction of 96 slots must stay below 4 MB.
const MAX_ALLOWED_TYPES: usize = 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewSlot {
    provider_id: ProviderId,
    start_time: UtcTime,
    end_time: UtcTime,
    #[serde(default = "one")]
    max_bookings: u32,
    #[serde(default)]
    allowed_appointment_types: Vec<Uuid>,
    /// An active location's id (`GET /locations`).
    location_id: Option<String>,
    /// Rooms and equipment of that location the slot holds for its time (at most 5;
    /// `GET /locations/{id}/resources`). Another slot holding one then is 409 `resource_conflict`.
    #[serde(default)]
    resource_ids: Vec<Uuid>,
    room_number: Option<String>,
    notes: Option<String>,
    #[serde(default)]
    is_overbook: bool,
}

/// What a slot's seats, admitted types and place must be, whether it is made alone or in bulk.
pub(super) fn check_seats_types_and_place(
    checks: &mut Checks,
    seats: u32,
    types: &[Uuid],
    location: &Option<String>,
    room: &Option<String>,
) {
    checks.check(
        (1..=MAX_SEATS).contains(&seats),
        "maxBookings",
        "must be 1 to 100",
    );
    checks.check(
        types.len() <= MAX_ALLOWED_TYPES,
        "allowedAppointmentTypes",
        "at most 20",
    );
    checks.text(location, "locationId", 100); // an id; `at_active_location` reads it
    checks.text(room, "roomNumber", 50);
}

/// Where a slot is and what it holds: its `locationId`, if it names one, must be an active location's
/// id, and its `resourceIds` that location's active resources. One GetItem for a location alone, one
/// BatchGetItem with resources; what the slot shows of each resource, and their capacities.
pub(super) async fn place(
    ctx: &Ctx,
    location: &Option<String>,
    resource_ids: &[Uuid],
) -> Result<(Vec<SlotResource>, Capacities), ApiError> {
    let Some(named) = location else {
        if resource_ids.is_empty() {
            return Ok((vec![], Capacities::new()));
        }
        return Err(ApiError::field(
            "locationId",
            "missing: resources belong to a location; name it",
        ));
    };
    const MUST: &str = "must name an active location (GET /locations)";
    let id: Uuid = named
        .trim()
        .parse()
        .map_err(|_| ApiError::field("locationId", MUST))?;
    let (at, resources) = if resource_ids.is_empty() {
        (ctx.store.location(id).await?, vec![])
    } else {
        ctx.store.location_and_resources(id, resource_ids).await?
    };
    if !at.is_some_and(|l| l.active) {
        return Err(ApiError::field("locationId", MUST));
    }
    let mut shown = vec![];
    let mut capacity = Capacities::new();
    for (rid, found) in resource_ids.iter().zip(resources) {
        match found {
            Some(r) if r.active => {
                capacity.insert(r.id, r.capacity);
                shown.push(r.shown());
            }
            Some(_) => {
                return Err(ApiError::field(
                    "resourceIds",
                    format!("{rid} is inactive: it takes no new slots"),
                ))
            }
            None => {
                return Err(ApiError::field(
                    "resourceIds",
                    format!(
                        "{rid} is not a resource of location {id} (GET /locations/{id}/resources)"
                    ),
                ))
            }
        }
    }
    Ok((shown, capacity))
}

/// A slot's `resourceIds`: at most five, each once.
pub(super) fn check_resources(checks: &mut Checks, ids: &[Uuid]) {
    checks.check(
        ids.len() <= MAX_PER_SLOT,
        "resourceIds",
        "at most 5 rooms and devices",
    );
    let distinct: std::collections::HashSet<&Uuid> = ids.iter().collect();
    checks.check(
        distinct.len() == ids.len(),
        "resourceIds",
        "each at most once",
    );
}

pub(super) fn one() -> u32 {
    1
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
    check_seats_types_and_place(
        &mut checks,
        body.max_bookings,
        &body.allowed_appointment_types,
        &body.location_id,
        &body.room_number,
    );
    check_resources(&mut checks, &body.resource_ids);
    checks.text(&body.notes, "notes", 1000);
    let interval = checks.finish_with(interval)?;
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
    let (resources, capacity) = place(ctx, &body.location_id, &body.resource_ids).await?;
    let mut slot = Slot::open(
        SlotId::new(),
        body.provider_id,
        interval,
        body.max_bookings,
        now,
    );
    slot.allowed_appointment_types = body.allowed_appointment_types;
    slot.location_id = body.location_id;
    slot.room_number = body.room_number;
    slot.resources = resources;
    slot.notes = body.notes;
    slot.is_overbook = body.is_overbook;
    ctx.store.create_slot(&slot, &capacity, now).await?;
    tracing::info!(slot_id = %slot.id, provider_id = %slot.provider_id, "slot created");
    let location = format!("/slots/{}", slot.id);
    Ok(super::created(201, &SlotView::of(&slot), location, false))
}

/// `GET /slots/available`: a provider's future slots with a free seat, soonest first, cursor paged.
pub async fn available(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
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
    let (provider, from, to) = q.finish_with((provider, from, to))?;
    let (from, to) = (from.start(), to.end());

    // Started slots are not bookable; the cursor is still checked against the range the client asked for.
    let asked = Range::provider_slots(provider, from, to);
    let start_key = cursor
        .map(|c| asked.cursor(&ctx.store.cursors, c))
        .transpose()
        .map_err(|e| ApiError::field("cursor", e.to_string()))?;
    let (slots, next_cursor) = bookable(ctx, provider, from, to, limit, start_key, type_id).await?;
    let data: Vec<SlotView> = slots
        .iter()
        .map(|s| SlotView::for_caller(s, &who))
        .collect();
    Ok(json(200, &Page { data, next_cursor }))
}

/// One page (`limit` slots read) of `provider`'s slots starting in `[from, to)` that can be booked
/// now: not started, a seat free, `type_id` admitted, and their settings' notice, horizon and daily
/// limit met. The slots and the page's cursor. `GET /slots/available` and a manage link's options.
pub(super) async fn bookable(
    ctx: &Ctx,
    provider: ProviderId,
    from: UtcTime,
    to: UtcTime,
    limit: i32,
    start_key: Option<crate::store::Item>,
    type_id: Option<Uuid>,
) -> Result<(Vec<crate::domain::Slot>, Option<String>), ApiError> {
    let earliest = from.max(ctx.now().plus(SignedDuration::from_secs(1)));
    let range = Range::provider_slots(provider, from, to).from(earliest);
    // The query starts at `earliest`, which moves with the clock, and DynamoDB refuses an
    // ExclusiveStartKey outside the key condition. A cursor that "now" has overtaken points at
    // slots that have started since: everything up to `earliest` is past, so the page starts there.
    let start_key = start_key.filter(|key| range.admits(key));
    // The page and the provider's settings at once: a slot their notice, horizon or daily limit would
    // refuse is not offered as available (a full day costs one more read, only with a limit).
    if earliest >= to {
        return Ok((vec![], None));
    }
    let (page, rules) = tokio::try_join!(
        ctx.store.available_slots(&range, limit, start_key),
        ctx.store.provider_rules(provider)
    )?;
    let now = ctx.now();
    let days: Vec<jiff::civil::Date> = page
        .items
        .iter()
        .map(|s| rules.day_of(s.start_time))
        .collect();
    let full = ctx.store.full_days(provider, &rules, &days).await?;
    let slots = page
        .items
        .into_iter()
        .filter(|s| {
            type_id.is_none_or(|t| {
                s.allowed_appointment_types.is_empty() || s.allowed_appointment_types.contains(&t)
            })
        })
        .filter(|s| {
            rules.admits(s.start_time, now).is_ok() && !full.contains(&rules.day_of(s.start_time))
        })
        .collect();
    Ok((slots, page.next))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockRequest {
    provider_id: ProviderId,
    start_time: UtcTime,
    end_time: UtcTime,
    reason: Option<String>,
}

/// `POST /slots/block`: blocks every open slot without bookings that overlaps the range; slots with
/// bookings stay as they are and are listed as skipped (their appointments are cancelled explicitly).
pub async fn block(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: BlockRequest = json_body(&req)?;
    let mut checks = Checks::default();
    let range = Interval::new(body.start_time, body.end_time);
    checks.check(range.is_ok(), "endTime", "must be after startTime");
    checks.check(
        range.is_ok_and(|r| r.duration() <= SignedDuration::from_hours(24 * 92)),
        "endTime",
        "a block may span at most 92 days",
    );
    checks.text(&body.reason, "reason", 500);
    let range = checks.finish_with(range)?;
    if !who.may_act_for_provider(body.provider_id) {
        return Err(ApiError::forbidden(
            "only the provider, staff or an admin may block the provider's slots",
        ));
    }
    let now = ctx.now();
    // A slot lasts at most 12 hours, so one that overlaps the range starts at most 12 hours before it.
    let candidates = ctx
        .store
        .slots_between(
            body.provider_id,
            range.start().plus(-MAX_SLOT_LENGTH),
            range.end(),
        )
        .await?;
    let candidates: Vec<Slot> = candidates
        .into_iter()
        .filter(|s| s.interval().overlaps(&range))
        .collect();
    if candidates.len() > MAX_BLOCK_SLOTS {
        return Err(ApiError::field(
            "endTime",
            format!(
                "the range holds {} slots; block at most {MAX_BLOCK_SLOTS} per request: split the range",
                candidates.len()
            ),
        ));
    }
    let (mut blocked, mut skipped) = (vec![], vec![]);
    let mut open = vec![];
    for slot in candidates {
        let why = match slot.status {
            SlotStatus::Blocked => "already_blocked",
            SlotStatus::Cancelled => "cancelled",
            SlotStatus::Available if slot.current_bookings > 0 => "has_bookings",
            SlotStatus::Available => {
                open.push(slot);
                continue;
            }
        };
        skipped.push(skip(&slot, why));
    }
    for (slot, done) in ctx
        .store
        .block_slots(open, body.reason.as_deref(), now)
        .await?
    {
        if done {
            blocked.push(slot.id);
        } else {
            skipped.push(skip(&slot, "has_bookings")); // booked meanwhile
        }
    }
    tracing::info!(provider_id = %body.provider_id, blocked = blocked.len(), skipped = skipped.len(), "slots blocked");
    Ok(json(200, &Blocked { blocked, skipped }))
}

fn skip(slot: &Slot, reason: &'static str) -> Skipped {
    Skipped {
        slot_id: slot.id,
        start_time: slot.start_time,
        reason: reason.to_owned(),
        current_bookings: slot.current_bookings,
    }
}

/// `POST /slots/{id}/release`: a blocked slot with no bookings becomes available again.
pub async fn release(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: SlotId = super::path_id(&req, "id")?;
    let scope = if who.is_staff() {
        None
    } else if who.has(crate::domain::Role::Provider) {
        Some(ProviderId::from_uuid(who.id))
    } else {
        return Err(ApiError::forbidden(
            "only the provider, staff or an admin may release a slot",
        ));
    };
    use crate::store::slots::Unreleased;
    match ctx.store.release_slot(id, scope, ctx.now()).await? {
        Ok(slot) => Ok(json(200, &SlotView::of(&slot))),
        Err(Unreleased::Gone) => Err(ApiError::not_found("slot")),
        Err(Unreleased::As(old)) if scope.is_some_and(|p| p != old.provider_id) => Err(
            ApiError::forbidden("only the provider, staff or an admin may release a slot"),
        ),
        Err(Unreleased::As(old)) if old.status != SlotStatus::Blocked => Err(ApiError::new(
            Code::SlotNotBlocked,
            format!("the slot is {}", old.status.as_str()),
        )),
        Err(Unreleased::As(_)) => Err(ApiError::new(
            Code::SlotHasBookings,
            "a blocked slot with bookings cannot be released",
        )),
        Err(Unreleased::Taken(t)) => Err(crate::store::slots::SlotError::Taken(t).into()),
    }
}
