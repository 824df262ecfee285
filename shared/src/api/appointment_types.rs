//! `POST /appointment-types`, `GET /appointment-types`, `GET` and `PATCH /appointment-types/{id}`.
//! Staff and admins write; everyone signed in reads.

use serde::Deserialize;
use uuid::Uuid;

use super::views::Page;
use super::{caller, json, json_body, path_id, ApiError, Checks, Ctx, Query, Reply, Request};
use crate::domain::appointment_type::distinct;
use crate::domain::{AppointmentType, Caller, ConsultationType};
use crate::store::keys::Range;

fn staff_only(who: &Caller) -> Result<(), ApiError> {
    super::staff_only(who, "manage appointment types")
}

fn valid(t: &AppointmentType) -> Result<(), ApiError> {
    ApiError::unless(t.problems())
}

fn all_consultations() -> Vec<ConsultationType> {
    vec![
        ConsultationType::InPerson,
        ConsultationType::Video,
        ConsultationType::Phone,
    ]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewType {
    name: String,
    duration_minutes: u32,
    #[serde(default)]
    consultation_fee: f64,
    consultation_types: Option<Vec<ConsultationType>>,
    #[serde(default = "yes")]
    is_active: bool,
    description: Option<String>,
    /// Bookings of it are requests (`pending`) until the provider confirms (default false).
    #[serde(default)]
    requires_confirmation: bool,
    /// 1 to 168 (default 24): how long a request waits for the provider's answer.
    confirmation_deadline_hours: Option<u32>,
}

fn yes() -> bool {
    true
}

pub async fn create(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    // Who may is known from the token alone: nothing of the body is read for anyone else.
    staff_only(&who)?;
    let body: NewType = json_body(&req)?;
    let now = ctx.now();
    let kinds = body.consultation_types.unwrap_or_else(all_consultations);
    let mut t = AppointmentType::new(&body.name, body.duration_minutes, kinds, now);
    t.consultation_fee = body.consultation_fee;
    t.is_active = body.is_active;
    t.description = body.description;
    t.requires_confirmation = body.requires_confirmation;
    t.confirmation_deadline_hours = body.confirmation_deadline_hours;
    valid(&t)?;
    ctx.store.put_type(&t).await?;
    let location = format!("/appointment-types/{}", t.id);
    Ok(super::created(201, &t, location, false))
}

pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let (active, limit, start) = by_name(ctx, &req, Range::types_by_name())?;
    let page = ctx.store.list_types(active, limit, start).await?;
    Ok(json(200, &Page::from(page)))
}

/// A by-name list's query (`active`, `limit` 1 to 100, default 100, `cursor` checked against `range`).
pub(super) fn by_name(
    ctx: &Ctx,
    req: &Request,
    range: Range,
) -> Result<(bool, i32, Option<crate::store::Item>), ApiError> {
    let mut q = Query::of(req);
    let active: Option<bool> = q.optional("active", "must be true or false");
    let limit: i32 = q
        .optional("limit", "must be a whole number from 1 to 100")
        .unwrap_or(100);
    if !(1..=100).contains(&limit) {
        q.fail("limit", "must be a whole number from 1 to 100");
    }
    let cursor = q.text("cursor");
    q.finish()?;
    let start = cursor
        .map(|c| range.cursor(&ctx.store.cursors, c))
        .transpose()
        .map_err(|e| ApiError::field("cursor", e.to_string()))?;
    Ok((active.unwrap_or(false), limit, start))
}

pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let id: Uuid = path_id(&req, "id")?;
    let t = ctx
        .store
        .appointment_type(id)
        .await?
        .ok_or_else(|| ApiError::not_found("appointment type"))?;
    Ok(json(200, &t))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypePatch {
    name: Option<String>,
    duration_minutes: Option<u32>,
    consultation_fee: Option<f64>,
    consultation_types: Option<Vec<ConsultationType>>,
    is_active: Option<bool>,
    description: Option<String>,
    requires_confirmation: Option<bool>,
    confirmation_deadline_hours: Option<u32>,
}

pub async fn update(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: Uuid = path_id(&req, "id")?;
    staff_only(&who)?;
    let body: TypePatch = json_body(&req)?;
    let mut checks = Checks::default();
    checks.check(
        body.name.is_some()
            || body.duration_minutes.is_some()
            || body.consultation_fee.is_some()
            || body.consultation_types.is_some()
            || body.is_active.is_some()
            || body.description.is_some()
            || body.requires_confirmation.is_some()
            || body.confirmation_deadline_hours.is_some(),
        "body",
        "nothing to update",
    );
    checks.finish()?;
    let edit = |t: &mut AppointmentType| {
        if let Some(v) = &body.name {
            t.name = v.trim().to_owned();
        }
        if let Some(v) = body.duration_minutes {
            t.duration_minutes = v;
        }
        if let Some(v) = body.consultation_fee {
            t.consultation_fee = v;
        }
        if let Some(v) = &body.consultation_types {
            t.consultation_types = distinct(v);
        }
        if let Some(v) = body.is_active {
            t.is_active = v;
        }
        if let Some(v) = &body.description {
            t.description = Some(v.clone());
        }
        if let Some(v) = body.requires_confirmation {
            t.requires_confirmation = v;
        }
        if let Some(v) = body.confirmation_deadline_hours {
            t.confirmation_deadline_hours = Some(v);
        }
        valid(t)
    };
    let t = ctx
        .store
        .update_type(id, ctx.now(), edit)
        .await?
        .ok_or_else(|| ApiError::not_found("appointment type"))?;
    Ok(json(200, &t))
}
