//! Slots: creating one without overlapping the provider's others, and listing the bookable ones.

use aws_sdk_dynamodb::types::Put;

use super::guard::Guard;
use super::page::{self, Page};
use super::{backoff, from_item, keys, s, Item, Key, Store, StoreError, MAX_ATTEMPTS};
use crate::domain::{ProviderId, Slot, SlotStatus, UtcTime};

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("the slot overlaps other slots of the provider")]
    Overlap(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Puts `slot` and records its time in the provider's day guards, in one transaction per attempt.
    pub async fn create_slot(&self, slot: &Slot, now: UtcTime) -> Result<(), SlotError> {
        let guard_keys: Vec<Key> = slot
            .interval()
            .utc_dates()
            .into_iter()
            .map(|d| keys::provider_day(slot.provider_id, d))
            .collect();
        let id = slot.id.to_string();
        for attempt in 1..=MAX_ATTEMPTS {
            let mut found = self.get_many(&guard_keys).await?;
            let guards: Vec<Guard> = guard_keys
                .iter()
                .map(|k| Guard::read(k.clone(), found.remove(k)))
                .collect::<Result<_, _>>()?;
            let mut clashes: Vec<String> = guards
                .iter()
                .flat_map(|g| g.conflicts(&slot.interval(), None))
                .collect();
            clashes.sort();
            clashes.dedup();
            if !clashes.is_empty() {
                return Err(SlotError::Overlap(clashes));
            }
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(super::slot_item(slot)?))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .map_err(StoreError::from)?;
            let mut writes = vec![aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(put)
                .build()];
            for g in &guards {
                writes.push(g.take(&self.table, &id, &slot.interval(), now, None)?);
            }
            if self.transact(writes).await?.is_none() {
                return Ok(());
            }
            tracing::debug!(attempt, "slot creation met a concurrent write; retrying");
            backoff(attempt).await;
        }
        Err(StoreError::Contended(MAX_ATTEMPTS).into())
    }

    /// A provider's open slots with a free seat that start in `[from, to)`, soonest first; one Query.
    /// `start_key` is a cursor already checked against this partition (see [`page::decode`]).
    /// The seat check is an attribute-to-attribute filter, so a page can hold fewer than `limit` items
    /// while `next` still points further.
    pub async fn available_slots(
        &self,
        provider: ProviderId,
        from: UtcTime,
        to: UtcTime,
        limit: i32,
        start_key: Option<Item>,
    ) -> Result<Page<Slot>, StoreError> {
        let pk = keys::provider_slots(provider);
        let (lo, hi) = (from.to_string(), to.to_string());
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK BETWEEN :lo AND :hi")
            .filter_expression("#status = :available AND currentBookings < maxBookings")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .set_exclusive_start_key(start_key)
            .limit(limit)
            .send()
            .await?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Slot>, _>>()?;
        Ok(Page {
            items,
            next: out.last_evaluated_key.as_ref().map(page::encode),
        })
    }
}
