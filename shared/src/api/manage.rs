//! Manage links (issue 23, section 3; DESIGN.md section 18), without a JWT: `GET /manage/{token}`,
//! `POST /manage/{token}/cancel`, `POST /manage/{token}/reschedule` and `GET /manage/{token}/options`.
//! The token (`domain::manage`) is the credential: it opens one standing appointment, and acts as its
//! patient, under exactly the patient's rules (the store's, as for a signed-in patient). It shows the
//! visit's time, provider, type, consultation type and place, nothing more. Anything that is not a
//! live token of ours (tampered, expired, for a visit cancelled or moved, or used up) is 404. The
//! token never reaches a log.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{json, json_body_or_default, ApiError, Checks, Ctx, Reply, Request};
use crate::domain::lifecycle::Action;
use crate::domain::location::Address;
use crate::domain::{
    manage, Appointment, AppointmentStatus, Caller, ConsultationType, Role, SlotId, UtcTime,
};
use crate::store::reschedule::Move;

/// How far ahead the options reach.
const OPTIONS_DAYS: i64 = 14;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Provider {
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitType {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Place {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
    #[serde(rename = "virtual")]
    is_virtual: bool,
}

/// A visit as its manage link shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Visit {
    status: AppointmentStatus,
    start_time: UtcTime,
    end_time: UtcTime,
    provider: Provider,
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment_type: Option<VisitType>,
    consultation_type: ConsultationType,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Place>,
    /// After a cancellation: whether it was late (the provider's terms may ask a fee).
    #[serde(skip_serializing_if = "Option::is_none")]
    late_cancellation: Option<bool>,
    /// After a reschedule: the new visit's link (this one's no longer opens).
    #[serde(skip_serializing_if = "Option::is_none")]
    manage_url: Option<String>,
}

/// An open seat a visit may move to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OptionSeat {
    slot_id: SlotId,
    start_time: UtcTime,
    end_time: UtcTime,
}

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Options {
    /// The provider's open seats that admit the visit's type, the coming 14 days, soonest first (at
    /// most 50).
    data: Vec<OptionSeat>,
}

fn gone() -> ApiError {
    ApiError::not_found("visit")
}

/// The standing appointment a request's token opens, and its patient as the caller.
async fn opened(ctx: &Ctx, req: &Request) -> Result<(Appointment, Caller), ApiError> {
    use lambda_http::RequestExt;
    let token = req
        .path_parameters_ref()
        .and_then(|p| p.first("token"))
        .unwrap_or_default()
        .to_owned();
    let keys = ctx.config.manage.keys.as_ref().ok_or_else(gone)?;
    let id = keys.open(&token, ctx.now()).ok_or_else(gone)?;
    let a = ctx
        .store
        .appointment(id)
        .await?
        .filter(|a| manage::opens(a.status))
        .ok_or_else(gone)?;
    let who = Caller {
        id: a.patient_id.uuid(),
        roles: vec![Role::Patient],
    };
    Ok((a, who))
}

/// What the link shows of `a`: its provider's display name, its type's name and its slot's location
/// read at once (three GetItems), then the location.
async fn visit(ctx: &Ctx, a: &Appointment) -> Result<Visit, ApiError> {
    let type_of = async {
        match a.appointment_type_id {
            Some(t) => ctx.store.appointment_type(t).await,
            None => Ok(None),
        }
    };
    let (entry, kind, slot) = tokio::try_join!(
        ctx.store.provider_entry(a.provider_id),
        type_of,
        ctx.store.slot(a.slot_id)
    )?;
    let place = match slot
        .and_then(|s| s.location_id)
        .and_then(|l| l.parse::<Uuid>().ok())
    {
        Some(l) => ctx.store.location(l).await?,
        None => None,
    };
    Ok(Visit {
        status: a.status,
        start_time: a.start_time,
        end_time: a.end_time,
        provider: Provider {
            display_name: entry.map(|e| e.profile.display_name),
        },
        appointment_type: kind.map(|t| VisitType { name: t.name }),
        consultation_type: a.consultation_type,
        location: place.map(|l| Place {
            name: l.name,
            address: l.address,
            is_virtual: l.is_virtual,
        }),
        late_cancellation: None,
        manage_url: None,
    })
}

