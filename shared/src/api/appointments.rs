//! `POST /appointments`, `GET /appointments/{id}`, `POST /appointments/{id}/cancel`.

use serde::Deserialize;
use uuid::Uuid;

use super::{caller, json, json_body, path_id, ApiError, Checks, Ctx, Reply, Request};
use crate::domain::lifecycle::Action;
use crate::domain::{
    AppointmentId, Caller, ConsultationType, HoldId, PatientId, ProviderId, Role, SlotId,
};
use crate::store::booking::{Booked, NewBooking};
use crate::store::idempotency::{IdempotencyKey, InvalidKey};
use crate::store::reschedule::Move;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookBody {
    /// Required unless `holdId` names the seat.
    slot_id: Option<SlotId>,
    /// Book the seat this hold keeps (`POST /holds`), for the hold's patient.
    hold_id: Option<HoldId>,
    patient_id: Option<PatientId>,
    appointment_type_id: Option<Uuid>,
    consultation_type: Option<ConsultationType>,
    reason_for_visit: Option<String>,
    symptoms: Option<Vec<String>>,
    chief_complaint: Option<String>,
    #[serde(default)]
    is_overbook: bool,
}

/// The request's `Idempotency-Key`, if it sent one (`store::idempotency::IdempotencyKey`).
pub(super) fn idempotency_key(req: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    raw.to_str()
        .map_err(|_| InvalidKey)
        .and_then(IdempotencyKey::try_from)
        .map(Some)
        .map_err(|e| ApiError::field("Idempotency-Key", e.to_string()))
}

/// `POST /appointments`: a patient books a seat for themself; staff and admins book for any patient.
pub async fn book(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: BookBody = json_body(&req)?;
    let key = idempotency_key(&req)?;
    let symptoms = body.symptoms.unwrap_or_default();
    let mut checks = Checks::default();
    checks.text(&body.reason_for_visit, "reasonForVisit", 1000);
    checks.text(&body.chief_complaint, "chiefComplaint", 500);
    checks.check(symptoms.len() <= 20, "symptoms", "at most 20 symptoms");
    checks.check(
        symptoms
            .iter()
            .all(|s| !s.trim().is_empty() && s.chars().count() <= 200),
        "symptoms",
        "each symptom must be 1 to 200 characters",
    );
    checks.check(
        !symptoms
            .iter()
            .any(|s| crate::domain::text::has_forbidden(s)),
        "symptoms",
        crate::domain::text::FORBIDDEN,
    );
    checks.check(
        body.patient_id.is_some()
            || body.hold_id.is_some()
            || who.has(crate::domain::Role::Patient),
        "patientId",
        "missing: staff name the patient they book for (or book a holdId)",
    );
    checks.check(
        body.slot_id.is_some() || body.hold_id.is_some(),
        "slotId",
        "missing: name the seat by slotId or holdId",
    );
    checks.check(
        !(body.is_overbook && body.hold_id.is_some()),
        "isOverbook",
        "a held seat is already counted; it cannot be overbooked",
    );
    checks.finish()?;
    // A hold names the seat, the patient, and what it was held for: one consistent GetItem.
    let held = match body.hold_id {
        None => None,
        Some(id) => Some(
            ctx.store
                .hold(id)
                .await?
                .filter(|h| h.may_be_seen_by(&who))
                .filter(|h| body.patient_id.is_none_or(|p| p == h.patient_id))
                .ok_or_else(|| ApiError::not_found("hold"))?,
        ),
    };
    let mut checks = Checks::default();
    if let Some(h) = &held {
        let kept = "differs from what the hold keeps";
        checks.check(body.slot_id.is_none_or(|s| s == h.slot_id), "slotId", kept);
        checks.check(
            body.appointment_type_id
                .is_none_or(|t| Some(t) == h.appointment_type_id),
            "appointmentTypeId",
            kept,
        );
        checks.check(
            body.consultation_type
                .is_none_or(|c| c == h.consultation_type),
            "consultationType",
            kept,
        );
    }
    checks.finish()?;
    let patient = held
        .as_ref()
        .map(|h| h.patient_id)
        .or(body.patient_id)
        .unwrap_or(PatientId::from_uuid(who.id));
    super::for_patient(&who, patient, "book")?;
    if body.is_overbook && !who.is_staff() {
        return Err(ApiError::forbidden("only staff or an admin may overbook"));
    }
    let booking = NewBooking {
        caller: who.id,
        idempotency_key: key,
        slot_id: held
            .as_ref()
            .map(|h| h.slot_id)
            .or(body.slot_id)
            .ok_or_else(|| {
                ApiError::field("slotId", "missing: name the seat by slotId or holdId")
            })?,
        patient_id: patient,
        consultation_type: held
            .as_ref()
            .map(|h| h.consultation_type)
            .or(body.consultation_type),
        appointment_type_id: held
            .as_ref()
            .and_then(|h| h.appointment_type_id)
            .or(body.appointment_type_id),
        hold_id: held.as_ref().map(|h| h.id),
        overbook: body.is_overbook,
        reason_for_visit: body.reason_for_visit,
        symptoms,
        chief_complaint: body.chief_complaint,
        max_active: ctx.config.max_active_per_patient,
    };
    let (appointment, replayed) = match ctx.store.book(&booking, ctx.now()).await? {
        Booked::New(a) => (a, false),
        Booked::Replayed(a) => (a, true),
    };
    tracing::info!(appointment_id = %appointment.id, slot_id = %appointment.slot_id, replayed, "appointment booked");
    crate::metrics::outcome(if replayed { "replayed" } else { "booked" });
    Ok(super::created(
        201,
        &appointment.clone().as_seen_by(&who),
        format!("/appointments/{}", appointment.id),
        replayed,
    ))
}

