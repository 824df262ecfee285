//! Slots: creating one without overlapping the provider's others, and listing the bookable ones.

use aws_sdk_dynamodb::types::Update;

use super::booking::put_new;
use super::conditional::{answered, made, patiently};
use super::guard::Guard;
use super::items::{item, ProviderProfile};
use super::keys::Range;
use super::page::Page;
use super::resources::{day_keys, first_taken, Taken};
use super::{from_item, keys, s, Item, Key, Store, StoreError};
use crate::retry::{retrying, retrying_with, Attempt, Retry, Spent};
use std::collections::HashMap;

use crate::domain::{ProviderId, Slot, SlotId, SlotStatus, UtcTime};

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("the slot overlaps other slots of the provider")]
    Overlap(Vec<String>),
    /// A room or a device the slot names is held by other slots then (as many as it has capacity for).
    #[error("{0}")]
    Taken(Taken),
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
    guards: HashMap<Key, Guard>,
    /// Whether an attempt met a concurrent write (so the guards are read again).
    again: bool,
}

/// How much of each resource may be held at once, by id (from the resources as read).
pub type Capacities = HashMap<uuid::Uuid, u32>;

/// Every guard a slot takes: the provider's days, then each resource's days.
fn guard_keys_of(slot: &Slot) -> Vec<Key> {
    let iv = slot.interval();
    let mut keys: Vec<Key> = iv
        .utc_dates()
        .into_iter()
        .map(|d| keys::provider_day(slot.provider_id, d))
        .collect();
    keys.extend(day_keys(&slot.resources, &iv));
    keys
}

