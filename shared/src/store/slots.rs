//! Slots: creating one without overlapping the provider's others, and listing the bookable ones.

use aws_sdk_dynamodb::types::Update;

use super::booking::put_new;
use super::conditional::{answered, made, patiently};
use super::guard::Guard;
use super::items::{item, ProviderProfile};
use super::keys::Range;
use super::page::Page;
use super::{from_item, keys, s, Item, Key, Store, StoreError};
use crate::retry::{retrying, retrying_with, Attempt, Retry, Spent};
use std::collections::HashMap;

use crate::domain::{ProviderId, Slot, SlotId, SlotStatus, UtcTime};

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("the slot overlaps other slots of the provider")]
    Overlap(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Retry for SlotError {
    fn is_transient(&self) -> bool {
        matches!(self, SlotError::Store(e) if e.is_transient())
    }

    fn spent(spent: Spent, _last: Option<Self>) -> Self {
        StoreError::from(spent).into()
    }
}

/// A day of a bulk creation, between attempts: the slots still to create and the day's guards as read.
struct DayWrite {
    slots: Vec<Slot>,
    guards: Vec<Guard>,
    /// Whether an attempt met a concurrent write (so the guards are read again).
    again: bool,
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
        retrying("create slot", || {
            self.create_slot_once(slot, &guard_keys, &id, now)
        })
        .await
    }

    async fn create_slot_once(
        &self,
        slot: &Slot,
        guard_keys: &[Key],
        id: &str,
        now: UtcTime,
    ) -> Result<Attempt<()>, SlotError> {
        let mut found = self.get_many(guard_keys).await?;
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
        let mut writes = vec![put_new(&self.table, item(slot)?)?];
        for g in &guards {
            writes.push(g.take(&self.table, id, &slot.interval(), now, None)?);
        }
        Ok(match self.transact(writes).await? {
            None => Attempt::Done(()),
            Some(_) => Attempt::Again,
        })
    }

    /// The open slots with a free seat of `range` (see [`Range::provider_slots`]), soonest first; one
    /// Query. `start_key` is a cursor the range has checked.
    /// The seat check is an attribute-to-attribute filter, so a page can hold fewer than `limit` items
    /// while `next` still points further.
    pub async fn available_slots(
        &self,
        range: &Range,
        limit: i32,
        start_key: Option<Item>,
    ) -> Result<Page<Slot>, StoreError> {
        let query = range
            .query(self)
            .filter_expression("#status = :available AND currentBookings < maxBookings")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .set_exclusive_start_key(start_key)
            .limit(limit);
        self.page(query).await
    }
}

type Blocking = (usize, Slot, Result<bool, StoreError>);

fn joined(
    next: Option<Result<Blocking, tokio::task::JoinError>>,
) -> Result<(usize, Slot, bool), StoreError> {
    let (i, slot, done) = next
        .expect("a task is running")
        .map_err(|e| StoreError::internal(format!("a block update panicked: {e}")))?;
    Ok((i, slot, done?))
}

/// What a bulk creation did.
#[derive(Debug, Default)]
pub struct Bulk {
    pub created: Vec<Slot>,
    /// Slots of the request that already existed (same provider and start: same id).
    pub existing: usize,
}

impl Store {
    /// Creates `slots` (all of one provider, with ids derived from their starts), one transaction per
    /// local day, days written concurrently with a bound. First one batch read per 100 UTC days of the
    /// provider's day guards: a slot whose id is already there exists, one that overlaps any other entry
    /// fails the whole request before anything is written.
    pub async fn create_many(
        &self,
        provider: ProviderId,
        days: Vec<(jiff::civil::Date, Vec<Slot>)>,
        time_zone: &str,
        now: UtcTime,
    ) -> Result<Bulk, SlotError> {
        let ours: std::collections::HashSet<String> = days
            .iter()
            .flat_map(|(_, s)| s.iter().map(|s| s.id.to_string()))
            .collect();
        let guard_keys = |slots: &[Slot]| -> Vec<Key> {
            let mut keys: Vec<Key> = slots
                .iter()
                .flat_map(|s| s.interval().utc_dates())
                .map(|d| keys::provider_day(provider, d))
                .collect();
            keys.dedup();
            keys
        };
        let all: Vec<Slot> = days.iter().flat_map(|(_, s)| s.clone()).collect();
        let mut wanted = guard_keys(&all);
        let profile_key = keys::provider_profile(provider);
        wanted.push(profile_key.clone());
        let mut found = self.get_many(&wanted).await?;
        let guards: HashMap<Key, Guard> = guard_keys(&all)
            .into_iter()
            .map(|k| Guard::read(k.clone(), found.remove(&k)).map(|g| (k, g)))
            .collect::<Result<_, _>>()?;

        let mut bulk = Bulk::default();
        let mut clashes = vec![];
        let mut todo = vec![];
        for (date, slots) in days {
            let mut fresh = vec![];
            for slot in slots {
                let id = slot.id.to_string();
                let day_guards: Vec<&Guard> = slot
                    .interval()
                    .utc_dates()
                    .iter()
                    .map(|d| &guards[&keys::provider_day(provider, *d)])
                    .collect();
                if day_guards.iter().any(|g| g.intervals.contains_key(&id)) {
                    bulk.existing += 1;
                    continue;
                }
                for g in &day_guards {
                    clashes.extend(
                        g.conflicts(&slot.interval(), None)
                            .into_iter()
                            .filter(|c| !ours.contains(c))
                            .map(|c| format!("{} overlaps {c}", slot.start_time)),
                    );
                }
                fresh.push(slot);
            }
            if !fresh.is_empty() {
                todo.push((date, fresh));
            }
        }
        clashes.sort();
        clashes.dedup();
        if !clashes.is_empty() {
            return Err(SlotError::Overlap(clashes));
        }

        let stored: Option<ProviderProfile> =
            found.remove(&profile_key).map(from_item).transpose()?;
        // The zone of this generation, recorded only when it changed (settings keep their own).
        let mut profile = match stored {
            Some(p) if p.time_zone.as_deref() == Some(time_zone) => None,
            _ => Some(self.zone_update(provider, time_zone, now)?),
        };
        if todo.is_empty() {
            if let Some(update) = profile {
                let put = self
                    .db
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(update.key))
                    .update_expression(update.update_expression)
                    .set_expression_attribute_names(update.expression_attribute_names)
                    .set_expression_attribute_values(update.expression_attribute_values);
                patiently("store the provider's zone", || put.clone().send()).await?;
            }
            return Ok(bulk);
        }

