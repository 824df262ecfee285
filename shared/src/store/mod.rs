//! The single-table mapping: keys, items, conditional writes and transactions.
//!
//! Items (de)serialize with serde_dynamo from the domain types, plus their key attributes. Every write
//! that could double-book is a conditional write or a transaction (see `booking`), so correctness does
//! not depend on the order in which concurrent requests arrive.

pub mod appointment_types;
pub mod batch;
pub mod booking;
pub mod cancel;
pub mod capacity;
pub mod conditional;
pub mod directory;
pub mod feeds;
pub mod guard;
pub mod holds;
pub mod idempotency;
pub mod items;
pub mod keys;
pub mod lifecycle;
pub mod lists;
pub mod locations;
pub mod page;
pub mod payments;
pub mod reminders;
pub mod reschedule;
pub mod resources;
pub mod search;
pub mod series;
pub mod settings;
pub mod slots;
pub mod waitlist;
pub mod webhooks;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{Appointment, AppointmentId, Slot, SlotId};
use crate::retry::Attempt;
pub use keys::Key;

pub type Item = HashMap<String, AttributeValue>;

/// The table and the client that reaches it; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: aws_sdk_dynamodb::Client,
    pub table: String,
    /// What seals the cursors of the pages it answers (`page::Cursors`).
    pub cursors: page::Cursors,
    /// What applies where a provider set nothing (the deployment's configuration).
    pub defaults: crate::domain::settings::Defaults,
}

/// The writes of one transaction, each under a name, so that a cancellation is read by name and not by
/// position.
#[derive(Clone)]
pub struct Writes<N>(Vec<(N, TransactWriteItem)>);

impl<N> Writes<N> {
    pub fn new() -> Self {
        Writes(vec![])
    }

    pub fn add(&mut self, name: N, write: TransactWriteItem) {
        self.0.push((name, write));
    }
}

impl<N> Default for Writes<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The named writes whose conditions failed, and the item each returned, if it asked for it.
#[derive(Debug)]
pub struct Refused<N>(Vec<(N, Option<Item>)>);

impl<N: Copy + PartialEq> Refused<N> {
    pub fn has(&self, name: N) -> bool {
        self.0.iter().any(|(n, _)| *n == name)
    }

    /// The item as it was when `name`'s condition failed.
    pub fn item(&self, name: N) -> Option<Item> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, i)| i.clone())
    }
}

/// What failed underneath: an SDK error, kept whole for logs.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Failures of the store itself, as opposed to a rule saying no.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed")]
    Dynamo(#[source] Source),
    /// Worth retrying: throttled, a conflicting transaction, a timeout or a server error.
    #[error("DynamoDB asked to retry")]
    Transient(#[source] Source),
    #[error("a stored item does not have the expected shape: {0}")]
    Corrupt(String),
    #[error("gave up after {0} attempts that each met a concurrent write or throttling")]
    Contended(u32),
}

/// `#status IN (:<p>0, :<p>1, ...)` over `statuses`, and the values it names (the caller maps
/// `#status` to `status`): the status filter and condition of lists and conditional writes.
pub(crate) fn status_in<'a>(
    p: &str,
    statuses: impl IntoIterator<Item = &'a str>,
) -> (String, Vec<(String, AttributeValue)>) {
    let values: Vec<(String, AttributeValue)> = statuses
        .into_iter()
        .enumerate()
        .map(|(i, st)| (format!(":{p}{i}"), s(st)))
        .collect();
    let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
    (format!("#status IN ({})", names.join(", ")), values)
}

/// The clause every write of an appointment carries: its `version` one more (iCalendar's SEQUENCE,
/// so two changes within a second still count as two), with [`VERSION_NAME`] and [`VERSION_STEP`].
pub(crate) const NEXT_VERSION: &str = " ADD #version :versionStep";
pub(crate) const VERSION_NAME: (&str, &str) = ("#version", "version");
pub(crate) fn version_step() -> (&'static str, AttributeValue) {
    (":versionStep", AttributeValue::N("1".into()))
}

/// Why DynamoDB cancelled a transaction, from its cancellation reasons
/// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// A condition failed: an answer ("full", "moved"), read by the caller.
    Refused,
    /// Only conflicts with other requests, throttling or capacity: try again.
    Conflict,
    /// Anything else (`ValidationError`, `ItemCollectionSizeLimitExceeded`, ...): a defect.
    Defect,
}

