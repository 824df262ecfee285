//! The single-table mapping: keys, items, conditional writes and transactions.
//!
//! Items (de)serialize with serde_dynamo from the domain types, plus their key attributes. Every write
//! that could double-book is a conditional write or a transaction (see `booking`), so correctness does
//! not depend on the order in which concurrent requests arrive.

pub mod booking;
pub mod guard;
pub mod keys;
pub mod lifecycle;
pub mod lists;
pub mod page;
pub mod slots;
pub mod types;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{Appointment, AppointmentId, Slot, SlotId};
pub use keys::Key;

pub type Item = HashMap<String, AttributeValue>;

/// The table and the client that reaches it; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: aws_sdk_dynamodb::Client,
    pub table: String,
}

/// Failures of the store itself, as opposed to a rule saying no.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB request failed: {0}")]
    Dynamo(String),
    #[error("a stored item does not have the expected shape: {0}")]
    Corrupt(String),
    #[error("gave up after {0} attempts that each met a concurrent write")]
    Contended(u32),
}

impl<E: std::error::Error + 'static, R: std::fmt::Debug> From<SdkError<E, R>> for StoreError {
    fn from(e: SdkError<E, R>) -> Self {
        StoreError::Dynamo(DisplayErrorContext(e).to_string())
    }
}

impl From<aws_sdk_dynamodb::error::BuildError> for StoreError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        StoreError::Dynamo(e.to_string())
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
    Ok(serde_dynamo::from_item(item)?)
}

pub fn appointment_item(a: &Appointment) -> Result<Item, StoreError> {
    let by_start = keys::by_start(a.start_time, a.id);
    to_item(
        a,
        &keys::appointment(a.id),
        &[
            (keys::GSI1PK, keys::patient_appointments(a.patient_id)),
            (keys::GSI1SK, by_start.clone()),
            (keys::GSI2PK, keys::provider_appointments(a.provider_id)),
            (keys::GSI2SK, by_start),
        ],
    )
}

pub fn slot_item(slot: &Slot) -> Result<Item, StoreError> {
    to_item(
        slot,
        &keys::slot(slot.id),
        &[
            (keys::GSI1PK, keys::provider_slots(slot.provider_id)),
            (keys::GSI1SK, keys::by_start(slot.start_time, slot.id)),
        ],
    )
}

/// A short random pause before retrying after a concurrent write, so that racing writers spread out.
pub async fn backoff(attempt: u32) {
    let jitter = (uuid::Uuid::new_v4().as_u128() % 20) as u64;
    tokio::time::sleep(std::time::Duration::from_millis(
        5 * u64::from(attempt) + jitter,
    ))
    .await;
}

/// How many times a write that met a concurrent write is re-read and retried.
pub const MAX_ATTEMPTS: u32 = 8;

impl Store {
    pub fn new(db: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Store {
        Store {
            db,
            table: table.into(),
        }
    }

    /// One strongly consistent GetItem.
    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }

    pub async fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StoreError> {
        self.get(&keys::appointment(id))
            .await?
            .map(from_item)
            .transpose()
    }

    pub async fn slot(&self, id: SlotId) -> Result<Option<Slot>, StoreError> {
        self.get(&keys::slot(id)).await?.map(from_item).transpose()
    }

    /// Every item a query matches, page after page (for reports and whole days, not for client paging).
    pub async fn all_pages(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = vec![];
        let mut start: Option<Item> = None;
        loop {
            let page = query.clone().set_exclusive_start_key(start).send().await?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// One TransactWriteItems. `Ok(None)` when it committed; `Ok(Some(reasons))` when a condition or a
    /// concurrent transaction cancelled it, one reason per write in order.
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
                    Ok(Some(c.cancellation_reasons.unwrap_or_default()))
                }
                other => Err(StoreError::Dynamo(DisplayErrorContext(other).to_string())),
            },
        }
    }

    /// Consistent BatchGetItems, 100 keys each (the API's limit); answers by key. Unprocessed keys
    /// (throttling) are fetched again, which is the only case that costs more requests.
    pub async fn get_many(&self, wanted: &[Key]) -> Result<HashMap<Key, Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = HashMap::new();
        let mut unique: Vec<Item> = vec![];
        for key in wanted.iter().map(key_item) {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        for chunk in unique.chunks(100) {
            let mut pending: Vec<Item> = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()?;
                let out = self
                    .db
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let key = item_key(&item)?;
                    found.insert(key, item);
                }
                if let Some(rest) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    pending = rest.keys;
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(StoreError::Contended(attempt));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(found)
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
