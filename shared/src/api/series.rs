//! `POST /appointments/recurring`, `GET /recurring/{id}`, `POST /recurring/{id}/cancel`.

use serde::Deserialize;
use uuid::Uuid;

use super::appointments::{cancel_as, CancelBody};
use super::views::SeriesView;
use super::{caller, json, json_body, path_id, ApiError, Checks, Code, Ctx, Reply, Request};
use crate::domain::series::{Frequency, MAX_OCCURRENCES};
use crate::domain::{
    Appointment, AppointmentStatus, Caller, ConsultationType, PatientId, Role, SlotId,
};
use crate::store::series::{NewSeries, Series};
use crate::store::Store;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesBody {
    /// The first occurrence's slot; later ones are the provider's slots at the same local time.
    slot_id: SlotId,
    patient_id: Option<PatientId>,
    frequency: Frequency,
    /// 2 to 26 occurrences; or `until`.
    count: Option<usize>,
    /// The last date an occurrence may fall on (at most 26 occurrences).
    until: Option<jiff::civil::Date>,
    appointment_type_id: Option<Uuid>,
    consultation_type: Option<ConsultationType>,
    reason_for_visit: Option<String>,
    /// Book what can be booked and list the rest (default: all or nothing).
    #[serde(default)]
    partial: bool,
}

/// `POST /appointments/recurring`: a patient books a series for themself (staff and admins for
/// anyone): each occurrence in one transaction. 201 with the series and its appointments.
pub async fn book(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: SeriesBody = json_body(&req)?;
    let mut checks = Checks::default();
    checks.text(&body.reason_for_visit, "reasonForVisit", 1000);
    checks.check(
        body.count.is_some() != body.until.is_some(),
        "count",
        "give count or until, not both",
    );
    checks.check(
        body.count
            .is_none_or(|c| (2..=MAX_OCCURRENCES).contains(&c)),
        "count",
        "must be 2 to 26",
    );
    checks.check(
        body.patient_id.is_some() || who.has(Role::Patient),
        "patientId",
        "is required when booking for a patient",
    );
    checks.finish()?;
    let key = super::appointments::idempotency_key(&req)?;
    let patient = body.patient_id.unwrap_or(PatientId::from_uuid(who.id));
    super::for_patient(&who, patient, "book")?;
    let asked = NewSeries {
        caller: who.id,
        idempotency_key: key,
        first_slot: body.slot_id,
        patient_id: patient,
        frequency: body.frequency,
        count: body.count,
        until: body.until,
        appointment_type_id: body.appointment_type_id,
        consultation_type: body.consultation_type,
        reason_for_visit: body.reason_for_visit.map(|r| r.trim().to_owned()),
        partial: body.partial,
        max_active: ctx.config.max_active_per_patient,
    };
    let (series, appointments, replayed) = ctx.store.book_series(&asked, ctx.now()).await?;
    tracing::info!(series_id = %series.id, booked = appointments.len(), skipped = series.skipped.len(), replayed, "series booked");
    crate::metrics::outcome(if replayed { "replayed" } else { "booked" });
    crate::metrics::count("SeriesOccurrencesBooked", appointments.len() as u64);
    let location = format!("/recurring/{}", series.id);
    Ok(super::created(
        201,
        &view(&who, series, appointments),
        location,
        replayed,
    ))
}

fn view(who: &Caller, series: Series, appointments: Vec<Appointment>) -> SeriesView {
    SeriesView {
        series,
        appointments: appointments
            .into_iter()
            .map(|a| a.as_seen_by(who))
            .collect(),
    }
}

/// The series `id` and its appointments, if `who` may see them (else "not found").
async fn read(
    store: &Store,
    who: &Caller,
    id: Uuid,
) -> Result<(Series, Vec<Appointment>), ApiError> {
    let series = store
        .series(id)
        .await?
        .filter(|s| who.may_read(s.patient_id, s.provider_id))
        .ok_or_else(|| ApiError::not_found("series"))?;
    let appointments = store.appointments_by_id(&series.appointment_ids).await?;
    Ok((series, appointments))
}

/// `GET /recurring/{id}`: one GetItem and one BatchGetItem.
pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: Uuid = path_id(&req, "id")?;
    let (series, appointments) = read(&ctx.store, &who, id).await?;
    Ok(json(200, &view(&who, series, appointments)))
}

/// `POST /recurring/{id}/cancel` {reason}: every future scheduled or confirmed occurrence cancelled,
/// each as `POST /appointments/{id}/cancel` would (its seat freed, its reminders deleted, its seat
/// offered to the waitlist); the series as it ends up.
pub async fn cancel(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: Uuid = path_id(&req, "id")?;
    let body: CancelBody = json_body(&req)?;
    let mut checks = Checks::default();
    checks.text(&Some(body.reason.clone()), "reason", 500);
    checks.finish()?;
    let (_, appointments) = read(&ctx.store, &who, id).await?;
    let now = ctx.now();
    for a in appointments.iter().filter(|a| {
        matches!(
            a.status,
            AppointmentStatus::Pending
                | AppointmentStatus::Scheduled
                | AppointmentStatus::Confirmed
        ) && a.start_time > now
    }) {
        if let Err(e) = cancel_as(ctx, &who, a.id, body.reason.trim()).await {
            // One cancelled meanwhile is cancelled all the same; anything else stops here.
            if e.code != Code::InvalidTransition {
                return Err(e);
            }
        }
    }
    let (series, appointments) = read(&ctx.store, &who, id).await?;
    tracing::info!(series_id = %id, "series cancelled");
    Ok(json(200, &view(&who, series, appointments)))
}
