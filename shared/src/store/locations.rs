//! Locations (DESIGN.md section 17): `LOCATION#<id>`, listed by name on GSI1 (`LOCATIONS`); replaced
//! whole under their version, as appointment types are.

use uuid::Uuid;

use super::items::Stored;
use super::keys::{self, Key, Range};
use super::page::Page;
use super::{Item, Store, StoreError};
use crate::domain::location::Location;
use crate::domain::UtcTime;
use crate::retry::Retry;

impl Stored for Location {
    fn key(&self) -> Key {
        keys::location(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::LOCATIONS.to_owned()),
            (keys::GSI1SK, keys::by_name(&self.name, self.id)),
        ]
    }
}

impl Store {
    pub async fn put_location(&self, l: &Location) -> Result<(), StoreError> {
        self.put_fresh(l, "create location").await
    }

    pub async fn location(&self, id: Uuid) -> Result<Option<Location>, StoreError> {
        self.read(&keys::location(id)).await
    }

    /// Applies `edit` to location `id` and replaces it under its version (read again when it changed
    /// meanwhile); `Ok(None)` when there is no such location.
    pub async fn update_location<E>(
        &self,
        id: Uuid,
        now: UtcTime,
        edit: impl Fn(&mut Location) -> Result<(), E>,
    ) -> Result<Option<Location>, E>
    where
        E: From<StoreError> + Retry + std::fmt::Display,
    {
        self.update_versioned(&keys::location(id), "update location", now, edit)
            .await
    }

    /// Locations by name (only the active ones if `active_only`), one Query per page.
    pub async fn list_locations(
        &self,
        active_only: bool,
        limit: i32,
        start_key: Option<Item>,
    ) -> Result<Page<Location>, StoreError> {
        self.by_name(
            Range::locations_by_name(),
            "active",
            active_only,
            limit,
            start_key,
        )
        .await
    }
}