        const CONCURRENT_DAYS: usize = 8;
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DAYS));
        let mut tasks = tokio::task::JoinSet::new();
        for (_, slots) in todo {
            let store = self.clone();
            let day_guards: Vec<Guard> = guard_keys(&slots)
                .iter()
                .map(|k| guards[k].clone())
                .collect();
            let permits = permits.clone();
            let extra = profile.take();
            tasks.spawn(async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                store.write_day(slots, day_guards, extra, now).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            let slots =
                done.map_err(|e| StoreError::internal(format!("a day's write panicked: {e}")))??;
            bulk.created.extend(slots);
        }
        bulk.created.sort_by_key(|s| s.start_time);
        Ok(bulk)
    }

    /// One day of a bulk creation in one transaction; on a concurrent guard change, reads that day's
    /// guards again and retries. Returns the slots it created.
    async fn write_day(
        &self,
        slots: Vec<Slot>,
        guards: Vec<Guard>,
        profile: Option<Update>,
        now: UtcTime,
    ) -> Result<Vec<Slot>, SlotError> {
        let profile = profile.as_ref();
        let day = DayWrite {
            slots,
            guards,
            again: false,
        };
        retrying_with("write a day of slots", day, |mut day| async move {
            let outcome = self.write_day_once(&mut day, profile, now).await;
            (day, outcome)
        })
        .await
    }

    async fn write_day_once(
        &self,
        day: &mut DayWrite,
        profile: Option<&Update>,
        now: UtcTime,
    ) -> Result<Attempt<Vec<Slot>>, SlotError> {
        if day.again {
            tracing::debug!("a day of slots met a concurrent write; reading its guards again");
            let keys: Vec<Key> = day.guards.iter().map(|g| g.key.clone()).collect();
            let mut found = self.get_many(&keys).await?;
            day.guards = keys
                .into_iter()
                .map(|k| Guard::read(k.clone(), found.remove(&k)))
                .collect::<Result<_, _>>()?;
            // Slots that a concurrent identical request created meanwhile are done.
            let guards = &day.guards;
            day.slots.retain(|s| {
                !guards
                    .iter()
                    .any(|g| g.intervals.contains_key(&s.id.to_string()))
            });
            if day.slots.is_empty() {
                return Ok(Attempt::Done(vec![]));
            }
            let clashes: Vec<String> = day
                .slots
                .iter()
                .flat_map(|s| guards.iter().flat_map(|g| g.conflicts(&s.interval(), None)))
                .collect();
            if !clashes.is_empty() {
                return Err(SlotError::Overlap(clashes));
            }
        }
        day.again = true;
        let mut writes = vec![];
        for slot in &day.slots {
            writes.push(put_new(&self.table, item(slot)?)?);
        }
        for g in &day.guards {
            let date_key = &g.key;
            let entries: Vec<(String, crate::domain::Interval)> = day
                .slots
                .iter()
                .filter(|s| {
                    s.interval()
                        .utc_dates()
                        .iter()
                        .any(|d| &keys::provider_day(s.provider_id, *d) == date_key)
                })
                .map(|s| (s.id.to_string(), s.interval()))
                .collect();
            writes.push(g.take_all(&self.table, &entries, now, None)?);
        }
        if let Some(update) = profile.cloned() {
            writes.push(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .update(update)
                    .build(),
            );
        }
        Ok(match self.transact(writes).await? {
            None => Attempt::Done(std::mem::take(&mut day.slots)),
            Some(_) => Attempt::Again,
        })
    }

    /// A provider's slots starting in `[from, to)`, every page.
    pub async fn slots_between(
        &self,
        provider: ProviderId,
        from: UtcTime,
        to: UtcTime,
    ) -> Result<Vec<Slot>, StoreError> {
        self.all_pages(Range::provider_slots(provider, from, to).query(self))
            .await
    }

    /// Blocks each of `slots` that is still open without bookings, a few updates at a time; each comes back
    /// with whether it was blocked (`false`: booked or changed meanwhile), in the order given. On a failure
    /// the updates already sent stand, and a repeated request skips them as `already_blocked`.
    pub async fn block_slots(
        &self,
        slots: Vec<Slot>,
        reason: Option<&str>,
        now: UtcTime,
    ) -> Result<Vec<(Slot, bool)>, StoreError> {
        const CONCURRENT: usize = 8;
        let reason = reason.map(str::to_owned);
        let mut out: Vec<Option<(Slot, bool)>> = slots.iter().map(|_| None).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, slot) in slots.into_iter().enumerate() {
            if tasks.len() == CONCURRENT {
                let (i, slot, done) = joined(tasks.join_next().await)?;
                out[i] = Some((slot, done));
            }
            let (store, reason) = (self.clone(), reason.clone());
            tasks.spawn(async move {
                let done = store.block_slot(&slot, reason.as_deref(), now).await;
                (i, slot, done)
            });
        }
        while let Some(next) = tasks.join_next().await {
            let (i, slot, done) = joined(Some(next))?;
            out[i] = Some((slot, done));
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Blocks `slot` if it is open and has no bookings; `Ok(false)` if it changed meanwhile.
    pub async fn block_slot(
        &self,
        slot: &Slot,
        reason: Option<&str>,
        now: UtcTime,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::slot(slot.id))))
            .update_expression(if reason.is_some() {
                "SET #status = :blocked, updatedAt = :now, blockReason = :reason"
            } else {
                "SET #status = :blocked, updatedAt = :now"
            })
            .condition_expression("#status = :available AND currentBookings = :zero")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":blocked", s(SlotStatus::Blocked.as_str()))
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .expression_attribute_values(
                ":zero",
                aws_sdk_dynamodb::types::AttributeValue::N("0".into()),
            )
            .expression_attribute_values(":now", s(now.to_string()));
        if let Some(r) = reason {
            update = update.expression_attribute_values(":reason", s(r));
        }
        made(answered("block slot", || update.clone().send()).await?)
    }

    /// Opens a blocked slot without bookings again, in one conditional write. `Err(Some(slot))` is the
    /// slot as it was when the condition failed; `Err(None)`: there is no such slot.
    pub async fn release_slot(
        &self,
        id: SlotId,
        provider: Option<ProviderId>,
        now: UtcTime,
    ) -> Result<Result<Slot, Option<Slot>>, StoreError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
        let mut condition = "#status = :blocked AND currentBookings = :zero".to_owned();
        let mut update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::slot(id))))
            .update_expression("SET #status = :available, updatedAt = :now REMOVE blockReason")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":blocked", s(SlotStatus::Blocked.as_str()))
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .expression_attribute_values(
                ":zero",
                aws_sdk_dynamodb::types::AttributeValue::N("0".into()),
            )
            .expression_attribute_values(":now", s(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(p) = provider {
            condition.push_str(" AND providerId = :me");
            update = update.expression_attribute_values(":me", s(p.to_string()));
        }
        let update = update.condition_expression(condition);
        match answered("release slot", || update.clone().send()).await? {
            Ok(out) => Ok(Ok(from_item(out.attributes.unwrap_or_default())?)),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(e)) => match e.into_err() {
                UpdateItemError::ConditionalCheckFailedException(f) => {
                    Ok(Err(f.item.map(from_item).transpose()?))
                }
                other => Err(StoreError::service(other)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Records `zone` as the provider's last bulk generation's, leaving their settings alone.
    fn zone_update(
        &self,
        provider: ProviderId,
        zone: &str,
        now: UtcTime,
    ) -> Result<Update, StoreError> {
        Ok(Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::provider_profile(provider))))
            .update_expression("SET #zone = :zone, providerId = :provider, updatedAt = :now")
            .expression_attribute_names("#zone", "timeZone")
            .expression_attribute_values(":zone", super::s(zone))
            .expression_attribute_values(":provider", super::s(provider.to_string()))
            .expression_attribute_values(":now", super::s(now.to_string()))
            .build()?)
    }

    /// The provider's zone: their settings', else their last bulk generation's; `None` if neither.
    pub async fn provider_time_zone(
        &self,
        provider: ProviderId,
    ) -> Result<Option<String>, StoreError> {
        let profile = self.profile(provider).await?;
        Ok(profile.and_then(|p| p.zone_name().map(str::to_owned)))
    }
}
