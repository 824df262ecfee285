//! `GET /appointments`, `/appointments/upcoming`, `/appointments/history` and the no-show report.
//! A patient's list is always their own and a provider's their own; staff and admins name whose.

use jiff::SignedDuration;

use super::views::{NoShowReport, Page, PatientNoShows};
use super::{caller, json, ApiError, Bound, Ctx, Query, Reply, Request, BOUND};
use crate::domain::{Appointment, AppointmentStatus, Caller, PatientId, ProviderId, Role, UtcTime};
use crate::store::lists::{ListQuery, Owner};

const MAX_RANGE: SignedDuration = SignedDuration::from_hours(24 * 366);

/// Whose list to read, from the caller and the `patientId` / `providerId` asked for; the other one, if
/// given, narrows the list.
pub(super) fn owner(
    who: &Caller,
    patient: Option<PatientId>,
    provider: Option<ProviderId>,
) -> Result<(Owner, Option<uuid::Uuid>), ApiError> {
    if who.is_staff() {
        return match (patient, provider) {
            (Some(p), d) => Ok((Owner::Patient(p), d.map(|d| d.uuid()))),
            (None, Some(d)) => Ok((Owner::Provider(d), None)),
            (None, None) => Err(ApiError::field(
                "patientId",
                "patientId or providerId is required for staff and admins",
            )),
        };
    }
    let me = who.id;
    let as_provider = who.has(Role::Provider)
        && (provider.map(|d| d.uuid()) == Some(me) || !who.has(Role::Patient));
    if as_provider {
        if provider.is_some_and(|d| d.uuid() != me) {
            return Err(ApiError::forbidden(
                "a provider lists only their own appointments",
            ));
        }
        return Ok((
            Owner::Provider(ProviderId::from_uuid(me)),
            patient.map(|p| p.uuid()),
        ));
    }
    if who.has(Role::Patient) {
        if patient.is_some_and(|p| p.uuid() != me) {
            return Err(ApiError::forbidden(
                "a patient lists only their own appointments",
            ));
        }
        return Ok((
            Owner::Patient(PatientId::from_uuid(me)),
            provider.map(|d| d.uuid()),
        ));
    }
    Err(ApiError::forbidden("no role that has appointments"))
}

fn statuses(q: &mut Query) -> Vec<AppointmentStatus> {
    let Some(raw) = q.text("status") else {
        return vec![];
    };
    let parsed: Result<Vec<AppointmentStatus>, _> = raw
        .split(',')
        .map(|s| serde_json::from_value(serde_json::Value::String(s.trim().to_owned())))
        .collect();
    match parsed {
        // Each status once, so the filter's `IN` has at most seven operands (DynamoDB allows 100).
        Ok(list) => list.into_iter().fold(vec![], |mut unique, s| {
            if !unique.contains(&s) {
                unique.push(s);
            }
            unique
        }),
        Err(_) => {
            q.fail("status", "must be one or more of scheduled, confirmed, in_progress, completed, cancelled, no_show, rescheduled, separated by commas");
            vec![]
        }
    }
}

fn page_json(who: &Caller, items: Vec<Appointment>, next: Option<String>) -> Reply {
    let data: Vec<Appointment> = items.into_iter().map(|a| a.as_seen_by(who)).collect();
    Ok(json(
        200,
        &Page {
            data,
            next_cursor: next,
        },
    ))
}

/// `GET /appointments`: filters patientId, providerId, status, startDate..endDate; cursor paged, one
/// Query per page.
pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let mut q = Query::of(&req);
    let patient: Option<PatientId> = q.optional("patientId", "must be a UUID");
    let provider: Option<ProviderId> = q.optional("providerId", "must be a UUID");
    let statuses = statuses(&mut q);
    let from: Option<Bound> = q.optional("startDate", BOUND);
    let to: Option<Bound> = q.optional("endDate", BOUND);
    let limit = limit(&mut q, 20);
    if let (Some(f), Some(t)) = (from, to) {
        if t.end() <= f.start() {
            q.fail("endDate", "must be after startDate");
        }
    }
    let cursor = q.text("cursor");
    q.finish()?;
    let (owner, with) = owner(&who, patient, provider)?;
    let query = ListQuery {
        owner,
        from: from.map(Bound::start),
        to: to.map(Bound::end),
        statuses,
        with,
        newest_first: false,
        limit,
    };
    let start = query
        .start_key(&ctx.store.cursors, cursor)
        .map_err(|e| ApiError::field("cursor", e.to_string()))?;
    let page = ctx.store.list_appointments(&query, start).await?;
    page_json(&who, page.items, page.next)
}

