//! Webhook endpoints and their delivery log (issue 23, DESIGN.md section 18): every endpoint in one
//! partition (`WEBHOOKS`), which `deliver` reads with one consistent Query per event, so an endpoint
//! made or changed a moment ago is honoured by the next event; at most [`MAX_WEBHOOKS`], counted in
//! the same partition and kept by a transaction. An endpoint is replaced whole under its version, by
//! people (`PATCH`, rotation) and by deliveries (failures, disabling) alike. Each attempt is one item
//! in the endpoint's own partition, kept 7 days by the table's TTL.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use uuid::Uuid;

use super::items::{item, Stored};
use super::keys::{self, Key};
use super::{from_item, n, s, Store, StoreError};
use crate::domain::webhook::{Attempt, Webhook, LOG_DAYS, MAX_WEBHOOKS};
use crate::domain::UtcTime;
use crate::retry::Retry;

impl Stored for Webhook {
    fn key(&self) -> Key {
        keys::webhook(self.id)
    }

    fn expires_at(&self) -> Option<i64> {
        self.deleted_at
            .map(|at| at.timestamp().as_second() + LOG_DAYS * 86_400)
    }
}

/// An attempt as stored: under its endpoint.
#[derive(serde::Serialize)]
struct Logged<'a> {
    #[serde(skip)]
    webhook_id: Uuid,
    #[serde(flatten)]
    attempt: &'a Attempt,
}

impl Stored for Logged<'_> {
    fn key(&self) -> Key {
        keys::delivery(
            self.webhook_id,
            self.attempt.at,
            &self.attempt.event_id,
            self.attempt.attempt,
        )
    }

    fn expires_at(&self) -> Option<i64> {
        Some(self.attempt.at.timestamp().as_second() + LOG_DAYS * 86_400)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("at most {MAX_WEBHOOKS} webhook endpoints; delete one first")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<aws_sdk_dynamodb::error::BuildError> for WebhookError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        WebhookError::Store(e.into())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum W {
    Endpoint,
    Count,
}

impl Store {
    /// Puts a new endpoint and counts it, in one transaction: at most [`MAX_WEBHOOKS`], however many
    /// requests race.
    pub async fn create_webhook(&self, w: &Webhook) -> Result<(), WebhookError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(w)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let count = self.count_one_more(&keys::webhook_count(), MAX_WEBHOOKS)?;
        let mut writes = super::Writes::new();
        writes.add(W::Endpoint, TransactWriteItem::builder().put(put).build());
        writes.add(W::Count, TransactWriteItem::builder().update(count).build());
        let refused =
            super::conditional::patiently("create webhook", || self.commit(writes.clone())).await?;
        match refused {
            None => Ok(()),
            Some(r) if r.has(W::Count) => Err(WebhookError::TooMany),
            Some(_) => Err(StoreError::Corrupt("a fresh webhook id already exists".into()).into()),
        }
    }

    /// Deletes endpoint `id` (marks it deleted: the table's TTL removes it with its log, nothing
    /// here deletes) and uncounts it, in one transaction; whether there was such an endpoint.
    pub async fn delete_webhook(&self, id: Uuid, now: UtcTime) -> Result<bool, StoreError> {
        let gone = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::webhook(id))))
            .update_expression("SET deletedAt = :now, #ttl = :ttl, active = :off")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deletedAt)")
            .expression_attribute_names("#ttl", keys::EXPIRES_AT)
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":ttl", n(now.timestamp().as_second() + LOG_DAYS * 86_400))
            .expression_attribute_values(
                ":off",
                aws_sdk_dynamodb::types::AttributeValue::Bool(false),
            )
            .build()?;
        let count = self.count_one_fewer(&keys::webhook_count())?;
        let mut writes = super::Writes::new();
        writes.add(
            W::Endpoint,
            TransactWriteItem::builder().update(gone).build(),
        );
        writes.add(W::Count, TransactWriteItem::builder().update(count).build());
        let refused =
            super::conditional::patiently("delete webhook", || self.commit(writes.clone())).await?;
        match refused {
            None => Ok(true),
            Some(r) if r.has(W::Endpoint) => Ok(false),
            Some(_) => Err(StoreError::Corrupt("a webhook that is not counted".into())),
        }
    }

    /// Endpoint `id`, unless there is none or it was deleted.
    pub async fn webhook(&self, id: Uuid) -> Result<Option<Webhook>, StoreError> {
        let w: Option<Webhook> = self.read(&keys::webhook(id)).await?;
        Ok(w.filter(|w| w.deleted_at.is_none()))
    }

    /// Every endpoint, by id: one consistent Query (a page holds 1 MB, far more than 25 endpoints).
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::WEBHOOKS))
            .expression_attribute_values(":prefix", s(keys::WEBHOOK_PREFIX));
        let all: Vec<Webhook> = self.all_pages(query).await?;
        Ok(all.into_iter().filter(|w| w.deleted_at.is_none()).collect())
    }

    /// Applies `edit` to endpoint `id` and replaces it under its version (read again when it changed
    /// meanwhile); `Ok(None)` when there is no such endpoint (or it was deleted).
    pub async fn update_webhook<E>(
        &self,
        id: Uuid,
        now: UtcTime,
        edit: impl Fn(&mut Webhook) -> Result<(), E>,
    ) -> Result<Option<Webhook>, E>
    where
        E: From<StoreError> + Retry + std::fmt::Display,
    {
        self.update_versioned(&keys::webhook(id), "update webhook", now, edit)
            .await
    }

    /// Logs one attempt (one PutItem; the same attempt logged twice, by a redelivered message, is
    /// one item).
    pub async fn log_attempt(&self, webhook: Uuid, attempt: &Attempt) -> Result<(), StoreError> {
        let logged = Logged {
            webhook_id: webhook,
            attempt,
        };
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(&logged)?));
        super::conditional::patiently("log delivery", || put.clone().send()).await?;
        Ok(())
    }

    /// An endpoint's latest `limit` attempts, newest first (one Query).
    pub async fn attempts(&self, webhook: Uuid, limit: i32) -> Result<Vec<Attempt>, StoreError> {
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::webhook_log(webhook)))
            .expression_attribute_values(":prefix", s(keys::DELIVERY_PREFIX))
            .scan_index_forward(false)
            .limit(limit);
        let page =
            super::conditional::patiently("list deliveries", || query.clone().send()).await?;
        page.items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }
}
