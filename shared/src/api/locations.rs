//! `POST /locations`, `GET /locations`, `GET` and `PATCH /locations/{id}` (issue 22, DESIGN.md
//! section 17). Staff and admins write; everyone signed in reads.

use serde::Deserialize;
use uuid::Uuid;

use super::views::Page;
use super::{caller, json, json_body, path_id, staff_only, ApiError, Checks, Ctx, Reply, Request};
use crate::domain::location::{Address, Location, Telecom};
use crate::domain::ZoneName;
use crate::store::keys::Range;

const MANAGE: &str = "manage locations";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewLocation {
    name: String,
    /// Required unless `virtual`.
    address: Option<Address>,
    /// An IANA zone (`America/Chicago`); stored by its canonical name.
    time_zone: String,
    /// At most 5.
    telecom: Option<Vec<Telecom>>,
    #[serde(default = "yes")]
    active: bool,
    /// A telehealth-only location, without an address (default false).
    #[serde(rename = "virtual", default)]
    is_virtual: bool,
}

fn yes() -> bool {
    true
}

/// The canonical name of an IANA zone asked for, or the field's error.
fn zone(asked: &str) -> Result<String, ApiError> {
    asked
        .parse::<ZoneName>()
        .map(|z| z.to_string())
        .map_err(|e| ApiError::field("timeZone", e.to_string()))
}

/// `POST /locations`: 201 with the location. One PutItem.
pub async fn create(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let body: NewLocation = json_body(&req)?;
    let now = ctx.now();
    let l = Location {
        id: Uuid::new_v4(),
        name: body.name.trim().to_owned(),
        address: body.address,
        time_zone: zone(&body.time_zone)?,
        telecom: body.telecom.unwrap_or_default(),
        active: body.active,
        is_virtual: body.is_virtual,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    ApiError::unless(l.problems())?;
    ctx.store.put_location(&l).await?;
    Ok(super::created(
        201,
        &l,
        format!("/locations/{}", l.id),
        false,
    ))
}

/// `GET /locations`: by name, `active=true` for the active ones only; one Query per page.
pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let (active, limit, start) =
        super::appointment_types::by_name(ctx, &req, Range::locations_by_name())?;
    let page = ctx.store.list_locations(active, limit, start).await?;
    Ok(json(200, &Page::from(page)))
}

/// `GET /locations/{id}`: one GetItem.
pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let id: Uuid = path_id(&req, "id")?;
    let l = ctx
        .store
        .location(id)
        .await?
        .ok_or_else(|| ApiError::not_found("location"))?;
    Ok(json(200, &l))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocationPatch {
    name: Option<String>,
    address: Option<Address>,
    time_zone: Option<String>,
    telecom: Option<Vec<Telecom>>,
    /// false deactivates it.
    active: Option<bool>,
    #[serde(rename = "virtual")]
    is_virtual: Option<bool>,
}

/// `PATCH /locations/{id}`: the fields given, replaced under the location's version (read again if it
/// changed meanwhile). Two requests.
pub async fn update(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: Uuid = path_id(&req, "id")?;
    staff_only(&who, MANAGE)?;
    let body: LocationPatch = json_body(&req)?;
    let mut checks = Checks::default();
    checks.check(
        body.name.is_some()
            || body.address.is_some()
            || body.time_zone.is_some()
            || body.telecom.is_some()
            || body.active.is_some()
            || body.is_virtual.is_some(),
        "body",
        "nothing to update",
    );
    checks.finish()?;
    let time_zone = body.time_zone.as_deref().map(zone).transpose()?;
    let edit = |l: &mut Location| {
        if let Some(v) = &body.name {
            l.name = v.trim().to_owned();
        }
        if let Some(v) = body.is_virtual {
            l.is_virtual = v;
            if v {
                l.address = None; // a location that becomes virtual has no address
            }
        }
        if let Some(v) = &body.address {
            l.address = Some(v.clone());
        }
        if let Some(v) = &time_zone {
            l.time_zone = v.clone();
        }
        if let Some(v) = &body.telecom {
            l.telecom = v.clone();
        }
        if let Some(v) = body.active {
            l.active = v;
        }
        ApiError::unless(l.problems())
    };
    let l = ctx
        .store
        .update_location(id, ctx.now(), edit)
        .await?
        .ok_or_else(|| ApiError::not_found("location"))?;
    Ok(json(200, &l))
}