/// Every answer of a manage link: never cached, and its URL (the credential) never sent on as a
/// referrer.
fn private(mut response: lambda_http::Response<lambda_http::Body>) -> Reply {
    super::set_header(&mut response, "cache-control", "no-store");
    super::set_header(&mut response, "referrer-policy", "no-referrer");
    Ok(response)
}

/// `GET /manage/{token}`: the visit. Four or five GetItems.
pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    let (a, _) = opened(ctx, &req).await?;
    tracing::info!(appointment_id = %a.id, "manage link opened");
    private(json(200, &visit(ctx, &a).await?))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManageCancel {
    /// 1 to 500 characters.
    reason: Option<String>,
}

/// `POST /manage/{token}/cancel`: cancelled as its patient would (late cancellation flagged and its
/// fee requested under the provider's terms); the link opens nothing after.
pub async fn cancel(ctx: &Ctx, req: Request) -> Reply {
    let body: ManageCancel = json_body_or_default(&req)?;
    let mut checks = Checks::default();
    checks.text(&body.reason, "reason", 500);
    checks.finish()?;
    let (a, who) = opened(ctx, &req).await?;
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .unwrap_or("Cancelled by the patient from the manage link");
    let cancelled = ctx
        .store
        .cancel(
            a.id,
            &who,
            reason,
            ctx.config.late_cancellation_window,
            ctx.config.check_in,
            ctx.now(),
        )
        .await?;
    tracing::info!(appointment_id = %a.id, late = cancelled.late_cancellation, "appointment cancelled from its manage link");
    let mut shown = visit(ctx, &cancelled).await?;
    shown.late_cancellation = Some(cancelled.late_cancellation.unwrap_or(false));
    private(json(200, &shown))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManageReschedule {
    new_slot_id: SlotId,
}

/// `POST /manage/{token}/reschedule`: moved as its patient would move it (the provider's notice and
/// horizon, the patient's other visits); 201 with the new visit and its own link. This link opens
/// nothing after.
pub async fn reschedule(ctx: &Ctx, req: Request) -> Reply {
    let body: ManageReschedule = super::json_body(&req)?;
    let (a, who) = opened(ctx, &req).await?;
    let to = Move {
        slot: body.new_slot_id,
        reason: None,
        own_slots_of: None,
        before_end: Action::Reschedule.only_before_end(&who),
    };
    let moved = ctx
        .store
        .reschedule(a.id, &who, &to, ctx.config.check_in, ctx.now())
        .await?;
    tracing::info!(appointment_id = %moved.id, from = %a.id, "appointment rescheduled from its manage link");
    crate::metrics::outcome("booked");
    let mut shown = visit(ctx, &moved).await?;
    shown.manage_url = ctx.config.manage.url(moved.id, moved.end_time);
    private(json(201, &shown))
}

/// `GET /manage/{token}/options`: where the visit may move: the provider's open seats that admit its
/// type over the coming 14 days (at most 50, its own slot left out), as `/slots/available` finds them.
pub async fn options(ctx: &Ctx, req: Request) -> Reply {
    let (a, _) = opened(ctx, &req).await?;
    let now = ctx.now();
    let to = now.plus(jiff::SignedDuration::from_hours(24 * OPTIONS_DAYS));
    let (slots, _) = super::slots::bookable(
        ctx,
        a.provider_id,
        now,
        to,
        100,
        None,
        a.appointment_type_id,
    )
    .await?;
    let data = slots
        .into_iter()
        .filter(|s| s.id != a.slot_id)
        .take(50)
        .map(|s| OptionSeat {
            slot_id: s.id,
            start_time: s.start_time,
            end_time: s.end_time,
        })
        .collect();
    private(json(200, &Options { data }))
}
