//! Appointment types: `TYPE#<id>`, listed by name on GSI1 (`TYPES`).

use uuid::Uuid;

use super::items::item;
use super::keys::Range;
use super::page::Page;
use super::{keys, Item, Store, StoreError};
use crate::domain::{AppointmentType, UtcTime};
use crate::retry::{retrying, Attempt, Retry};

impl Store {
    pub async fn put_type(&self, t: &AppointmentType) -> Result<(), StoreError> {
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(t)?))
            .condition_expression("attribute_not_exists(PK)");
        super::conditional::answered("create appointment type", || put.clone().send()).await??;
        Ok(())
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
        retrying("update appointment type", || async {
            let Some(mut t) = self.appointment_type(id).await? else {
                return Ok(Attempt::Done(None));
            };
            let read = t.version;
            edit(&mut t)?;
            t.updated_at = now;
            t.version = read + 1;
            Ok(match self.replace_type(&t, read).await? {
                true => Attempt::Done(Some(t)),
                false => Attempt::Again,
            })
        })
        .await
    }

    /// Replaces `t` if it is still the version that was read; `false` if it changed meanwhile. A version
    /// number, not `updatedAt`: two changes within one second have the same `updatedAt`.
    async fn replace_type(&self, t: &AppointmentType, read: u64) -> Result<bool, StoreError> {
        let mut put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(t)?));
        put = if read == 0 {
            put.condition_expression("attribute_exists(PK) AND attribute_not_exists(version)")
        } else {
            put.condition_expression("version = :read")
                .expression_attribute_values(":read", super::n(read))
        };
        super::conditional::made(
            super::conditional::answered("update appointment type", || put.clone().send()).await?,
        )
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
        let mut q = Range::types_by_name()
            .query(self)
            .set_exclusive_start_key(start_key)
            .limit(limit);
        if active_only {
            q = q
                .filter_expression("isActive = :yes")
                .expression_attribute_values(
                    ":yes",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                );
        }
        self.page(q).await
    }
}
