//! `POST /waitlist`, `GET /waitlist`, `GET /waitlist/{id}`, `DELETE /waitlist/{id}`,
//! `POST /waitlist/{id}/accept`, `POST /waitlist/{id}/decline` (DESIGN.md section 11).
//!
//! A patient joins and answers for themself; staff and admins for anyone, and only they set a
//! priority. A provider sees and may remove entries of their own queue. Whoever may not see an entry
//! is told it does not exist.

use serde::Deserialize;
use uuid::Uuid;

use super::views::Page;
use super::{caller, json, json_body, path_id, ApiError, Checks, Ctx, Query, Reply, Request};
use crate::domain::waitlist::Ending;
use crate::domain::waitlist::{problems, Entry, EntryStatus, Window};
use crate::domain::{Caller, ConsultationType, Day, EntryId, PatientId, ProviderId, Role};
use crate::store::lists::Owner;
use crate::store::waitlist::{Acceptance, Accepted, Queue, WaitlistError, WaitlistQuery};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinBody {
    provider_id: ProviderId,
    patient_id: Option<PatientId>,
    appointment_type_id: Option<Uuid>,
    /// In the provider's zone; today or later.
    preferred_date: Day,
    /// At most 6 windows of the day, `HH:MM` to `HH:MM` in the provider's zone; none: any time.
    preferred_time_slots: Option<Vec<Window>>,
    /// 0 to 10, higher first; staff and admins only.
    priority: Option<u8>,
    notes: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptBody {
    consultation_type: Option<ConsultationType>,
    reason_for_visit: Option<String>,
}

/// Whether `who` may see the entry at all (else it "does not exist" for them).
fn visible(who: &Caller, e: &Entry) -> Result<(), WaitlistError> {
    if e.may_be_seen_by(who) {
        Ok(())
    } else {
        Err(WaitlistError::NotFound)
    }
}

/// Whether `who` may answer the entry's offer: its patient, staff and admins.
fn may_answer(who: &Caller, e: &Entry) -> Result<(), WaitlistError> {
    visible(who, e)?;
    if who.is_staff() || who.is_patient(e.patient_id) {
        Ok(())
    } else {
        Err(WaitlistError::NotAllowed(
            "only the patient, staff or an admin answers an offer",
        ))
    }
}

/// `POST /waitlist`: one GetItem (the provider's zone; a one-item Query when they have no profile), one
/// more with a type (its length), and one transaction (the entry and the patient's claim on that
/// provider and date, the type checked).
pub async fn join(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: JoinBody = json_body(&req)?;
    let mut checks = Checks::default();
    checks.text(&body.notes, "notes", 1000);
    checks.check(
        body.patient_id.is_some() || who.has(Role::Patient),
        "patientId",
        "is required when adding a patient to a waitlist",
    );
    checks.finish()?;
    let patient = body.patient_id.unwrap_or(PatientId::from_uuid(who.id));
    super::for_patient(&who, patient, "join a waitlist")?;
    if body.priority.is_some() && !who.is_staff() {
        return Err(ApiError::forbidden(
            "only staff or an admin sets a priority",
        ));
    }
    let zone = ctx
        .store
        .known_provider_zone(body.provider_id)
        .await?
        .ok_or_else(|| ApiError::not_found("provider"))?;
    // The type's length, so that only slots long enough are offered (one GetItem more with a type;
    // the transaction still checks it is active when the entry is put).
    let visit_minutes = match body.appointment_type_id {
        None => None,
        Some(t) => Some(
            ctx.store
                .appointment_type(t)
                .await?
                .ok_or_else(|| ApiError::not_found("appointment type"))?
                .duration_minutes,
        ),
    };
    let now = ctx.now();
    let mut entry = Entry::waiting(patient, body.provider_id, body.preferred_date, now);
    entry.appointment_type_id = body.appointment_type_id;
    entry.visit_minutes = visit_minutes;
    entry.preferred_time_slots = body.preferred_time_slots.unwrap_or_default();
    entry.priority = body.priority.unwrap_or(0);
    entry.notes = body.notes.map(|n| n.trim().to_owned());
    let today = now.timestamp().to_zoned(zone).date();
    ApiError::unless(problems(&entry.wish(), today))?;
    ctx.store.join_waitlist(&entry).await?;
    tracing::info!(entry_id = %entry.id, provider_id = %entry.provider_id, "joined the waitlist");
    Ok(super::created(
        201,
        &entry,
        format!("/waitlist/{}", entry.id),
        false,
    ))
}

/// `GET /waitlist`: a patient's own entries (oldest first), a provider's own queue (by date, then
/// priority, then age); staff and admins name a patient or a provider. One Query per page.
pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let mut q = Query::of(&req);
    let patient: Option<PatientId> = q.optional("patientId", "must be a UUID");
    let provider: Option<ProviderId> = q.optional("providerId", "must be a UUID");
    let date: Option<Day> = q.optional("date", "must be a date such as 2027-03-14");
    let statuses = match q.text("status") {
        None => vec![],
        Some(raw) => {
            let parsed: Result<Vec<EntryStatus>, _> = raw
                .split(',')
                .map(|s| serde_json::from_value(serde_json::Value::String(s.trim().to_owned())))
                .collect();
            match parsed {
                Ok(mut list) => {
                    list.sort_by_key(|s| s.as_str());
                    list.dedup();
                    list
                }
                Err(_) => {
                    q.fail("status", "must be one or more of waiting, offered, accepted, declined, expired, cancelled, separated by commas");
                    vec![]
                }
            }
        }
    };
    let limit = super::lists::limit(&mut q, 20);
    let cursor = q.text("cursor");
    q.finish()?;
    let (owner, with) = super::lists::owner(&who, patient, provider)?;
    let queue = match owner {
        Owner::Patient(p) => Queue::Patient(p),
        Owner::Provider(p) => Queue::Provider(p, date.map(Day::date)),
    };
    if date.is_some() && matches!(queue, Queue::Patient(_)) {
        return Err(ApiError::field(
            "date",
            "narrows a provider's queue; a patient's list has no date filter",
        ));
    }
    let query = WaitlistQuery {
        queue,
        statuses,
        with,
        limit,
    };
    let start = cursor
        .map(|c| query.range().cursor(&ctx.store.cursors, c))
        .transpose()
        .map_err(|e| ApiError::field("cursor", e.to_string()))?;
    let page = ctx.store.list_waitlist(&query, start).await?;
    Ok(json(200, &Page::from(page)))
}

