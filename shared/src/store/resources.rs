//! A location's rooms and equipment (DESIGN.md section 17): `LOCATION#<lid>` / `RESOURCE#<rid>`, listed
//! by name on GSI1 (`LOCATION#<lid>#RESOURCES`), replaced whole under their version. The time they are
//! held is in their day guards (`RESOURCE#<rid>` / `DAY#<date>`), taken by slots in the transactions
//! that create them (`store::slots`).

use std::collections::HashMap;

use uuid::Uuid;

use super::guard::Guard;
use super::items::Stored;
use super::keys::{self, Key, Range};
use super::page::Page;
use super::{from_item, Item, Store, StoreError};
use crate::domain::location::Location;
use crate::domain::resource::{over_capacity, Resource, SlotResource};
use crate::domain::{Interval, UtcTime};
use crate::retry::Retry;

impl Stored for Resource {
    fn key(&self) -> Key {
        keys::resource(self.location_id, self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::location_resources(self.location_id)),
            (keys::GSI1SK, keys::by_name(&self.name, self.id)),
        ]
    }
}

/// A resource a slot cannot take: another slot holds it then (as many as its capacity).
#[derive(Clone, Debug, PartialEq)]
pub struct Taken {
    pub resource: SlotResource,
    /// The other slot (the first of them, by start) and its time.
    pub by: String,
    pub during: Interval,
}

impl std::fmt::Display for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}) is taken {} to {} by slot {}",
            match self.resource.kind {
                crate::domain::resource::ResourceKind::Room => "room",
                crate::domain::resource::ResourceKind::Equipment => "equipment",
            },
            self.resource.name,
            self.resource.id,
            self.during.start(),
            self.during.end(),
            self.by
        )
    }
}

/// The guard keys of `resources` over the UTC days of `iv`.
pub fn day_keys(resources: &[SlotResource], iv: &Interval) -> Vec<Key> {
    resources
        .iter()
        .flat_map(|r| {
            iv.utc_dates()
                .into_iter()
                .map(|d| keys::resource_day(r.id, d))
        })
        .collect()
}

/// Whether `iv` fits each of `resources` (with their `capacity` by id) given their day `guards` as read:
/// the first resource that does not, named. `except` is a slot whose own entry does not count.
pub fn first_taken(
    resources: &[SlotResource],
    capacity: &HashMap<Uuid, u32>,
    guards: &HashMap<Key, Guard>,
    iv: &Interval,
) -> Option<Taken> {
    for r in resources {
        // A slot that crosses midnight is in two days' guards: one entry per id.
        let mut entries: HashMap<&String, &Interval> = HashMap::new();
        for d in iv.utc_dates() {
            if let Some(g) = guards.get(&keys::resource_day(r.id, d)) {
                entries.extend(g.intervals.iter());
            }
        }
        let cap = capacity.get(&r.id).copied().unwrap_or(1);
        if let Some(busy) = over_capacity(cap, entries, iv) {
            let (by, during) = busy.into_iter().next().expect("a refusal names a holder");
            return Some(Taken {
                resource: r.clone(),
                by,
                during,
            });
        }
    }
    None
}

impl Store {
    pub async fn put_resource(&self, r: &Resource) -> Result<(), StoreError> {
        self.put_fresh(r, "create resource").await
    }

    /// Applies `edit` to the resource and replaces it under its version; `Ok(None)` if there is none.
    pub async fn update_resource<E>(
        &self,
        location: Uuid,
        id: Uuid,
        now: UtcTime,
        edit: impl Fn(&mut Resource) -> Result<(), E>,
    ) -> Result<Option<Resource>, E>
    where
        E: From<StoreError> + Retry + std::fmt::Display,
    {
        self.update_versioned(&keys::resource(location, id), "update resource", now, edit)
            .await
    }

    pub async fn resource(&self, location: Uuid, id: Uuid) -> Result<Option<Resource>, StoreError> {
        self.read(&keys::resource(location, id)).await
    }

    /// A location's resources by name (the active ones only if `active_only`), one Query per page.
    pub async fn list_resources(
        &self,
        location: Uuid,
        active_only: bool,
        limit: i32,
        start_key: Option<Item>,
    ) -> Result<Page<Resource>, StoreError> {
        self.by_name(
            Range::resources_by_name(location),
            "active",
            active_only,
            limit,
            start_key,
        )
        .await
    }

    /// The location and those of `ids` that are its resources, in one BatchGetItem.
    pub async fn location_and_resources(
        &self,
        location: Uuid,
        ids: &[Uuid],
    ) -> Result<(Option<Location>, Vec<Option<Resource>>), StoreError> {
        let mut wanted = vec![keys::location(location)];
        wanted.extend(ids.iter().map(|id| keys::resource(location, *id)));
        let mut found = self.get_many(&wanted).await?;
        let place = found
            .remove(&keys::location(location))
            .map(from_item)
            .transpose()?;
        let resources = ids
            .iter()
            .map(|id| {
                found
                    .remove(&keys::resource(location, *id))
                    .map(from_item)
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        Ok((place, resources))
    }

    /// A resource's day guards for `dates`, in one BatchGetItem per 100: what holds it when.
    pub async fn resource_days(
        &self,
        resource: Uuid,
        dates: &[jiff::civil::Date],
    ) -> Result<Vec<Guard>, StoreError> {
        let wanted: Vec<Key> = dates
            .iter()
            .map(|d| keys::resource_day(resource, *d))
            .collect();
        let mut found = self.get_many(&wanted).await?;
        wanted
            .into_iter()
            .map(|k| {
                let item = found.remove(&k);
                Guard::read(k, item)
            })
            .collect()
    }
}
