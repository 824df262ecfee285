//! Accepting an offer: the held seat becomes an appointment, in one transaction under booking's rules.

use super::*;
use crate::store::holds::HoldEnds;

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
    /// Who accepts (the patient, or staff for them): the appointment's `bookedBy`.
    pub caller: uuid::Uuid,
    pub consultation_type: Option<ConsultationType>,
    pub reason_for_visit: Option<String>,
    pub max_active: usize,
}

impl Store {
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
        // An offer of a longer visit holds a seat of each slot of its run: all read at once.
        let run_keys: Vec<Key> = entry.offered_seats()[1..]
            .iter()
            .map(|s| keys::slot(*s))
            .collect();
        let mut wanted = vec![slot_key.clone(), guard_key.clone(), profile_key.clone()];
        wanted.extend(type_key.clone());
        wanted.extend(run_keys.iter().cloned());
        let mut found = self.get_many(&wanted).await?;
        let mut slot_of = |key: &Key| -> Result<Slot, StoreError> {
            from_item(found.remove(key).ok_or_else(|| {
                StoreError::Corrupt("an offer of a slot that does not exist".into())
            })?)
        };
        let slot: Slot = slot_of(&slot_key)?;
        let later: Vec<Slot> = run_keys
            .iter()
            .map(&mut slot_of)
            .collect::<Result<_, _>>()?;
        let run: Vec<&Slot> = std::iter::once(&slot).chain(later.iter()).collect();
        let profile = found.remove(&profile_key).map(from_item).transpose()?;
        let rules = self.rules_of(profile.as_ref());
        rules
            .admits(slot.start_time, now)
            .map_err(BookingError::from)?;
        let kind = crate::store::booking::type_of(&mut found, type_key.as_ref())?;
        let consultation = admit_run(
            &run,
            kind.as_ref(),
            asked.consultation_type.or(entry.consultation_type),
        )?;
        let span = crate::domain::admission::span(&run)
            .ok_or_else(|| StoreError::internal("a run ends after it starts"))?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        if let Err(refused) =
            crate::store::booking::may_take(&guard, &span, now, asked.max_active, None)
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
        appointment.over(&run);
        appointment.reason_for_visit = asked.reason_for_visit.clone();
        appointment.booked_by = Some(asked.caller);

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
        let mut writes = Writes::new();
        writes.add(
            W::Entry,
            TransactWriteItem::builder().update(accept).build(),
        );
        for s in &run {
            let hold = self.end_hold(s.id, &entry.id.to_string(), now, HoldEnds::Booked)?;
            writes.add(W::Hold, TransactWriteItem::builder().update(hold).build());
        }
        let (put, time) = self.new_appointment(&guard, &appointment, now, None)?;
        writes.add(W::Appointment, put);
        writes.add(W::Guard, time);
        if let Some(key) = &type_key {
            writes.add(
                W::TypeActive,
                crate::store::booking::still_active(&self.table, key)?,
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
            return Err(BookingError::from(crate::store::booking::daily_limit(
                &rules,
                &appointment,
            ))
            .into());
        }
        if refused.has(W::Hold) {
            return Err(
                Inadmissible::SlotUnavailable("the held slot has started or closed").into(),
            );
        }
        Err(StoreError::internal(format!("accept cancelled: {refused:?}")).into())
    }
}
