//! A provider's calendar: `POST /slots/bulk` (slots from working hours in the provider's time zone) and
//! `GET /providers/{providerId}/schedule` (one local day, slot by slot).

use jiff::SignedDuration;
use serde::Deserialize;
use uuid::Uuid;

use super::slots::check_seats_types_and_place;
use super::views::{
    BulkCreated, DaySlot, RefusedDay, Schedule, ScheduleDay, ScheduleRow, ScheduleSummary,
    ScheduledBooking, SlotView,
};
use super::{caller, json, json_body, Checks, Ctx, Query, Reply, Request};
use crate::api::ApiError;
use crate::domain::calendar::{generate, Plan, WorkingHours};
use crate::domain::time::InvalidZone;
use crate::domain::{Day, ProviderId, Slot, SlotId, UtcTime, ZoneName};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkRequest {
    provider_id: ProviderId,
    time_zone: String,
    start_date: Day,
    end_date: Day,
    working_hours: WorkingHours,
    slot_duration: i64,
    #[serde(default)]
    break_time: i64,
    #[serde(default)]
    exclude_dates: Vec<Day>,
    #[serde(default = "super::slots::one")]
    max_bookings: u32,
    #[serde(default)]
    allowed_appointment_types: Vec<Uuid>,
    /// An active location's id (`GET /locations`).
    location_id: Option<String>,
    /// Rooms and equipment of that location every slot holds (at most 5). A day with a slot whose
    /// resource is held by another slot then is left out and named in `refused`; the others are made.
    #[serde(default)]
    resource_ids: Vec<Uuid>,
    room_number: Option<String>,
}

/// At most this many slots in one local day: one transaction holds them and the day's guards
/// (a transaction has at most 100 actions:
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).
const MAX_SLOTS_PER_DAY: usize = 96;
/// The actions of one DynamoDB transaction, at most (same page).
const MAX_ACTIONS: usize = 100;

/// At most this many slots per bulk request (a year of 8 one-hour slots every weekday, or a quarter of
/// 15-minute slots), so that its response stays far below Lambda's 6 MB
/// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html) and its day transactions
/// finish well inside API Gateway's 30-second integration timeout
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
pub const MAX_BULK_SLOTS: usize = 2500;

