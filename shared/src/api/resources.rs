//! A location's rooms and equipment (issue 22, DESIGN.md section 17): `POST`, `GET` and `PATCH
//! /locations/{id}/resources[/{rid}]`, and `GET .../{rid}/schedule`, the slots that hold one day by day.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::views::{ScheduleDay, SlotView};
use super::{
    caller, json, json_body, path_id, staff_only, ApiError, Checks, Ctx, Query, Reply, Request,
};
use crate::domain::resource::{Resource, ResourceKind};
use crate::domain::{Slot, SlotId};
use crate::store::keys::Range;

const MANAGE: &str = "manage a location's rooms and equipment";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewResource {
    name: String,
    kind: ResourceKind,
    /// How many slots may hold it at one time: 1 (the default) to 20.
    #[serde(default = "super::slots::one")]
    capacity: u32,
}

/// `POST /locations/{id}/resources`: 201 with the resource. Two requests (the location read, the put).
pub async fn create(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let location: Uuid = path_id(&req, "id")?;
    let body: NewResource = json_body(&req)?;
    let now = ctx.now();
    let r = Resource {
        id: Uuid::new_v4(),
        location_id: location,
        name: body.name.trim().to_owned(),
        kind: body.kind,
        capacity: body.capacity,
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    ApiError::unless(r.problems())?;
    if ctx.store.location(location).await?.is_none() {
        return Err(ApiError::not_found("location"));
    }
    ctx.store.put_resource(&r).await?;
    tracing::info!(resource_id = %r.id, location_id = %location, "resource created");
    Ok(super::created(
        201,
        &r,
        format!("/locations/{location}/resources/{}", r.id),
        false,
    ))
}

/// `GET /locations/{id}/resources`: by name, `active=true` for the active ones only; one Query a page.
pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let location: Uuid = path_id(&req, "id")?;
    let range = Range::resources_by_name(location);
    let (active, limit, start) = super::appointment_types::by_name(ctx, &req, range)?;
    let page = ctx
        .store
        .list_resources(location, active, limit, start)
        .await?;
    Ok(json(200, &super::views::Page::from(page)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourcePatch {
    name: Option<String>,
    /// Applies to slots made from now on.
    capacity: Option<u32>,
    /// false deactivates it: it takes no new slots; the slots that hold it keep it.
    active: Option<bool>,
}

/// `PATCH /locations/{id}/resources/{rid}`: the fields given, under the resource's version.
pub async fn update(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let location: Uuid = path_id(&req, "id")?;
    let id: Uuid = path_id(&req, "rid")?;
    let body: ResourcePatch = json_body(&req)?;
    let mut checks = Checks::default();
    checks.check(
        body.name.is_some() || body.capacity.is_some() || body.active.is_some(),
        "body",
        "nothing to update",
    );
    checks.finish()?;
    let edit = |r: &mut Resource| {
        if let Some(v) = &body.name {
            r.name = v.trim().to_owned();
        }
        if let Some(v) = body.capacity {
            r.capacity = v;
        }
        if let Some(v) = body.active {
            r.active = v;
        }
        ApiError::unless(r.problems())
    };
    let r = ctx
        .store
        .update_resource(location, id, ctx.now(), edit)
        .await?
        .ok_or_else(|| ApiError::not_found("resource"))?;
    Ok(json(200, &r))
}

/// A resource's days in its location's time zone.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceSchedule {
    pub resource: Resource,
    /// The location's zone, in which the days are counted.
    pub time_zone: String,
    pub date: jiff::civil::Date,
    /// Each day's open and booked slots that hold the resource (a blocked slot gives it back).
    pub days: Vec<ScheduleDay>,
}

/// `GET /locations/{id}/resources/{rid}/schedule?date=YYYY-MM-DD&days=N` (providers, staff, admins):
/// the slots that hold the resource, day by day in the location's zone. Three reads: the location and
/// the resource, the resource's day guards, the slots they name (a BatchGetItem per 100 of each).
pub async fn schedule(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let location: Uuid = path_id(&req, "id")?;
    let id: Uuid = path_id(&req, "rid")?;
    let mut q = Query::of(&req);
    let (date, days) = super::calendar::date_and_days(&mut q);
    let date = q.finish_with(date)?.date();
    if !(who.is_staff() || who.has(crate::domain::Role::Provider)) {
        return Err(ApiError::forbidden(
            "only providers, staff and admins see a resource's schedule",
        ));
    }
    let (place, mut found) = ctx.store.location_and_resources(location, &[id]).await?;
    let (Some(place), Some(resource)) = (place, found.pop().flatten()) else {
        return Err(ApiError::not_found("resource"));
    };
    let zone = jiff::tz::TimeZone::get(&place.time_zone)
        .map_err(|_| ApiError::field("id", "the location's time zone is unknown"))?;
    let (dates, starts) = super::calendar::local_days(date, days, &zone)?;
    let (from, to) = (starts[0], starts[starts.len() - 1]);
    let utc_dates = match crate::domain::Interval::new(from, to) {
        Ok(iv) => iv.utc_dates(),
        Err(_) => vec![],
    };
    let guards = ctx.store.resource_days(id, &utc_dates).await?;
    let mut ids: Vec<SlotId> = guards
        .iter()
        .flat_map(|g| g.intervals.iter())
        .filter(|(_, iv)| iv.start() < to && from < iv.end())
        .filter_map(|(k, _)| k.parse::<Uuid>().ok().map(SlotId::from_uuid))
        .collect();
    ids.sort_by_key(|s| s.to_string());
    ids.dedup();
    let mut slots: Vec<Slot> = ctx.store.slots_by_id(&ids).await?;
    slots.sort_by_key(|s| s.start_time);
    let by_day = super::calendar::schedule_days(&dates, &starts, &slots, &zone, |s| {
        SlotView::for_caller(s, &who)
    });
    Ok(json(
        200,
        &ResourceSchedule {
            resource,
            time_zone: place.time_zone,
            date,
            days: by_day,
        },
    ))
}
