//! Appointment types: `TYPE#<id>`, listed by name on GSI1 (`TYPES`).

use uuid::Uuid;

use super::keys::Range;
use super::page::Page;
use super::{keys, Item, Store, StoreError};
use crate::domain::{AppointmentType, UtcTime};
use crate::retry::Retry;

impl Store {
    pub async fn put_type(&self, t: &AppointmentType) -> Result<(), StoreError> {
        self.put_fresh(t, "create appointment type").await
    }

    /// Applies `edit` to type `id` as read and replaces it under its version, reading it again when it
    /// changed meanwhile; `Ok(None)` when there is no such type. `edit` may refuse the result.
    pub async fn update_type<E>(
        &self,
        id: Uuid,
        now: UtcTime,
        edit: impl Fn(&mut AppointmentType) -> Result<(), E>,
    ) -> Result<Option<AppointmentType>, E>
    where
        E: From<StoreError> + Retry + std::fmt::Display,
    {
        self.update_versioned(
            &keys::appointment_type(id),
            "update appointment type",
            now,
            edit,
        )
        .await
    }

    pub async fn appointment_type(&self, id: Uuid) -> Result<Option<AppointmentType>, StoreError> {
        self.read(&keys::appointment_type(id)).await
    }

    /// Types by name, one Query per page.
    pub async fn list_types(
        &self,
        active_only: bool,
        limit: i32,
        start_key: Option<Item>,
    ) -> Result<Page<AppointmentType>, StoreError> {
        self.by_name(
            Range::types_by_name(),
            "isActive",
            active_only,
            limit,
            start_key,
        )
        .await
    }

    /// One page of a by-name partition (`range`), only the items whose boolean `flag` is true if
    /// `only_flagged`: one Query.
    pub(super) async fn by_name<T: serde::de::DeserializeOwned>(
        &self,
        range: Range,
        flag: &str,
        only_flagged: bool,
        limit: i32,
        start_key: Option<Item>,
    ) -> Result<Page<T>, StoreError> {
        let mut q = range
            .query(self)
            .set_exclusive_start_key(start_key)
            .limit(limit);
        if only_flagged {
            q = q
                .filter_expression("#flag = :yes")
                .expression_attribute_names("#flag", flag)
                .expression_attribute_values(
                    ":yes",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                );
        }
        self.page(q).await
    }
}