/// `POST /slots/bulk`: a provider's slots from working hours in their time zone, over up to a year.
/// Ids derive from provider and start, so a repeated request creates nothing and says so.
pub async fn bulk(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: BulkRequest = json_body(&req)?;
    let now = ctx.now();
    let mut checks = Checks::default();
    let zone: Result<ZoneName, _> = body.time_zone.parse();
    if let Err(e) = &zone {
        checks.check(false, "timeZone", &e.to_string());
    }
    checks.check(
        body.end_date >= body.start_date,
        "endDate",
        "must not be before startDate",
    );
    checks.check(
        body.start_date
            .date()
            .until(body.end_date.date())
            .map(|s| s.get_days() < 366)
            .unwrap_or(false),
        "endDate",
        "the range may span at most one year",
    );
    checks.check(
        (5..=480).contains(&body.slot_duration),
        "slotDuration",
        "must be 5 to 480 minutes",
    );
    checks.check(
        (0..=240).contains(&body.break_time),
        "breakTime",
        "must be 0 to 240 minutes",
    );
    checks.check(
        body.exclude_dates.len() <= 366,
        "excludeDates",
        "at most 366 dates",
    );
    check_seats_types_and_place(
        &mut checks,
        body.max_bookings,
        &body.allowed_appointment_types,
        &body.location_id,
        &body.room_number,
    );
    super::slots::check_resources(&mut checks, &body.resource_ids);
    for (field, message) in body.working_hours.problems() {
        checks.check(false, &field, message);
    }
    checks.finish()?;
    if !who.may_act_for_provider(body.provider_id) {
        return Err(ApiError::forbidden(
            "only the provider, staff or an admin may create the provider's slots",
        ));
    }
    let Ok(zone) = zone else {
        return Err(ApiError::field("timeZone", InvalidZone.to_string()));
    };
    let (resources, capacity) =
        super::slots::place(ctx, &body.location_id, &body.resource_ids).await?;
    let plan = Plan {
        time_zone: zone.zone(),
        start_date: body.start_date.date(),
        end_date: body.end_date.date(),
        hours: body.working_hours,
        slot: SignedDuration::from_mins(body.slot_duration),
        break_time: SignedDuration::from_mins(body.break_time),
        exclude: body.exclude_dates.into_iter().map(Day::date).collect(),
    };
    let planned: Vec<_> = generate(&plan)
        .into_iter()
        .filter(|p| p.interval.start() > now) // today's hours that have passed
        .collect();
    if planned.len() > MAX_BULK_SLOTS {
        return Err(ApiError::field(
            "endDate",
            format!(
                "the request would create {} slots; at most {MAX_BULK_SLOTS} per request: split the range",
                planned.len()
            ),
        ));
    }
    let mut days: std::collections::BTreeMap<jiff::civil::Date, Vec<Slot>> = Default::default();
    for p in planned {
        let start = p.interval.start();
        let id = SlotId::from_uuid(Uuid::new_v5(
            &body.provider_id.uuid(),
            start.to_string().as_bytes(),
        ));
        let mut slot = Slot::open(id, body.provider_id, p.interval, body.max_bookings, now);
        slot.allowed_appointment_types = body.allowed_appointment_types.clone();
        slot.location_id = body.location_id.clone();
        slot.room_number = body.room_number.clone();
        slot.resources = resources.clone();
        days.entry(p.local_date).or_default().push(slot);
    }
    if let Some((date, _)) = days.iter().find(|(_, s)| s.len() > MAX_SLOTS_PER_DAY) {
        return Err(ApiError::field(
            "slotDuration",
            format!("{date} would have more than {MAX_SLOTS_PER_DAY} slots"),
        ));
    }
    // A day's transaction holds its slots and the guard of each UTC date they touch, the provider's
    // and each resource's.
    for (date, slots) in &days {
        let actions = crate::store::slots::day_actions(slots);
        if actions > MAX_ACTIONS {
            return Err(ApiError::field(
                "slotDuration",
                format!(
                    "{date} would need {actions} writes in one transaction (at most {MAX_ACTIONS}): \
                     longer slots or fewer resources"
                ),
            ));
        }
    }
    let requested: usize = days.values().map(Vec::len).sum();
    let done = ctx
        .store
        .create_many(
            body.provider_id,
            days.into_iter().collect(),
            &capacity,
            zone.as_str(),
            now,
        )
        .await?;
    tracing::info!(provider_id = %body.provider_id, requested, created = done.created.len(), existing = done.existing, refused_days = done.refused.len(), "bulk slots");
    let refused: Vec<RefusedDay> = done.refused.iter().map(RefusedDay::of).collect();
    if done.created.is_empty() && done.existing == 0 {
        if let Some(first) = done.refused.first().and_then(|d| d.conflicts.first()) {
            // Nothing made: every day was refused.
            return Err(ApiError::new(
                crate::api::Code::ResourceConflict,
                format!(
                    "every day was refused ({} days); the first: the slot at {}: {}",
                    refused.len(),
                    first.0,
                    first.1
                ),
            ));
        }
    }
    Ok(json(
        201,
        &BulkCreated {
            created: done.created.len(),
            existing: done.existing,
            slots: done.created.iter().map(SlotView::of).collect(),
            refused,
        },
    ))
}

