//! The waitlist's writes (DESIGN.md sections 5 and 6): joining, offering a freed seat and holding it,
//! accepting, declining, cancelling, and an offer lapsing.
//!
//! A held seat is a taken seat: the offer's transaction adds one to the slot's `currentBookings` (so
//! nobody else can book it and `GET /slots/available` no longer shows it) and records the entry in
//! the slot's `heldFor` string set. Accepting keeps the seat and turns the hold into an appointment;
//! declining, cancelling and a lapse give it back. Every one of these is one transaction conditioned on
//! the entry's status and offer count as read, so of two racing answers exactly one applies.
//!
//! One active entry per patient, provider and date: the join puts a claim item
//! (`keys::waiting_claim`) under `attribute_not_exists(PK) OR active = false`; an entry that ends sets
//! it inactive in the same transaction. Nothing here deletes an item.

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use jiff::tz::TimeZone;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::booking::{put_new, BookingError};
use super::guard::Guard;
use super::items::{item, Stored};
use super::keys::Range;
use super::keys::{self, Key};
use super::page::Page;
use super::{from_item, key_item, n, s, Item, Store, StoreError, Writes};
use crate::domain::admission::{admit, Inadmissible};
use crate::domain::waitlist::{next_for, Ending, Entry, EntryStatus, NotEnded};
use crate::domain::{
    Appointment, ConsultationType, EntryId, PatientId, ProviderId, Slot, SlotId, SlotStatus,
    UtcTime,
};
use crate::retry::{retrying, retrying_with, Attempt, Retry, Spent};

/// An offer is made only for a slot that starts at least this far ahead.
pub const LEAST_NOTICE: SignedDuration = SignedDuration::from_mins(1);

impl Stored for Entry {
    fn key(&self) -> Key {
        keys::waitlist_entry(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::provider_waitlist(self.provider_id)),
            (
                keys::GSI1SK,
                keys::queue_rank(
                    self.preferred_date.date(),
                    self.priority,
                    self.created_at,
                    self.id,
                ),
            ),
            (keys::GSI2PK, keys::patient_waitlist(self.patient_id)),
            (keys::GSI2SK, keys::by_start(self.created_at, self.id)),
        ]
    }
}

/// The claim that a patient has an active entry for a provider's date.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claim {
    entry_id: EntryId,
    active: bool,
}

/// What an offer's expiry found.
#[derive(Clone, Debug, PartialEq)]
pub enum Lapse {
    /// No such entry.
    Gone,
    /// The offer still stands until `ends`: the expiry came early (Scheduler fires anywhere in the
    /// minute of its time).
    Early { ends: UtcTime },
    /// The offer had ended before (answered, cancelled, lapsed): the entry as it is.
    Ended(Box<Entry>),
    /// The offer lapsed now: the entry as it became.
    Lapsed(Box<Entry>),
}

#[derive(Debug, thiserror::Error)]
pub enum WaitlistError {
    #[error("waitlist entry not found")]
    NotFound,
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("the patient already waits for this provider on that date (entry {0})")]
    AlreadyWaiting(EntryId),
    #[error("appointment type not found")]
    TypeNotFound,
    #[error("the appointment type is no longer offered")]
    TypeInactive,
    #[error("the entry holds no offer")]
    NoOffer,
    #[error("the offer has expired")]
    OfferExpired,
    #[error("the entry has ended ({})", .0.as_str())]
    Closed(EntryStatus),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<NotEnded> for WaitlistError {
    fn from(e: NotEnded) -> Self {
        match e {
            NotEnded::Closed(status) => WaitlistError::Closed(status),
            NotEnded::OfferExpired => WaitlistError::OfferExpired,
            NotEnded::NoOffer => WaitlistError::NoOffer,
        }
    }
}

impl Retry for WaitlistError {
    fn is_transient(&self) -> bool {
        match self {
            WaitlistError::Store(e) => e.is_transient(),
            WaitlistError::Booking(e) => e.is_transient(),
            _ => false,
        }
    }