pub(super) fn limit(q: &mut Query, default: i32) -> i32 {
    let limit: i32 = q
        .optional("limit", "must be a whole number from 1 to 100")
        .unwrap_or(default);
    if !(1..=100).contains(&limit) {
        q.fail("limit", "must be a whole number from 1 to 100");
    }
    limit
}

/// The caller's own list; staff and admins name a patient or provider.
fn own(req: &Request, who: &Caller) -> Result<Owner, ApiError> {
    let mut q = Query::of(req);
    let patient: Option<PatientId> = q.optional("patientId", "must be a UUID");
    let provider: Option<ProviderId> = q.optional("providerId", "must be a UUID");
    q.finish()?;
    owner(who, patient, provider).map(|(o, _)| o)
}

/// `GET /appointments/upcoming`: the next 10 scheduled or confirmed appointments, soonest first.
pub async fn upcoming(ctx: &Ctx, req: Request) -> Reply {
    const WANTED: usize = 10;
    let who = caller(ctx, &req)?;
    let owner = own(&req, &who)?;
    let query = ListQuery {
        owner,
        from: Some(ctx.now()),
        to: None,
        statuses: vec![
            AppointmentStatus::Pending,
            AppointmentStatus::Scheduled,
            AppointmentStatus::Confirmed,
        ],
        with: None,
        newest_first: false,
        limit: WANTED as i32,
    };
    // The status filter applies after the read limit, so a page can come up short: read on (bounded).
    let mut found = vec![];
    let mut start = None;
    for _ in 0..5 {
        let page = ctx.store.list_appointments(&query, start).await?;
        found.extend(page.items);
        start = match page.next {
            Some(c) if found.len() < WANTED => query
                .start_key(&ctx.store.cursors, Some(&c))
                .map_err(|e| ApiError::field("cursor", e.to_string()))?,
            _ => break,
        };
    }
    found.truncate(WANTED);
    page_json(&who, found, None)
}

/// `GET /appointments/history`: completed appointments, newest first, cursor paged.
pub async fn history(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let owner = own(&req, &who)?;
    let mut q = Query::of(&req);
    let limit = limit(&mut q, 20);
    let cursor = q.text("cursor");
    q.finish()?;
    let query = ListQuery {
        owner,
        from: None,
        to: None,
        statuses: vec![AppointmentStatus::Completed],
        with: None,
        newest_first: true,
        limit,
    };
    let start = query
        .start_key(&ctx.store.cursors, cursor)
        .map_err(|e| ApiError::field("cursor", e.to_string()))?;
    let page = ctx.store.list_appointments(&query, start).await?;
    page_json(&who, page.items, page.next)
}

/// `GET /appointments/reports/no-shows?providerId&startDate&endDate`: for the provider, staff, admins.
pub async fn no_shows(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let mut q = Query::of(&req);
    let provider: Option<ProviderId> = q.required("providerId", "must be a UUID");
    let from: Option<Bound> = q.required("startDate", BOUND);
    let to: Option<Bound> = q.required("endDate", BOUND);
    if let (Some(f), Some(t)) = (from, to) {
        if t.end() <= f.start() {
            q.fail("endDate", "must be after startDate");
        } else if f.start().until(t.end()) > MAX_RANGE {
            q.fail("endDate", "the range may span at most 366 days");
        }
    }
    let (provider, from, to) = q.finish_with((provider, from, to))?;
    let (from, to): (UtcTime, UtcTime) = (from.start(), to.end());
    if !who.may_act_for_provider(provider) {
        return Err(ApiError::forbidden(
            "only the provider, staff or an admin may see the provider's report",
        ));
    }
    let visits = ctx.store.visits(provider, from, to).await?;
    let mut by_patient: std::collections::BTreeMap<PatientId, (u32, u32)> = Default::default();
    let (mut due, mut missed) = (0u32, 0u32);
    for (patient, status) in visits {
        // Of those that were due, each was kept or missed.
        if !status.was_due() {
            continue;
        }
        let entry = by_patient.entry(patient).or_default();
        entry.0 += 1;
        due += 1;
        if status == AppointmentStatus::NoShow {
            entry.1 += 1;
            missed += 1;
        }
    }
    let mut rows: Vec<PatientNoShows> = by_patient
        .into_iter()
        .map(|(patient_id, (appointments, no_shows))| PatientNoShows {
            patient_id,
            appointments,
            no_shows,
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.no_shows));
    let rate = if due == 0 {
        0.0
    } else {
        (f64::from(missed) / f64::from(due) * 10_000.0).round() / 10_000.0
    };
    Ok(json(
        200,
        &NoShowReport {
            provider_id: provider,
            start_date: from,
            end_date: to,
            total_appointments: due,
            no_shows: missed,
            no_show_rate: rate,
            by_patient: rows,
        },
    ))
}