/// `GET /providers/{providerId}/schedule?date=YYYY-MM-DD&days=N&timeZone=...`: the provider's days in a
/// time zone (theirs by default), day by day from `date` (local days: one of 23 or 25 hours at a DST
/// change); the first day with every booking, each day with its slots, seats and a summary. Reads: the
/// slots of the whole range (paged), the first day's bookings.
pub async fn schedule(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let provider: ProviderId = super::path_id(&req, "providerId")?;
    let mut q = Query::of(&req);
    let (date, days) = date_and_days(&mut q);
    let zone_name: Option<String> = q
        .optional::<ZoneName>("timeZone", &InvalidZone.to_string())
        .map(|z| z.to_string());
    let date = q.finish_with(date)?.date();
    if !who.may_act_for_provider(provider) {
        return Err(ApiError::forbidden(
            "only the provider, staff or an admin may see the provider's schedule",
        ));
    }
    let zone_name = match zone_name {
        Some(z) => z,
        None => ctx
            .store
            .provider_time_zone(provider)
            .await?
            .ok_or_else(|| {
                ApiError::field(
                    "timeZone",
                    "is required: no time zone is stored for this provider",
                )
            })?,
    };
    let zone = jiff::tz::TimeZone::get(&zone_name)
        .map_err(|_| ApiError::field("timeZone", "the stored time zone is unknown"))?;
    let (dates, starts) = local_days(date, days, &zone)?;
    let (from, to) = (starts[0], starts[starts.len() - 1]);
    let first_end = starts[1];
    let slots = ctx.store.slots_between(provider, from, to).await?;
    let appointments = ctx.store.bookings(provider, from, first_end).await?;
    let local = |t: UtcTime| t.timestamp().to_zoned(zone.clone()).datetime().to_string();
    let first: Vec<&Slot> = slots.iter().filter(|s| s.start_time < first_end).collect();
    let summary = ScheduleSummary::of(first.iter().copied());
    let rows: Vec<ScheduleRow> = first
        .iter()
        .map(|slot| ScheduleRow {
            slot: SlotView::of(slot),
            local_start_time: local(slot.start_time),
            local_end_time: local(slot.end_time),
            bookings: appointments
                .iter()
                .filter(|a| a.takes(slot.id) && a.status.was_due())
                .map(|a| ScheduledBooking {
                    appointment_id: a.id,
                    patient_id: a.patient_id,
                    status: a.status,
                })
                .collect(),
        })
        .collect();
    let by_day = schedule_days(&dates, &starts, &slots, &zone, SlotView::of);
    Ok(json(
        200,
        &Schedule {
            provider_id: provider,
            date,
            time_zone: zone_name,
            slots: rows,
            summary,
            days: by_day,
        },
    ))
}

/// A day view's `date` (required) and `days` (1 to 31, default 1), each error named in `q`.
pub(super) fn date_and_days(q: &mut Query) -> (Option<Day>, i64) {
    let date: Option<Day> =
        q.required("date", "must be a date such as 2027-03-14, in 2000 to 2099");
    let days: i64 = q
        .optional("days", "must be a whole number from 1 to 31")
        .unwrap_or(1);
    if !(1..=31).contains(&days) {
        q.fail("days", "must be a whole number from 1 to 31");
    }
    (date, days)
}

/// The local days asked for (`days` from `date` in `zone`: one of 23 or 25 hours at a DST change) and
/// where each begins, then where the last ends (one more start than dates).
pub(super) fn local_days(
    date: jiff::civil::Date,
    days: i64,
    zone: &jiff::tz::TimeZone,
) -> Result<(Vec<jiff::civil::Date>, Vec<UtcTime>), ApiError> {
    let bound = |d: jiff::civil::Date| {
        d.to_zoned(zone.clone())
            .map(|z| UtcTime::from_timestamp(z.timestamp()))
            .ok()
    };
    let dates: Vec<jiff::civil::Date> = (0..=days)
        .map_while(|i| date.checked_add(jiff::Span::new().days(i)).ok())
        .collect();
    let starts: Option<Vec<UtcTime>> = dates.iter().map(|d| bound(*d)).collect();
    let Some(starts) = starts.filter(|s| s.len() == dates.len() && s.len() > 1) else {
        return Err(ApiError::field("date", "is out of range"));
    };
    Ok((dates, starts))
}

/// Each local day (`dates`, beginning at `starts`) with the `slots` starting in it, shown by `view`,
/// and its summary.
pub(super) fn schedule_days(
    dates: &[jiff::civil::Date],
    starts: &[UtcTime],
    slots: &[Slot],
    zone: &jiff::tz::TimeZone,
    view: impl Fn(&Slot) -> SlotView,
) -> Vec<ScheduleDay> {
    let local = |t: UtcTime| t.timestamp().to_zoned(zone.clone()).datetime().to_string();
    dates
        .iter()
        .zip(starts.windows(2))
        .map(|(d, w)| {
            let of_day: Vec<&Slot> = slots
                .iter()
                .filter(|s| w[0] <= s.start_time && s.start_time < w[1])
                .collect();
            ScheduleDay {
                date: *d,
                summary: ScheduleSummary::of(of_day.iter().copied()),
                slots: of_day
                    .iter()
                    .map(|slot| DaySlot {
                        slot: view(slot),
                        local_start_time: local(slot.start_time),
                        local_end_time: local(slot.end_time),
                    })
                    .collect(),
            }
        })
        .collect()
}