/// Codes of a cancellation reason that pass if tried again.
const PASSING_REASONS: [&str; 5] = [
    "None",
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "ConditionalCheckFailed",
];

pub fn cancelled_by(reasons: &[CancellationReason]) -> Cancelled {
    let codes = || reasons.iter().map(|r| r.code().unwrap_or("None"));
    if codes().any(|c| !PASSING_REASONS.contains(&c)) {
        Cancelled::Defect
    } else if codes().any(|c| c == "ConditionalCheckFailed") {
        Cancelled::Refused
    } else {
        Cancelled::Conflict
    }
}

/// Error codes that mean "retry" rather than "no"
/// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html).
pub(crate) const TRANSIENT_CODES: [&str; 7] = [
    "TransactionConflictException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

impl StoreError {
    /// A service error, kept as transient when its code says so.
    pub fn service<E>(e: E) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if e.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)) {
            StoreError::Transient(Box::new(e))
        } else {
            StoreError::Dynamo(Box::new(e))
        }
    }

    /// A failure of ours rather than DynamoDB's (a task that panicked, a cancellation no rule explains).
    pub fn internal(what: impl Into<String>) -> StoreError {
        StoreError::Dynamo(what.into().into())
    }
}

/// An error and every source under it, on one line, for logs.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    DisplayErrorContext(e).to_string()
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(e: SdkError<E, R>) -> Self {
        // One rule for what is worth retrying: conditional::is_transient.
        if conditional::is_transient(&e) {
            StoreError::Transient(Box::new(e))
        } else {
            StoreError::Dynamo(Box::new(e))
        }
    }
}

impl From<aws_sdk_dynamodb::error::BuildError> for StoreError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        StoreError::Dynamo(Box::new(e))
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(e: serde_dynamo::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// SHA-256 of `data` as lower-case hex: a feed's token as stored, a request's fingerprint, a feed
/// file's content.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn key_item(key: &Key) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(&key.pk)),
        (keys::SK.to_owned(), s(&key.sk)),
    ])
}

/// A domain value as a stored item: its fields plus the key attributes.
pub fn to_item<T: Serialize>(
    value: &T,
    key: &Key,
    extra: &[(&str, String)],
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.extend(key_item(key));
    for (name, value) in extra {
        item.insert((*name).to_owned(), s(value.clone()));
    }
    Ok(item)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    // Whose data this is, for the audit trail of the request reading it (appointments, entries,
    // series and their records carry `patientId`; a patient's feed, its owner).
    let patient = match (item.get("patientId"), item.get("ownerRole")) {
        (Some(AttributeValue::S(p)), _) => Some(p),
        (None, Some(AttributeValue::S(role))) if role == "patient" => match item.get("ownerId") {
            Some(AttributeValue::S(owner)) => Some(owner),
            _ => None,
        },
        _ => None,
    };
    if let Some(patient) = patient.and_then(|p| p.parse().ok()) {
        crate::audit::touched(patient);
    }
    Ok(serde_dynamo::from_item(item)?)
}