/// `GET /appointments/{id}`: one GetItem. Someone who may not see it is told it does not exist.
pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: AppointmentId = path_id(&req, "id")?;
    let appointment = ctx
        .store
        .appointment(id)
        .await?
        .filter(|a| who.may_read(a.patient_id, a.provider_id))
        .ok_or_else(|| ApiError::not_found("appointment"))?;
    Ok(json(200, &appointment.as_seen_by(&who)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelBody {
    pub(crate) reason: String,
}

/// `POST /appointments/{id}/cancel`: the patient, the provider, staff or an admin cancels a scheduled or
/// confirmed appointment; the seat and the patient's time are freed in the same transaction.
pub async fn cancel(ctx: &Ctx, req: Request) -> Reply {
    let (who, id, reason) = ending(ctx, &req)?;
    cancel_as(ctx, &who, id, &reason).await
}

/// Who ends which appointment, and why: the caller, the path's id and the body's `reason` (1 to 500
/// characters, trimmed).
fn ending(ctx: &Ctx, req: &Request) -> Result<(Caller, AppointmentId, String), ApiError> {
    let who = caller(ctx, req)?;
    let id: AppointmentId = path_id(req, "id")?;
    let body: CancelBody = json_body(req)?;
    let mut checks = Checks::default();
    checks.text(&Some(body.reason.clone()), "reason", 500);
    checks.finish()?;
    Ok((who, id, body.reason.trim().to_owned()))
}

/// `POST /appointments/{id}/decline` {reason}: the provider (staff, an admin) turns down a pending
/// request: `cancelled` with `declined`, never late, its seat and the patient's time freed in the same
/// transaction (the seat then goes to the waitlist).
pub async fn decline(ctx: &Ctx, req: Request) -> Reply {
    let (who, id, reason) = ending(ctx, &req)?;
    let declined = ctx
        .store
        .decline(id, &who, &reason, ctx.config.check_in, ctx.now())
        .await?;
    tracing::info!(appointment_id = %id, "request declined");
    Ok(json(200, &declined.as_seen_by(&who)))
}

/// Cancels for `who` (the store reads, checks the rules and retries).
pub(crate) async fn cancel_as(ctx: &Ctx, who: &Caller, id: AppointmentId, reason: &str) -> Reply {
    let cancelled = ctx
        .store
        .cancel(
            id,
            who,
            reason,
            ctx.config.late_cancellation_window,
            ctx.config.check_in,
            ctx.now(),
        )
        .await?;
    tracing::info!(appointment_id = %id, late = cancelled.late_cancellation, "appointment cancelled");
    Ok(json(200, &cancelled.as_seen_by(who)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RescheduleBody {
    new_slot_id: SlotId,
    reason: Option<String>,
}

/// `POST /appointments/{id}/reschedule`: a scheduled or confirmed appointment moves to a seat of another
/// slot in one transaction; 201 with the new appointment. Three requests.
pub async fn reschedule(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: AppointmentId = path_id(&req, "id")?;
    let body: RescheduleBody = json_body(&req)?;
    let mut checks = Checks::default();
    checks.text(&body.reason, "reason", 500);
    checks.finish()?;
    let to = Move {
        slot: body.new_slot_id,
        reason: body.reason.as_deref().map(str::trim),
        own_slots_of: (who.has(Role::Provider) && !who.is_staff())
            .then(|| ProviderId::from_uuid(who.id)),
        before_end: Action::Reschedule.only_before_end(&who),
    };
    let moved = ctx
        .store
        .reschedule(id, &who, &to, ctx.config.check_in, ctx.now())
        .await?;
    tracing::info!(appointment_id = %moved.id, from = %id, "appointment rescheduled");
    crate::metrics::outcome("booked");
    let location = format!("/appointments/{}", moved.id);
    Ok(super::created(
        201,
        &moved.as_seen_by(&who),
        location,
        false,
    ))
}