    fn spent(spent: Spent, _last: Option<Self>) -> Self {
        StoreError::from(spent).into()
    }
}

impl From<aws_sdk_dynamodb::error::BuildError> for WaitlistError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        WaitlistError::Store(e.into())
    }
}

impl From<Inadmissible> for WaitlistError {
    fn from(e: Inadmissible) -> Self {
        WaitlistError::Booking(e.into())
    }
}

/// What an accept produced: the appointment in the held seat.
#[derive(Debug)]
pub enum Accepted {
    New(Appointment),
    /// The entry was accepted before (a retried request): its appointment, unchanged.
    Replayed(Appointment),
}

/// What the patient asks for when accepting.
#[derive(Clone, Debug, Default)]
pub struct Acceptance {
    pub consultation_type: Option<ConsultationType>,
    pub reason_for_visit: Option<String>,
    pub max_active: usize,
}

/// Who may act on an entry, decided by the caller from the entry as read.
pub type May<'a> = &'a (dyn Fn(&Entry) -> Result<(), WaitlistError> + Sync);

/// Whose entries a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Patient(PatientId),
    Provider(ProviderId, Option<jiff::civil::Date>),
}

#[derive(Clone, Debug)]
pub struct WaitlistQuery {
    pub queue: Queue,
    /// Any of these; empty: all.
    pub statuses: Vec<EntryStatus>,
    /// Only entries with this counterpart (the provider on a patient's list, the patient on a queue).
    pub with: Option<uuid::Uuid>,
    pub limit: i32,
}

impl WaitlistQuery {
    pub fn range(&self) -> Range {
        match self.queue {
            Queue::Patient(p) => Range::patient_entries(p),
            Queue::Provider(p, date) => Range::provider_queue(p, date),
        }
    }
}

fn status_is(expected: EntryStatus) -> AttributeValue {
    s(expected.as_str())
}

/// How a hold on a seat ends.
#[derive(Clone, Copy)]
enum HoldEnds {
    GivenBack,
    Booked,
}

/// What [`Store::offer_seats`] carries from one round to the next.
#[derive(Default)]
struct OfferRound {
    offered: Vec<EntryId>,
    /// The queue as read, less the entries offered since.
    queue: Option<Vec<Entry>>,
    /// The provider's rules, read with the slot the first time.
    rules: Option<crate::domain::settings::Rules>,
}

impl Store {
    pub async fn waitlist_entry(&self, id: EntryId) -> Result<Option<Entry>, StoreError> {
        self.read(&keys::waitlist_entry(id)).await
    }

    /// The provider's time zone (stored, else UTC), or `None` for a provider the service does not know:
    /// no profile and no slot. One GetItem, and a one-item Query when there is no profile.
    pub async fn known_provider_zone(
        &self,
        provider: ProviderId,
    ) -> Result<Option<TimeZone>, StoreError> {
        if let Some(profile) = self.profile(provider).await? {
            return Ok(Some(self.rules_of(Some(&profile)).zone()));
        }
        Ok(self.has_slots(provider).await?.then_some(TimeZone::UTC))
    }

    /// Whether the provider has published any slot (one Query of one item).
    pub async fn has_slots(&self, provider: ProviderId) -> Result<bool, StoreError> {
        let far = UtcTime::start_of(jiff::civil::date(2100, 1, 1));
        let early = UtcTime::start_of(jiff::civil::date(2000, 1, 1));
        let query = Range::provider_slots(provider, early, far)
            .query(self)
            .limit(1);
        let page: Page<serde::de::IgnoredAny> = self.page(query).await?;
        Ok(!page.items.is_empty() || page.next.is_some())
    }

