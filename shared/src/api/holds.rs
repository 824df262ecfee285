//! `POST /holds`, `GET /holds/{id}`, `DELETE /holds/{id}` (DESIGN.md section 16): a seat kept for a
//! patient for `HoldTtlSeconds` while they finish (intake, insurance, payment elsewhere), then booked
//! with `POST /appointments {holdId}`.
//!
//! A patient holds for themself; staff and admins for anyone. Whoever may not see a hold (another
//! patient, a provider) is told it does not exist.

use serde::Deserialize;
use uuid::Uuid;

use super::{caller, json, json_body, path_id, Ctx, Reply, Request};
use crate::domain::hold::Hold;
use crate::domain::{ConsultationType, HoldId, PatientId, Role, SlotId};
use crate::store::booking::BookingError;
use crate::store::holds::NewHold;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldBody {
    slot_id: SlotId,
    /// Required for staff and admins; a patient holds for themself.
    patient_id: Option<PatientId>,
    appointment_type_id: Option<Uuid>,
    consultation_type: Option<ConsultationType>,
}

/// Whether `who` may see the hold, else "not found".
fn visible(who: &crate::domain::Caller, h: &Hold) -> Result<(), BookingError> {
    if h.may_be_seen_by(who) {
        Ok(())
    } else {
        Err(BookingError::HoldNotFound)
    }
}

/// `POST /holds`: 201 with the hold. Every rule of booking is checked now (the slot open with a free
/// seat, the type and consultation admitted, the patient's time free, the provider's notice, horizon
/// and daily limit); the seat is then counted as taken until the hold ends. At most
/// `MaxHoldsPerPatient` live holds a patient. Three requests (four for a provider with a daily limit).
pub async fn create(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: HoldBody = json_body(&req)?;
    let mut checks = super::Checks::default();
    checks.check(
        body.patient_id.is_some() || who.has(Role::Patient),
        "patientId",
        "is required when holding a seat for a patient",
    );
    checks.finish()?;
    let patient = body.patient_id.unwrap_or(PatientId::from_uuid(who.id));
    super::for_patient(&who, patient, "hold a seat")?;
    let asked = NewHold {
        caller: who.id,
        slot_id: body.slot_id,
        patient_id: patient,
        appointment_type_id: body.appointment_type_id,
        consultation_type: body.consultation_type,
        ttl: ctx.config.hold_ttl,
        max_holds: ctx.config.max_holds_per_patient,
        max_active: ctx.config.max_active_per_patient,
    };
    let held = ctx.store.create_hold(&asked, ctx.now()).await?;
    tracing::info!(hold_id = %held.id, slot_id = %held.slot_id, expires_at = %held.expires_at, "seat held");
    crate::metrics::count("HoldsCreated", 1);
    Ok(super::created(
        201,
        &held,
        format!("/holds/{}", held.id),
        false,
    ))
}

/// `GET /holds/{id}`: one GetItem.
pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: HoldId = path_id(&req, "id")?;
    let found = ctx
        .store
        .hold(id)
        .await?
        .ok_or(BookingError::HoldNotFound)?;
    visible(&who, &found)?;
    Ok(json(200, &found))
}

/// `DELETE /holds/{id}`: the seat given back at once (and offered to the waitlist as any freed seat
/// is), the hold `released`; one already ended answers as it is, one booked is 409 `hold_ended`. One
/// GetItem and one transaction.
pub async fn release(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: HoldId = path_id(&req, "id")?;
    let may = |h: &Hold| visible(&who, h);
    let ended = ctx.store.release_hold(id, &may, ctx.now()).await?;
    tracing::info!(hold_id = %id, status = ended.status.as_str(), "hold released");
    Ok(json(200, &ended))
}
