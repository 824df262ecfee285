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
use crate::domain::admission::{admit_run, Inadmissible};
use crate::domain::waitlist::{next_for, Ending, Entry, EntryStatus, NotEnded};
use crate::domain::{
    Appointment, ConsultationType, EntryId, PatientId, ProviderId, Slot, SlotId, SlotStatus,
    UtcTime,
};
use crate::retry::{retrying, Attempt, Retry, Spent};

mod accept;
mod offers;

pub use accept::{Acceptance, Accepted};
pub use offers::LEAST_NOTICE;

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
                 REMOVE offeredSlotId, offeredSlotIds, offeredStartTime, offerExpiresAt, GSI3PK, GSI3SK",
            )
        } else {
            // No longer outstanding: out of the sweeper's index.
            update.update_expression("SET #status = :to, updatedAt = :now REMOVE GSI3PK, GSI3SK")
        };
        let mut writes = vec![TransactWriteItem::builder().update(update.build()?).build()];
        if entry.status == EntryStatus::Offered {
            for slot in entry.offered_seats() {
                writes.push(self.give_back(slot, entry.id, now)?);
            }
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
            ended.offered_slot_ids = vec![];
            ended.offered_start_time = None;
            ended.offer_expires_at = None;
        }
        Ok(Attempt::Done(ended))
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