impl Store {
    pub fn new(db: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Store {
        Store {
            db,
            table: table.into(),
            cursors: page::Cursors::random(),
            defaults: crate::config::Config::default_provider_settings(),
        }
    }

    /// One more on the `active` count of `key`, refused (its condition fails) at `max`: written in the
    /// transaction that makes what it counts, at most `max` exist however many requests race.
    pub(crate) fn count_one_more(
        &self,
        key: &Key,
        max: u32,
    ) -> Result<aws_sdk_dynamodb::types::Update, aws_sdk_dynamodb::error::BuildError> {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression("SET active = if_not_exists(active, :zero) + :one")
            .condition_expression("attribute_not_exists(active) OR active < :max")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .build()
    }

    /// One fewer on the `active` count of `key` (refused below zero), in the transaction that ends
    /// what it counted.
    pub(crate) fn count_one_fewer(
        &self,
        key: &Key,
    ) -> Result<aws_sdk_dynamodb::types::Update, aws_sdk_dynamodb::error::BuildError> {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression("SET active = active - :one")
            .condition_expression("active > :zero")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
    }

    /// The table `config` names (`TABLE_NAME`), each request measured as `RETURN_CONSUMED_CAPACITY`
    /// says: what the worker, `deliver` and `write-slot-feed` read and write.
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Store, crate::config::ConfigError> {
        Ok(Store::new(
            capacity::measured(
                aws_sdk_dynamodb::Client::new(sdk),
                config.return_consumed_capacity,
            ),
            crate::config::Config::require(&config.table_name, "TABLE_NAME")?,
        ))
    }

    /// This store with cursors sealed under the deployment's key (`CURSOR_KEY`), so a cursor one
    /// function gave opens in another.
    pub fn with_cursor_key(mut self, secret: &str) -> Store {
        self.cursors = page::Cursors::with_secret(secret);
        self
    }

    /// This store with the configuration's defaults for providers' settings.
    pub fn with_defaults(mut self, defaults: crate::domain::settings::Defaults) -> Store {
        self.defaults = defaults;
        self
    }

    /// One strongly consistent GetItem (more when throttled).
    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        conditional::patiently("read", || async {
            let out = self
                .db
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key_item(key)))
                .consistent_read(true)
                .send()
                .await?;
            Ok::<_, StoreError>(out.item)
        })
        .await
    }

    /// The item under `key` as a `T`, if there is one: one strongly consistent GetItem.
    pub async fn read<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        self.get(key).await?.map(from_item).transpose()
    }

    pub async fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StoreError> {
        self.read(&keys::appointment(id)).await
    }

    /// The appointments with these ids that exist, in the order asked (a BatchGetItem per 100).
    pub async fn appointments_by_id(
        &self,
        ids: &[AppointmentId],
    ) -> Result<Vec<Appointment>, StoreError> {
        self.existing(ids.iter().map(|a| keys::appointment(*a)).collect())
            .await
    }

    /// The items of `wanted` that exist, in its order (a BatchGetItem per 100).
    pub(crate) async fn existing<T: DeserializeOwned>(
        &self,
        wanted: Vec<Key>,
    ) -> Result<Vec<T>, StoreError> {
        let mut found = self.get_many(&wanted).await?;
        wanted
            .iter()
            .filter_map(|k| found.remove(k))
            .map(from_item)
            .collect()
    }

    /// The same write as one UpdateItem, outside a transaction.
    pub(crate) fn alone(
        &self,
        update: &aws_sdk_dynamodb::types::Update,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(update.key.clone()))
            .update_expression(update.update_expression.clone())
            .set_condition_expression(update.condition_expression.clone())
            .set_expression_attribute_names(update.expression_attribute_names.clone())
            .set_expression_attribute_values(update.expression_attribute_values.clone())
    }

    pub async fn slot(&self, id: SlotId) -> Result<Option<Slot>, StoreError> {
        self.read(&keys::slot(id)).await
    }

    /// One page of a query (retried when throttled), its LastEvaluatedKey as the next cursor.
    pub async fn page<T: DeserializeOwned>(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<page::Page<T>, StoreError> {
        self.cursors
            .page(conditional::patiently("query", || query.clone().send()).await?)
    }

    /// Every item a query matches as `T`, page after page (for reports and whole days, not for client
    /// paging); each page is converted as it arrives, so at most one page (1 MB) of raw items is held.
    pub async fn all_pages<T: DeserializeOwned>(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<T>, StoreError> {
        self.pages_up_to(query, usize::MAX).await
    }

    /// The first `max` items a query matches as `T`, page after page, reading no page past them.
    pub async fn pages_up_to<T: DeserializeOwned>(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        max: usize,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = vec![];
        let mut start: Option<Item> = None;
        loop {
            let page = conditional::patiently("query", || {
                query.clone().set_exclusive_start_key(start.clone()).send()
            })
            .await?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() || out.len() >= max {
                out.truncate(max);
                return Ok(out);
            }
        }
    }

    /// One transaction of named writes. `Ok(None)` when it committed; `Ok(Some(refused))` names the
    /// writes whose conditions failed, each with the item it returned (where it asked for `ALL_OLD`).
    pub async fn commit<N: Copy + PartialEq>(
        &self,
        writes: Writes<N>,
    ) -> Result<Option<Refused<N>>, StoreError> {
        let (names, items): (Vec<N>, Vec<TransactWriteItem>) = writes.0.into_iter().unzip();
        Ok(self.transact(items).await?.map(|reasons| {
            Refused(
                names
                    .into_iter()
                    .zip(reasons)
                    .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                    .map(|(n, r)| (n, r.item))
                    .collect(),
            )
        }))
    }

    /// One TransactWriteItems. `Ok(None)` when it committed; `Ok(Some(reasons))` when a condition
    /// cancelled it, one reason per write in order. Cancelled only by conflicting transactions or
    /// throttling, it is `StoreError::Transient`: retry it. Cancelled for any other reason (a
    /// `ValidationError`), it is a defect: logged with the reasons' codes, not retried.
    pub async fn transact(
        &self,
        writes: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<CancellationReason>>, StoreError> {
        match self
            .db
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(e) => match e.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let reasons = c.cancellation_reasons.clone().unwrap_or_default();
                    match cancelled_by(&reasons) {
                        Cancelled::Refused => Ok(Some(reasons)),
                        Cancelled::Conflict => Err(StoreError::Transient(Box::new(c))),
                        Cancelled::Defect => {
                            let codes: Vec<&str> =
                                reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
                            tracing::error!(reasons = ?codes, "a transaction was cancelled for a reason no retry cures");
                            Err(StoreError::Dynamo(Box::new(c)))
                        }
                    }
                }
                other => Err(StoreError::service(other)),
            },
        }
    }

    /// Consistent BatchGetItems, 100 keys each (the API's limit); answers by key. Unprocessed keys
    /// (throttling) are fetched again, which is the only case that costs more requests.
    pub async fn get_many(&self, wanted: &[Key]) -> Result<HashMap<Key, Item>, StoreError> {
        let mut found = HashMap::new();
        let mut unique: Vec<Item> = vec![];
        for key in wanted.iter().map(key_item) {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        // BatchGetItem takes at most 100 keys:
        // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
        for chunk in unique.chunks(100) {
            // Each attempt reads the keys the last one left unprocessed, and keeps what it got.
            let got = crate::retry::retrying_with(
                "batch read",
                (chunk.to_vec(), vec![]),
                |(pending, mut got)| async move {
                    match self.batch_get(pending.clone()).await {
                        Ok((items, unprocessed)) => {
                            got.extend(items);
                            let step = match unprocessed.is_empty() {
                                true => Attempt::Done(std::mem::take(&mut got)),
                                false => Attempt::Again,
                            };
                            ((unprocessed, got), Ok(step))
                        }
                        Err(e) => ((pending, got), Err(e)),
                    }
                },
            )
            .await?;
            for item in got {
                found.insert(item_key(&item)?, item);
            }
        }
        Ok(found)
    }
}