/// The provider's slots that `slot` overlaps, by their guards as read (each id once, sorted).
fn overlaps(slot: &Slot, guards: &HashMap<Key, Guard>) -> Vec<String> {
    let iv = slot.interval();
    let mut ids: Vec<String> = iv
        .utc_dates()
        .into_iter()
        .filter_map(|d| guards.get(&keys::provider_day(slot.provider_id, d)))
        .flat_map(|g| g.conflicts(&iv, None))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

impl Store {
    /// Puts `slot` and records its time in the provider's day guards and in those of each resource it
    /// names (`capacity` by resource id), in one transaction per attempt.
    pub async fn create_slot(
        &self,
        slot: &Slot,
        capacity: &Capacities,
        now: UtcTime,
    ) -> Result<(), SlotError> {
        let guard_keys = guard_keys_of(slot);
        let id = slot.id.to_string();
        retrying("create slot", || {
            self.create_slot_once(slot, capacity, &guard_keys, &id, now)
        })
        .await
    }

    async fn create_slot_once(
        &self,
        slot: &Slot,
        capacity: &Capacities,
        guard_keys: &[Key],
        id: &str,
        now: UtcTime,
    ) -> Result<Attempt<()>, SlotError> {
        let mut found = self.get_many(guard_keys).await?;
        let guards = Guard::read_all(guard_keys, &mut found)?;
        let iv = slot.interval();
        let clashes = overlaps(slot, &guards);
        if !clashes.is_empty() {
            return Err(SlotError::Overlap(clashes));
        }
        if let Some(taken) = first_taken(&slot.resources, capacity, &guards, &iv) {
            return Err(SlotError::Taken(taken));
        }
        let mut writes = vec![put_new(&self.table, item(slot)?)?];
        for k in guard_keys {
            writes.push(guards[k].take(&self.table, id, &iv, now, None)?);
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

/// Why a slot was not released.
#[derive(Debug)]
pub enum Unreleased {
    /// There is no such slot.
    Gone,
    /// The slot as it is, which the release's conditions refuse (not blocked, booked, another's).
    As(Slot),
    /// A room or device it names is held by another slot now.
    Taken(Taken),
}

/// What a bulk creation did.
#[derive(Debug, Default)]
pub struct Bulk {
    pub created: Vec<Slot>,
    /// Slots of the request that already existed (same provider and start: same id).
    pub existing: usize,
    /// Local days not created because a resource they name is held by other slots then.
    pub refused: Vec<RefusedDay>,
}

/// A local day of a bulk creation left out whole, with every slot of it that could not take a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedDay {
    pub date: jiff::civil::Date,
    /// Each refused slot's start and what holds the resource then.
    pub conflicts: Vec<(UtcTime, Taken)>,
}

/// How one day's write ended.
enum DayDone {
    Created(Vec<Slot>),
    Refused(RefusedDay),
}

/// The guard keys of `slots`, each once, in a stable order.
fn guard_keys_of_all(slots: &[Slot]) -> Vec<Key> {
    let mut seen = std::collections::HashSet::new();
    slots
        .iter()
        .flat_map(guard_keys_of)
        .filter(|k| seen.insert(k.clone()))
        .collect()
}

/// The actions one day's transaction of `slots` may hold: a put per slot, a write per guard they take
/// (the provider's and their resources', per UTC date), and the provider's zone, which the first day
/// written of a bulk request records.
pub fn day_actions(slots: &[Slot]) -> usize {
    slots.len() + guard_keys_of_all(slots).len() + 1
}

/// The slots of a day that cannot take a resource they name, given the guards as read.
fn refusals(
    date: jiff::civil::Date,
    slots: &[Slot],
    capacity: &Capacities,
    guards: &HashMap<Key, Guard>,
) -> Option<RefusedDay> {
    let conflicts: Vec<(UtcTime, Taken)> = slots
        .iter()
        .filter_map(|s| {
            first_taken(&s.resources, capacity, guards, &s.interval()).map(|t| (s.start_time, t))
        })
        .collect();
    (!conflicts.is_empty()).then_some(RefusedDay { date, conflicts })
}

impl Store {
    /// Creates `slots` (all of one provider, with ids derived from their starts), one transaction per
    /// local day, days written concurrently with a bound. First one batch read per 100 keys of the
    /// provider's day guards and those of the resources the slots name: a slot whose id is already
    /// there exists; one that overlaps any other slot of the provider fails the whole request before
    /// anything is written; a day with a slot whose resource is held then (up to its `capacity`) is
    /// left out whole and named in [`Bulk::refused`], and the other days are created.
    pub async fn create_many(
        &self,
        provider: ProviderId,
        days: Vec<(jiff::civil::Date, Vec<Slot>)>,
        capacity: &Capacities,
        time_zone: &str,
        now: UtcTime,
    ) -> Result<Bulk, SlotError> {
        let ours: std::collections::HashSet<String> = days
            .iter()
            .flat_map(|(_, s)| s.iter().map(|s| s.id.to_string()))
            .collect();
        let all: Vec<Slot> = days.iter().flat_map(|(_, s)| s.clone()).collect();
        let guard_keys = guard_keys_of_all(&all);
        let profile_key = keys::provider_profile(provider);
        let mut wanted = guard_keys.clone();
        wanted.push(profile_key.clone());
        let mut found = self.get_many(&wanted).await?;
        let guards = Guard::read_all(&guard_keys, &mut found)?;

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
            if fresh.is_empty() {
                continue;
            }
            match refusals(date, &fresh, capacity, &guards) {
                Some(refused) => bulk.refused.push(refused),
                None => todo.push((date, fresh)),
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
        for (date, slots) in todo {
            let store = self.clone();
            let day_guards: HashMap<Key, Guard> = guard_keys_of_all(&slots)
                .into_iter()
                .map(|k| {
                    let g = guards[&k].clone();
                    (k, g)
                })
                .collect();
            let permits = permits.clone();
            let extra = profile.take();
            let capacity = capacity.clone();
            tasks.spawn(async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                store
                    .write_day(date, slots, day_guards, &capacity, extra, now)
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done
                .map_err(|e| StoreError::internal(format!("a day's write panicked: {e}")))??
            {
                DayDone::Created(slots) => bulk.created.extend(slots),
                DayDone::Refused(day) => bulk.refused.push(day),
            }
        }
        bulk.created.sort_by_key(|s| s.start_time);
        bulk.refused.sort_by_key(|d| d.date);
        Ok(bulk)
    }

    /// One day of a bulk creation in one transaction; on a concurrent guard change, reads that day's
    /// guards again and retries (and leaves the day out if a resource was taken meanwhile).
    async fn write_day(
        &self,
        date: jiff::civil::Date,
        slots: Vec<Slot>,
        guards: HashMap<Key, Guard>,
        capacity: &Capacities,
        profile: Option<Update>,
        now: UtcTime,
    ) -> Result<DayDone, SlotError> {
        let profile = profile.as_ref();
        let day = DayWrite {
            slots,
            guards,
            again: false,
        };
        retrying_with("write a day of slots", day, |mut day| async move {
            let outcome = self
                .write_day_once(date, &mut day, capacity, profile, now)
                .await;
            (day, outcome)
        })
        .await
    }

    async fn write_day_once(
        &self,
        date: jiff::civil::Date,
        day: &mut DayWrite,
        capacity: &Capacities,
        profile: Option<&Update>,
        now: UtcTime,
    ) -> Result<Attempt<DayDone>, SlotError> {
        if day.again {
            tracing::debug!("a day of slots met a concurrent write; reading its guards again");
            let keys: Vec<Key> = day.guards.keys().cloned().collect();
            let mut found = self.get_many(&keys).await?;
            day.guards = Guard::read_all(&keys, &mut found)?;
            // Slots that a concurrent identical request created meanwhile are done.
            let guards = &day.guards;
            day.slots.retain(|s| {
                !guards
                    .values()
                    .any(|g| g.intervals.contains_key(&s.id.to_string()))
            });
            if day.slots.is_empty() {
                return Ok(Attempt::Done(DayDone::Created(vec![])));
            }
            let clashes: Vec<String> = day.slots.iter().flat_map(|s| overlaps(s, guards)).collect();
            if !clashes.is_empty() {
                return Err(SlotError::Overlap(clashes));
            }
            if let Some(refused) = refusals(date, &day.slots, capacity, guards) {
                return Ok(Attempt::Done(DayDone::Refused(refused)));
            }
        }
        day.again = true;
        let mut writes = vec![];
        // Each slot's entry goes to the guard of every day it takes (the provider's and its resources').
        let mut entries: HashMap<Key, Vec<(String, crate::domain::Interval)>> = HashMap::new();
        for slot in &day.slots {
            writes.push(put_new(&self.table, item(slot)?)?);
            for k in guard_keys_of(slot) {
                entries
                    .entry(k)
                    .or_default()
                    .push((slot.id.to_string(), slot.interval()));
            }
        }
        for (k, g) in &day.guards {
            let taken = entries.get(k).map(Vec::as_slice).unwrap_or_default();
            writes.push(g.take_all(&self.table, taken, now, None)?);
        }
        if let Some(update) = profile.cloned() {
            writes.push(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .update(update)
                    .build(),
            );
        }
        Ok(match self.transact(writes).await? {
            None => Attempt::Done(DayDone::Created(std::mem::take(&mut day.slots))),
            Some(_) => Attempt::Again,
        })
    }

    /// The slots with these ids that exist, in the order asked (a BatchGetItem per 100).
    pub async fn slots_by_id(&self, ids: &[SlotId]) -> Result<Vec<Slot>, StoreError> {
        self.existing(ids.iter().map(|id| keys::slot(*id)).collect())
            .await
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

    /// Blocks `slot` if it is open and has no bookings; `Ok(false)` if it changed meanwhile. A slot that
    /// holds rooms or equipment gives their time back in the same transaction, so another slot may take
    /// them while it is blocked.
    pub async fn block_slot(
        &self,
        slot: &Slot,
        reason: Option<&str>,
        now: UtcTime,
    ) -> Result<bool, StoreError> {
        let mut update = Update::builder()
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
            .expression_attribute_values(":zero", super::n(0))
            .expression_attribute_values(":now", s(now.to_string()));
        if let Some(r) = reason {
            update = update.expression_attribute_values(":reason", s(r));
        }
        let update = update.build()?;
        if slot.resources.is_empty() {
            let single = self.alone(&update);
            return made(answered("block slot", || single.clone().send()).await?);
        }
        let id = slot.id.to_string();
        let mut writes = vec![aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(update)
            .build()];
        for k in day_keys(&slot.resources, &slot.interval()) {
            writes.push(Guard::give_back(&self.table, &k, &id)?);
        }
        retrying("block slot", || async {
            Ok::<_, StoreError>(Attempt::Done(
                self.transact(writes.clone()).await?.is_none(),
            ))
        })
        .await
    }

    /// Opens a blocked slot without bookings again, in one conditional write; one that names rooms or
    /// equipment takes their time again first (their guards read, then one transaction), and is refused
    /// with [`Unreleased::Taken`] if another slot holds one then. The slot as it is now, or why not.
    pub async fn release_slot(
        &self,
        id: SlotId,
        provider: Option<ProviderId>,
        now: UtcTime,
    ) -> Result<Result<Slot, Unreleased>, StoreError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
        let (condition, update) = self.release_update(id, provider, now)?;
        let single = self
            .alone(&update)
            // A slot with resources goes the longer way, below.
            .condition_expression(format!("{condition} AND attribute_not_exists(resources)"))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let old: Option<Slot> = match answered("release slot", || single.clone().send()).await? {
            Ok(out) => return Ok(Ok(from_item(out.attributes.unwrap_or_default())?)),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(e)) => match e.into_err() {
                UpdateItemError::ConditionalCheckFailedException(f) => {
                    f.item.map(from_item).transpose()?
                }
                other => return Err(StoreError::service(other)),
            },
            Err(e) => return Err(e.into()),
        };
        let Some(old) = old else {
            return Ok(Err(Unreleased::Gone));
        };
        let releasable = old.status == SlotStatus::Blocked
            && old.current_bookings == 0
            && provider.is_none_or(|p| p == old.provider_id);
        if !releasable || old.resources.is_empty() {
            return Ok(Err(Unreleased::As(old)));
        }
        retrying("release slot", || {
            self.release_with_resources(&old, &update, now)
        })
        .await
    }

    /// The update that opens slot `id` again, and its condition (blocked, no bookings, `provider`'s).
    fn release_update(
        &self,
        id: SlotId,
        provider: Option<ProviderId>,
        now: UtcTime,
    ) -> Result<(String, Update), StoreError> {
        let mut condition = "#status = :blocked AND currentBookings = :zero".to_owned();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::slot(id))))
            .update_expression("SET #status = :available, updatedAt = :now REMOVE blockReason")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":blocked", s(SlotStatus::Blocked.as_str()))
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .expression_attribute_values(":zero", super::n(0))
            .expression_attribute_values(":now", s(now.to_string()));
        if let Some(p) = provider {
            condition.push_str(" AND providerId = :me");
            update = update.expression_attribute_values(":me", s(p.to_string()));
        }
        let update = update.condition_expression(condition.clone()).build()?;
        Ok((condition, update))
    }

    async fn release_with_resources(
        &self,
        old: &Slot,
        update: &Update,
        now: UtcTime,
    ) -> Result<Attempt<Result<Slot, Unreleased>>, StoreError> {
        let iv = old.interval();
        let guard_keys = day_keys(&old.resources, &iv);
        let location: Option<uuid::Uuid> = old
            .location_id
            .as_deref()
            .and_then(|l| l.trim().parse().ok());
        let mut wanted = guard_keys.clone();
        if let Some(l) = location {
            wanted.extend(old.resources.iter().map(|r| keys::resource(l, r.id)));
        }
        let mut found = self.get_many(&wanted).await?;
        let guards = Guard::read_all(&guard_keys, &mut found)?;
        let mut capacity = Capacities::new();
        if let Some(l) = location {
            for r in &old.resources {
                if let Some(item) = found.remove(&keys::resource(l, r.id)) {
                    let stored: crate::domain::resource::Resource = from_item(item)?;
                    capacity.insert(r.id, stored.capacity);
                }
            }
        }
        if let Some(taken) = first_taken(&old.resources, &capacity, &guards, &iv) {
            return Ok(Attempt::Done(Err(Unreleased::Taken(taken))));
        }
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Slot,
            Guard,
        }
        let id = old.id.to_string();
        let mut writes = super::Writes::new();
        writes.add(
            W::Slot,
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .update(update.clone())
                .build(),
        );
        for k in &guard_keys {
            writes.add(W::Guard, guards[k].take(&self.table, &id, &iv, now, None)?);
        }
        match self.commit(writes).await? {
            None => {
                let mut open = old.clone();
                open.status = SlotStatus::Available;
                open.block_reason = None;
                open.updated_at = now;
                Ok(Attempt::Done(Ok(open)))
            }
            // The slot changed meanwhile: as it is now. A guard that moved: read it again.
            Some(refused) if refused.has(W::Slot) => {
                let now_is: Option<Slot> = self.read(&keys::slot(old.id)).await?;
                Ok(Attempt::Done(Err(
                    now_is.map_or(Unreleased::Gone, Unreleased::As)
                )))
            }
            Some(_) => Ok(Attempt::Again),
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