/// `GET /waitlist/{id}`: one GetItem.
pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: EntryId = path_id(&req, "id")?;
    let entry = ctx
        .store
        .waitlist_entry(id)
        .await?
        .ok_or(WaitlistError::NotFound)?;
    visible(&who, &entry)?;
    Ok(json(200, &entry))
}

/// `DELETE /waitlist/{id}`: the entry `cancelled` and a held seat given back (it goes to the next
/// entry); cancelling a cancelled entry answers it again. One GetItem, one transaction.
pub async fn cancel(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: EntryId = path_id(&req, "id")?;
    let may = |e: &Entry| visible(&who, e);
    let entry = ctx
        .store
        .end_entry(id, Ending::Cancel, &may, ctx.now())
        .await?;
    tracing::info!(entry_id = %id, "waitlist entry cancelled");
    Ok(json(200, &entry))
}

/// `POST /waitlist/{id}/decline`: the held seat given back and offered to the next entry.
pub async fn decline(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: EntryId = path_id(&req, "id")?;
    let may = |e: &Entry| may_answer(&who, e);
    let entry = ctx
        .store
        .end_entry(id, Ending::Decline, &may, ctx.now())
        .await?;
    tracing::info!(entry_id = %id, "waitlist offer declined");
    Ok(json(200, &entry))
}

/// `POST /waitlist/{id}/accept`: 201 with the appointment in the held seat, booked in one transaction
/// while the offer stands (the patient's overlap and active-appointment rules apply as for a booking).
/// Three requests. A retry after success answers the same appointment (200).
pub async fn accept(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: EntryId = path_id(&req, "id")?;
    let body: AcceptBody = super::json_body_or_default(&req)?;
    let mut checks = Checks::default();
    checks.text(&body.reason_for_visit, "reasonForVisit", 1000);
    checks.finish()?;
    let asked = Acceptance {
        caller: who.id,
        consultation_type: body.consultation_type,
        reason_for_visit: body.reason_for_visit.map(|r| r.trim().to_owned()),
        max_active: ctx.config.max_active_per_patient,
    };
    let may = |e: &Entry| may_answer(&who, e);
    let (appointment, status) = match ctx.store.accept_offer(id, &asked, &may, ctx.now()).await? {
        Accepted::New(a) => (a, 201),
        Accepted::Replayed(a) => (a, 200),
    };
    tracing::info!(entry_id = %id, appointment_id = %appointment.id, "waitlist offer accepted");
    crate::metrics::outcome(if status == 201 { "booked" } else { "replayed" });
    crate::metrics::count("OffersAccepted", u64::from(status == 201));
    // A repeat answers 200, not `idempotent-replayed`: the accept itself is the key.
    Ok(super::created(
        status,
        &appointment.clone().as_seen_by(&who),
        format!("/appointments/{}", appointment.id),
        false,
    ))
}