impl Store {
    /// One consistent BatchGetItem: the items found and the keys left unprocessed.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()?;
        let out = self
            .db
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await?;
        let items = out
            .responses
            .and_then(|mut r| r.remove(&self.table))
            .unwrap_or_default();
        let unprocessed = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(&self.table))
            .map(|k| k.keys)
            .unwrap_or_default();
        Ok((items, unprocessed))
    }
}

pub fn item_key(item: &Item) -> Result<Key, StoreError> {
    let get = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt(format!("item without {name}"))),
    };
    Ok(Key {
        pk: get(keys::PK)?,
        sk: get(keys::SK)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build())
            .collect()
    }

    #[test]
    fn a_cancelled_transaction_is_an_answer_a_conflict_or_a_defect() {
        for (codes, why) in [
            (&["None", "ConditionalCheckFailed"][..], Cancelled::Refused),
            (&["TransactionConflict", "None"][..], Cancelled::Conflict),
            (&["ThrottlingError"][..], Cancelled::Conflict),
            (&["None", "ValidationError"][..], Cancelled::Defect),
            (
                &["ConditionalCheckFailed", "ValidationError"][..],
                Cancelled::Defect,
            ),
            (&["ItemCollectionSizeLimitExceeded"][..], Cancelled::Defect),
        ] {
            assert_eq!(cancelled_by(&reasons(codes)), why, "{codes:?}");
        }
    }
}
