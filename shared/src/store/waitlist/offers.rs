//! Offering a freed seat to the best waiting entry, holding it for the offer's time, and ending the
//! hold: given back (declined, cancelled, lapsed) or kept by the accept; the sweep of lapsed offers.

use super::*;
use crate::retry::retrying_with;
use crate::store::holds::HoldEnds;

/// An offer is made only for a slot that starts at least this far ahead.
pub const LEAST_NOTICE: SignedDuration = SignedDuration::from_mins(1);

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
                    .map(from_item::<crate::store::items::ProviderProfile>)
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
        // An entry waiting for a visit longer than the slot is offered the run that starts with it:
        // the provider's slots after it, one Query more, only when such an entry waits.
        let longest = entries.iter().filter_map(|e| e.visit_minutes).max();
        let following = self.following(&slot, longest).await?;
        let Some((entry, run)) = next_for(&entries, &slot, &following, zone, now) else {
            return Ok(Attempt::Done(std::mem::take(&mut round.offered)));
        };
        let entry = entry.clone();
        let until = now.plus(ttl).min(slot.start_time);
        match self.offer_seat(&run, &entry, now, until).await {
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

    /// Holds a seat of each slot of `run` (one slot, or a longer visit's run) for `entry` until
    /// `until` (the offer): `false` when a seat is gone or the entry changed since it was read.
    async fn offer_seat(
        &self,
        run: &[&Slot],
        entry: &Entry,
        now: UtcTime,
        until: UtcTime,
    ) -> Result<bool, StoreError> {
        let slot = run
            .first()
            .ok_or_else(|| StoreError::internal("an offer of no slot"))?;
        let mut writes = vec![];
        for s in run {
            let seat = self.hold_seat(s.id, &entry.id.to_string(), now)?;
            writes.push(TransactWriteItem::builder().update(seat).build());
        }
        let run_ids: Vec<AttributeValue> = if run.len() > 1 {
            run.iter().map(|s| s.id.to_string()).map(s).collect()
        } else {
            vec![]
        };
        let offer = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::waitlist_entry(entry.id))))
            .update_expression(
                "SET #status = :offered, offeredSlotId = :slot, offeredSlotIds = :run, \
                 offeredStartTime = :start, offerExpiresAt = :until, offerCount = offerCount + :one, \
                 offeredSlots = list_append(offeredSlots, :slots), updatedAt = :now, \
                 GSI3PK = :outstanding, GSI3SK = :due",
            )
            .condition_expression("#status = :waiting AND offerCount = :count")
            .expression_attribute_values(":outstanding", s(keys::OUTSTANDING_OFFERS))
            .expression_attribute_values(":due", s(keys::due(until, entry.id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":offered", status_is(EntryStatus::Offered))
            .expression_attribute_values(":waiting", status_is(EntryStatus::Waiting))
            .expression_attribute_values(":slot", s(slot.id.to_string()))
            .expression_attribute_values(":run", AttributeValue::L(run_ids))
            .expression_attribute_values(":start", s(slot.start_time.to_string()))
            .expression_attribute_values(":until", s(until.to_string()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":count", n(entry.offer_count))
            .expression_attribute_values(":slots", AttributeValue::L(vec![s(slot.id.to_string())]))
            .expression_attribute_values(":now", s(now.to_string()))
            .build()?;
        writes.push(TransactWriteItem::builder().update(offer).build());
        Ok(self.transact(writes).await?.is_none())
    }

    /// The write that gives a held seat of `slot` back, only if it is held for `entry`.
    pub(super) fn give_back(
        &self,
        slot: SlotId,
        entry: EntryId,
        now: UtcTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = self.end_hold(slot, &entry.to_string(), now, HoldEnds::GivenBack)?;
        Ok(TransactWriteItem::builder().update(update).build())
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
        let found: Vec<Outstanding> = self.due_before(keys::OUTSTANDING_OFFERS, now, max).await?;
        Ok(found.into_iter().map(|o| (o.id, o.offer_count)).collect())
    }
}