    /// Puts a new entry and its claim in one transaction (with a check that its appointment type
    /// exists and is active): `AlreadyWaiting` when the patient has an active entry for that provider
    /// and date.
    pub async fn join_waitlist(&self, entry: &Entry) -> Result<(), WaitlistError> {
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Entry,
            Claim,
            Type,
        }
        let claim_key = keys::waiting_claim(
            entry.patient_id,
            entry.provider_id,
            entry.preferred_date.date(),
        );
        let claim = Claim {
            entry_id: entry.id,
            active: true,
        };
        let mut writes = Writes::new();
        writes.add(W::Entry, put_new(&self.table, item(entry)?)?);
        let put_claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(super::to_item(&claim, &claim_key, &[])?))
            .condition_expression("attribute_not_exists(PK) OR active = :no")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        writes.add(
            W::Claim,
            TransactWriteItem::builder().put(put_claim).build(),
        );
        if let Some(t) = entry.appointment_type_id {
            let key = keys::appointment_type(t);
            writes.add(W::Type, super::booking::still_active(&self.table, &key)?);
        }
        retrying("join waitlist", || {
            let writes = writes.clone();
            async move {
                let Some(refused) = self.commit(writes).await? else {
                    return Ok(Attempt::Done(()));
                };
                if refused.has(W::Type) {
                    return Err(match refused.item(W::Type) {
                        None => WaitlistError::TypeNotFound,
                        Some(_) => WaitlistError::TypeInactive,
                    });
                }
                if let Some(old) = refused.item(W::Claim) {
                    let claim: Claim = from_item(old)?;
                    return Err(WaitlistError::AlreadyWaiting(claim.entry_id));
                }
                if refused.has(W::Entry) {
                    return Err(
                        StoreError::Corrupt("a fresh entry id already exists".into()).into(),
                    );
                }
                Err(StoreError::internal(format!("join cancelled: {refused:?}")).into())
            }
        })
        .await
    }

    /// One page of a patient's entries or a provider's queue.
    pub async fn list_waitlist(
        &self,
        q: &WaitlistQuery,
        start_key: Option<Item>,
    ) -> Result<Page<Entry>, StoreError> {
        let mut query = q.range().query(self);
        let mut filters = vec![];
        if !q.statuses.is_empty() {
            let (clause, named) = super::status_in("s", q.statuses.iter().map(|st| st.as_str()));
            for (name, value) in named {
                query = query.expression_attribute_values(name, value);
            }
            query = query.expression_attribute_names("#status", "status");
            filters.push(clause);
        }
        if let Some(with) = q.with {
            let attr = match q.queue {
                Queue::Patient(_) => "providerId",
                Queue::Provider(..) => "patientId",
            };
            query = query
                .expression_attribute_names("#with", attr)
                .expression_attribute_values(":with", s(with.to_string()));
            filters.push("#with = :with".into());
        }
        let query = query
            .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
            .set_exclusive_start_key(start_key)
            .limit(q.limit);
        self.page(query).await
    }

    /// Offers free seats of `slot_id` to the waiting entries they match, best first, one transaction per
    /// seat, until the slot has no free seat or no entry matches. Idempotent: run again, it finds the
    /// seats it held taken. The ids of the entries offered a seat.
    ///
    /// `known`: the slot's provider and start, as the job carries them. Then the first request is the
    /// Query of the provider's queue around the slot's date, which is all a slot nobody waits for costs;
    /// with candidates, per offer one BatchGetItem of the slot (with the provider's profile, for the
    /// zone, the first time) and one TransactWriteItems: 3 requests for one offer. Without `known`, a
    /// GetItem of the slot comes first.
    pub async fn offer_seats(
        &self,
        slot_id: SlotId,
        known: Option<(ProviderId, UtcTime)>,
        now: UtcTime,
        ttl: SignedDuration,
    ) -> Result<Vec<EntryId>, StoreError> {
        let (provider, start) = match known {
            Some(k) => k,
            None => match self.slot(slot_id).await? {
                Some(slot) => (slot.provider_id, slot.start_time),
                None => return Ok(vec![]),
            },
        };
        let round = OfferRound::default();
        retrying_with("offer a seat", round, |mut round| async move {
            let outcome = self
                .offer_one_seat(&mut round, slot_id, (provider, start), now, ttl)
                .await;
            (round, outcome)
        })
        .await
    }

    /// One round of [`Store::offer_seats`]: the next seat to the next entry (`Onward`), a seat or an
    /// entry that changed meanwhile (`Again`), or nothing more to offer (`Done`, with every entry offered).
    async fn offer_one_seat(
        &self,
        round: &mut OfferRound,
        slot_id: SlotId,
        (provider, start): (ProviderId, UtcTime),
        now: UtcTime,
        ttl: SignedDuration,
    ) -> Result<Attempt<Vec<EntryId>>, StoreError> {
        let slot_key = keys::slot(slot_id);
        let entries = match round.queue.take() {
            Some(q) => q,
            None => {
                let around = start.timestamp().to_zoned(TimeZone::UTC).date();
                let q = Range::queue_around(provider, around)
                    .query(self)
                    .filter_expression("#status = :waiting")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":waiting", status_is(EntryStatus::Waiting));
                self.all_pages(q).await?
            }
        };
        if entries.is_empty() {
            return Ok(Attempt::Done(std::mem::take(&mut round.offered)));
        }
        // The slot, fresh each round; the provider's profile (zone and rules) with it the first time.
        let profile_key = keys::provider_profile(provider);
        let mut wanted = vec![slot_key.clone()];
        if round.rules.is_none() {
            wanted.push(profile_key.clone());
        }
        let mut found = self.get_many(&wanted).await?;
        let Some(slot) = found.remove(&slot_key).map(from_item::<Slot>).transpose()? else {
            return Ok(Attempt::Done(std::mem::take(&mut round.offered)));
        };
        if slot.status != SlotStatus::Available
            || slot.start_time <= now.plus(LEAST_NOTICE)
            || slot.current_bookings >= slot.max_bookings
        {
            return Ok(Attempt::Done(std::mem::take(&mut round.offered)));
        }
        let rules = match round.rules {
            Some(ref r) => r,
            None => {
                let profile = found
                    .remove(&profile_key)
                    .map(from_item::<super::items::ProviderProfile>)
                    .transpose()?;
                round.rules.insert(self.rules_of(profile.as_ref()))
            }
        };
        // A seat the provider's notice, horizon or daily limit would refuse at the answer is not
        // offered (the day's count is one more read, only for a provider with a limit).
        if rules.admits(slot.start_time, now).is_err()
            || !self
                .full_days(provider, rules, &[rules.day_of(slot.start_time)])
                .await?
                .is_empty()
        {
            return Ok(Attempt::Done(std::mem::take(&mut round.offered)));
        }
        let zone = &rules.zone();
        let Some(entry) = next_for(&entries, &slot, zone).cloned() else {
            return Ok(Attempt::Done(std::mem::take(&mut round.offered)));
        };
        let until = now.plus(ttl).min(slot.start_time);
        match self.hold(&slot, &entry, now, until).await {
            Ok(true) => {
                tracing::info!(slot_id = %slot.id, entry_id = %entry.id, offer = entry.offer_count + 1, "seat offered and held");
                round.offered.push(entry.id);
                // The next seat goes to the next entry: the queue as read, less this one.
                round.queue = Some(entries.into_iter().filter(|e| e.id != entry.id).collect());
                Ok(Attempt::Onward)
            }
            // The seat or the entry changed: read both again.
            Ok(false) => Ok(Attempt::Again),
            Err(e) => Err(e),
        }
    }

    /// Holds a seat of `slot` for `entry` until `until`: `false` when the seat is gone or the entry
    /// changed since it was read.
    async fn hold(
        &self,
        slot: &Slot,
        entry: &Entry,
        now: UtcTime,
        until: UtcTime,
    ) -> Result<bool, StoreError> {
        let eid = entry.id.to_string();
        let seat = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::slot(slot.id))))
            .update_expression(
                "SET currentBookings = currentBookings + :one, updatedAt = :now ADD heldFor :held",
            )
            .condition_expression(
                "#status = :available AND currentBookings < maxBookings AND startTime > :now \
                 AND NOT contains(heldFor, :eid)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .expression_attribute_values(":held", AttributeValue::Ss(vec![eid.clone()]))
            .expression_attribute_values(":eid", s(&eid))
            .build()?;
        let offer = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::waitlist_entry(entry.id))))
            .update_expression(
                "SET #status = :offered, offeredSlotId = :slot, offeredStartTime = :start, \
                 offerExpiresAt = :until, offerCount = offerCount + :one, \
                 offeredSlots = list_append(offeredSlots, :slots), updatedAt = :now, \
                 GSI3PK = :outstanding, GSI3SK = :due",
            )
            .condition_expression("#status = :waiting AND offerCount = :count")
            .expression_attribute_values(":outstanding", s(keys::OUTSTANDING_OFFERS))
            .expression_attribute_values(":due", s(keys::offer_due(until, entry.id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":offered", status_is(EntryStatus::Offered))
            .expression_attribute_values(":waiting", status_is(EntryStatus::Waiting))
            .expression_attribute_values(":slot", s(slot.id.to_string()))
            .expression_attribute_values(":start", s(slot.start_time.to_string()))
            .expression_attribute_values(":until", s(until.to_string()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":count", n(entry.offer_count))
            .expression_attribute_values(":slots", AttributeValue::L(vec![s(slot.id.to_string())]))
            .expression_attribute_values(":now", s(now.to_string()))
            .build()?;
        let writes = vec![
            TransactWriteItem::builder().update(seat).build(),
            TransactWriteItem::builder().update(offer).build(),
        ];
        Ok(self.transact(writes).await?.is_none())
    }

    /// The write that gives a held seat of `slot` back, only if it is held for `entry`.
    fn give_back(
        &self,
        slot: SlotId,
        entry: EntryId,
        now: UtcTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = self.end_hold(slot, entry, now, HoldEnds::GivenBack)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The update that ends `entry`'s hold on a seat of `slot` (`heldFor` names it): the seat given
    /// back (free again), or booked by the accept (still an open slot, not started).
    fn end_hold(
        &self,
        slot: SlotId,
        entry: EntryId,
        now: UtcTime,
        how: HoldEnds,
    ) -> Result<Update, StoreError> {
        let eid = entry.to_string();
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::slot(slot))))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":held", AttributeValue::Ss(vec![eid.clone()]))
            .expression_attribute_values(":eid", s(eid));
        let update = match how {
            HoldEnds::GivenBack => update
                .update_expression(
                    "SET currentBookings = currentBookings - :one, updatedAt = :now DELETE heldFor :held",
                )
                .condition_expression("contains(heldFor, :eid) AND currentBookings > :zero")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0)),
            HoldEnds::Booked => update
                .update_expression("SET updatedAt = :now DELETE heldFor :held")
                .condition_expression(
                    "#status = :available AND startTime > :now AND contains(heldFor, :eid)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":available", s(SlotStatus::Available.as_str())),
        };
        Ok(update.build()?)
    }

    /// The write that lets the patient join again for the entry's provider and date.
    fn release_claim(&self, entry: &Entry) -> Result<TransactWriteItem, StoreError> {
        let key = keys::waiting_claim(
            entry.patient_id,
            entry.provider_id,
            entry.preferred_date.date(),
        );
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&key)))
            .update_expression("SET active = :no")
            .condition_expression("entryId = :id")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":id", s(entry.id.to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Cancels, declines or lets lapse the entry `id`, after `may` allows it on the entry as read: one
    /// GetItem and one transaction (entry, the held seat given back if there is one, the claim
    /// released if the entry ends). The entry as it ends up.
    pub async fn end_entry(
        &self,
        id: EntryId,
        how: Ending,
        may: May<'_>,
        now: UtcTime,
    ) -> Result<Entry, WaitlistError> {
        retrying("end waitlist entry", || async move {
            let entry = self
                .waitlist_entry(id)
                .await?
                .ok_or(WaitlistError::NotFound)?;
            may(&entry)?;
            self.end_once(entry, how, now).await
        })
        .await
    }

    /// [`Store::end_entry`] for an entry already read (the worker's lapse, which has no caller).
    async fn end_once(
        &self,
        entry: Entry,
        how: Ending,
        now: UtcTime,
    ) -> Result<Attempt<Entry>, WaitlistError> {
        let Some(to) = how.of(&entry)? else {
            return Ok(Attempt::Done(entry));
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::waitlist_entry(entry.id))))
            .condition_expression("#status = :read AND offerCount = :count")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":read", status_is(entry.status))
            .expression_attribute_values(":count", n(entry.offer_count))
            .expression_attribute_values(":to", status_is(to))
            .expression_attribute_values(":now", s(now.to_string()));
        update = if to == EntryStatus::Waiting {
            // Back in the queue: the lapsed offer's seat is no longer its.
            update.update_expression(
                "SET #status = :to, updatedAt = :now \
                 REMOVE offeredSlotId, offeredStartTime, offerExpiresAt, GSI3PK, GSI3SK",
            )
        } else {
            // No longer outstanding: out of the sweeper's index.
            update.update_expression("SET #status = :to, updatedAt = :now REMOVE GSI3PK, GSI3SK")
        };
        let mut writes = vec![TransactWriteItem::builder().update(update.build()?).build()];
        if let (EntryStatus::Offered, Some(slot)) = (entry.status, entry.offered_slot_id) {
            writes.push(self.give_back(slot, entry.id, now)?);
        }
        if !to.is_active() {
            writes.push(self.release_claim(&entry)?);
        }
        if self.transact(writes).await?.is_some() {
            return Ok(Attempt::Again); // the entry moved since it was read
        }
        let mut ended = entry;
        ended.status = to;
        ended.updated_at = now;
        if to == EntryStatus::Waiting {
            ended.offered_slot_id = None;
            ended.offered_start_time = None;
            ended.offer_expires_at = None;
        }
        Ok(Attempt::Done(ended))
    }

    /// The worker's end of an offer that ran out (its `offer-expired` job): the entry waits again, or
    /// expires after `max_offers`; the seat is given back. Nothing when the offer was answered, or this
    /// job belongs to an earlier offer. `Ok(None)` when the offer has not run out yet (an early
    /// delivery: the job is retried).
    pub async fn lapse_offer(
        &self,
        id: EntryId,
        offer_count: u32,
        max_offers: u32,
        now: UtcTime,
    ) -> Result<Lapse, WaitlistError> {
        retrying("lapse offer", || async move {
            let Some(entry) = self.waitlist_entry(id).await? else {
                return Ok(Attempt::Done(Lapse::Gone));
            };
            if entry.status != EntryStatus::Offered || entry.offer_count != offer_count {
                return Ok(Attempt::Done(Lapse::Ended(Box::new(entry))));
            }
            // Scheduler fires at whole seconds, at or after the offer's end; a second of tolerance.
            if let Some(ends) = entry
                .offer_expires_at
                .filter(|t| *t > now.plus(SignedDuration::from_secs(1)))
            {
                return Ok(Attempt::Done(Lapse::Early { ends }));
            }
            Ok(self
                .end_once(entry, Ending::Lapse { max_offers }, now)
                .await?
                .map(|e| Lapse::Lapsed(Box::new(e))))
        })
        .await
    }

    /// The offers still outstanding whose end is before `now` (at most `max`, the earliest first):
    /// `(entry, offer count)` from one Query of the sparse index GSI3. Nothing is there when every
    /// offer's expiry job arrived.
    pub async fn overdue_offers(
        &self,
        now: UtcTime,
        max: usize,
    ) -> Result<Vec<(EntryId, u32)>, StoreError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Outstanding {
            id: EntryId,
            offer_count: u32,
        }
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI3)
            .key_condition_expression("#pk = :pk AND #sk < :now")
            .expression_attribute_names("#pk", keys::GSI3PK)
            .expression_attribute_names("#sk", keys::GSI3SK)
            .expression_attribute_values(":pk", s(keys::OUTSTANDING_OFFERS))
            .expression_attribute_values(":now", s(now.to_string()))
            .limit(max.min(1000) as i32);
        let found: Vec<Outstanding> = self.pages_up_to(query, max).await?;
        Ok(found.into_iter().map(|o| (o.id, o.offer_count)).collect())
    }

    /// Accepts the offer the entry `id` holds, after `may` allows it: one GetItem (the entry), one
    /// consistent BatchGetItem (slot, patient guard, type, the provider's profile) and one transaction
    /// that turns the hold into an appointment: the entry `accepted` while the offer stands, the slot's
    /// hold removed (the seat stays taken), the appointment put, the patient's time taken under the
    /// guard's version, the provider's day counted under their limit, the type still active, the claim
    /// released. The provider's notice and horizon apply at the answer, as to any booking.
    pub async fn accept_offer(
        &self,
        id: EntryId,
        asked: &Acceptance,
        may: May<'_>,
        now: UtcTime,
    ) -> Result<Accepted, WaitlistError> {
        retrying("accept offer", || self.accept_once(id, asked, may, now)).await
    }

    async fn accept_once(
        &self,
        id: EntryId,
        asked: &Acceptance,
        may: May<'_>,
        now: UtcTime,
    ) -> Result<Attempt<Accepted>, WaitlistError> {
        let entry = self
            .waitlist_entry(id)
            .await?
            .ok_or(WaitlistError::NotFound)?;
        may(&entry)?;
        match entry.status {
            EntryStatus::Accepted => {
                let first = match entry.accepted_appointment_id {
                    Some(a) => self.appointment(a).await?,
                    None => None,
                }
                .ok_or_else(|| {
                    StoreError::Corrupt("an accepted entry without its appointment".into())
                })?;
                return Ok(Attempt::Done(Accepted::Replayed(first)));
            }
            EntryStatus::Offered if entry.live_offer(now).is_some() => {}
            EntryStatus::Cancelled | EntryStatus::Declined => {
                return Err(WaitlistError::Closed(entry.status))
            }
            _ if entry.offer_count > 0 => return Err(WaitlistError::OfferExpired),
            _ => return Err(WaitlistError::NoOffer),
        }
        let slot_id = entry.offered_slot_id.ok_or(WaitlistError::NoOffer)?;
        let slot_key = keys::slot(slot_id);
        let guard_key = keys::patient_schedule(entry.patient_id);
        let type_key = entry.appointment_type_id.map(keys::appointment_type);
        let profile_key = keys::provider_profile(entry.provider_id);
        let mut wanted = vec![slot_key.clone(), guard_key.clone(), profile_key.clone()];
        wanted.extend(type_key.clone());
        let mut found = self.get_many(&wanted).await?;
        let slot: Slot = from_item(found.remove(&slot_key).ok_or_else(|| {
            StoreError::Corrupt("an offer of a slot that does not exist".into())
        })?)?;
        let profile = found.remove(&profile_key).map(from_item).transpose()?;
        let rules = self.rules_of(profile.as_ref());
        rules
            .admits(slot.start_time, now)
            .map_err(BookingError::from)?;
        let kind = super::booking::type_of(&mut found, type_key.as_ref())?;
        let consultation = admit(&slot, kind.as_ref(), asked.consultation_type)?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        if let Err(refused) =
            super::booking::may_take(&guard, &slot.interval(), now, asked.max_active)
        {
            // An accept of this very offer that committed between the entry's read and the guard's
            // holds the patient's time now: read the entry again, which answers with that appointment.
            let answered = self.waitlist_entry(id).await?;
            if answered.is_some_and(|e| e.status == EntryStatus::Accepted) {
                return Ok(Attempt::Again);
            }
            return Err(refused.into());
        }
        let mut appointment = Appointment::in_slot(
            &slot,
            entry.patient_id,
            consultation,
            kind.as_ref(),
            &rules,
            now,
        );
        appointment.reason_for_visit = asked.reason_for_visit.clone();

        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Entry,
            Hold,
            Appointment,
            Guard,
            TypeActive,
            Claim,
            Day,
        }
        let accept = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::waitlist_entry(entry.id))))
            .update_expression(
                "SET #status = :accepted, acceptedAppointmentId = :appt, updatedAt = :now \
                 REMOVE GSI3PK, GSI3SK",
            )
            .condition_expression(
                "#status = :offered AND offerCount = :count AND offerExpiresAt > :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":accepted", status_is(EntryStatus::Accepted))
            .expression_attribute_values(":offered", status_is(EntryStatus::Offered))
            .expression_attribute_values(":appt", s(appointment.id.to_string()))
            .expression_attribute_values(":count", n(entry.offer_count))
            .expression_attribute_values(":now", s(now.to_string()))
            .build()?;
        let hold = self.end_hold(slot.id, entry.id, now, HoldEnds::Booked)?;
        let mut writes = Writes::new();
        writes.add(
            W::Entry,
            TransactWriteItem::builder().update(accept).build(),
        );
        writes.add(W::Hold, TransactWriteItem::builder().update(hold).build());
        let (put, time) = self.new_appointment(&guard, &appointment, now)?;
        writes.add(W::Appointment, put);
        writes.add(W::Guard, time);
        if let Some(key) = &type_key {
            writes.add(
                W::TypeActive,
                super::booking::still_active(&self.table, key)?,
            );
        }
        writes.add(W::Claim, self.release_claim(&entry)?);
        writes.add(
            W::Day,
            self.count_day(&appointment, rules.max_appointments_per_day)?,
        );
        let Some(refused) = self.commit(writes).await? else {
            return Ok(Attempt::Done(Accepted::New(appointment)));
        };
        // First: the entry or the patient's time moved (answered, lapsed, or accepted by a concurrent
        // request of the same patient); the next read says which, before any other refusal is told.
        if refused.has(W::Entry) || refused.has(W::Guard) {
            return Ok(Attempt::Again);
        }
        if refused.has(W::TypeActive) {
            return Err(Inadmissible::TypeInactive.into());
        }
        if refused.has(W::Day) {
            return Err(
                BookingError::from(super::booking::daily_limit(&rules, &appointment)).into(),
            );
        }
        if refused.has(W::Hold) {
            return Err(
                Inadmissible::SlotUnavailable("the held slot has started or closed").into(),
            );
        }
        Err(StoreError::internal(format!("accept cancelled: {refused:?}")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_sorts_by_date_then_priority_then_age() {
        let d: jiff::civil::Date = "2030-03-04".parse().unwrap();
        let t = |s: &str| s.parse::<UtcTime>().unwrap();
        let id = EntryId::new();
        let urgent = keys::queue_rank(d, 10, t("2030-03-02T00:00:00Z"), id);
        let old = keys::queue_rank(d, 0, t("2030-03-01T00:00:00Z"), id);
        let young = keys::queue_rank(d, 0, t("2030-03-02T00:00:00Z"), id);
        let next_day = keys::queue_rank(d.tomorrow().unwrap(), 10, t("2030-03-01T00:00:00Z"), id);
        assert!(urgent < old && old < young && young < next_day);
        let (lo, hi) = keys::queue_of_day(d);
        for k in [&urgent, &old, &young] {
            assert!(lo.as_str() <= k.as_str() && k.as_str() <= hi.as_str());
        }
        assert!(next_day.as_str() > hi.as_str());
    }
}
