//! Rescheduling: an appointment moves to a seat of another slot in one transaction, under booking's
//! rules for the new slot.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::booking::{put_new, still_active, BookingError};
use super::guard::Guard;
use super::{from_item, keys, s, Store, StoreError, Writes};
use crate::domain::admission::{bookable, run, Inadmissible};
use crate::domain::lifecycle::{permitted, Action, CheckInWindow};
use crate::domain::{
    Appointment, AppointmentId, AppointmentStatus, Caller, ProviderId, Slot, SlotId, UtcTime,
};
use crate::retry::{retrying, Attempt};

/// Where and under which rules an appointment moves.
#[derive(Clone, Copy, Debug)]
pub struct Move<'a> {
    pub slot: SlotId,
    pub reason: Option<&'a str>,
    /// A provider (not staff) moves appointments only into their own slots.
    pub own_slots_of: Option<ProviderId>,
    /// Only while the appointment has not ended (anyone but staff and admin).
    pub before_end: bool,
}

impl Store {
    /// `who` moves appointment `id` (read, and checked under its row of `domain::lifecycle::RULES`) to a
    /// seat of `to.slot` in one transaction: the old appointment becomes `rescheduled` (if its status
    /// is still what was read), its seat is given back, a seat of the new
    /// slot is taken under the same conditions as a booking, the new appointment is put, the patient's
    /// guard swaps the old time for the new under its version, and the provider's day counts move
    /// (under the new day's limit). Two requests (the batch read, which takes the old provider's
    /// profile along, and the transaction) after the appointment's GetItem, one more GetItem when the
    /// new slot is another provider's; all read again when the appointment changed meanwhile.
    pub async fn reschedule(
        &self,
        id: AppointmentId,
        who: &Caller,
        to: &Move<'_>,
        check_in: CheckInWindow,
        now: UtcTime,
    ) -> Result<Appointment, BookingError> {
        retrying("reschedule", || async {
            let read = self.appointment(id).await?;
            let old = permitted(Action::Reschedule, who, read, now, check_in)
                .map_err(BookingError::Refused)?;
            if to.slot == old.slot_id {
                return Err(Inadmissible::SlotUnavailable(
                    "the appointment is already in this slot",
                )
                .into());
            }
            self.reschedule_once(&old, who.id, to, now).await
        })
        .await
    }

    async fn reschedule_once(
        &self,
        old: &Appointment,
        by: uuid::Uuid,
        to: &Move<'_>,
        now: UtcTime,
    ) -> Result<Attempt<Appointment>, BookingError> {
        let slot_key = keys::slot(to.slot);
        let guard_key = keys::patient_schedule(old.patient_id);
        let type_key = old.appointment_type_id.map(keys::appointment_type);
        let old_id = old.id.to_string();
        let profile_key = keys::provider_profile(old.provider_id);
        let mut wanted = vec![slot_key.clone(), guard_key.clone(), profile_key.clone()];
        wanted.extend(type_key.clone());
        let mut found = self.get_many(&wanted).await?;
        let slot: Slot = from_item(found.remove(&slot_key).ok_or(BookingError::SlotNotFound)?)?;
        if to.own_slots_of.is_some_and(|p| p != slot.provider_id) {
            return Err(BookingError::NotOwnSlot);
        }
        bookable(&slot, now, false)?;
        // Exactly booking's rules for the appointment's type and consultation, a long type's run
        // included.
        let kind = super::booking::type_of(&mut found, type_key.as_ref())?;
        let following = self
            .following(&slot, kind.as_ref().map(|k| k.duration_minutes))
            .await?;
        let (_, run) = run(
            &slot,
            &following,
            kind.as_ref(),
            Some(old.consultation_type),
            now,
            false,
        )?;
        let span = crate::domain::admission::span(&run)
            .ok_or_else(|| StoreError::internal("a run ends after it starts"))?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        let clashes = guard.clashes(&span, Some(&old_id), now);
        if !clashes.is_empty() {
            return Err(BookingError::PatientConflict(clashes));
        }
        let rules = if slot.provider_id == old.provider_id {
            let profile = found.remove(&profile_key).map(from_item).transpose()?;
            self.rules_of(profile.as_ref())
        } else {
            self.provider_rules(slot.provider_id).await?
        };
        rules.admits(slot.start_time, now)?;
        let mut moved = Appointment::scheduled(
            AppointmentId::new(),
            old.patient_id,
            slot.provider_id,
            slot.id,
            slot.start_time,
            slot.end_time,
            old.consultation_type,
            now,
        );
        moved.over(&run);
        moved.appointment_type_id = old.appointment_type_id;
        moved.booked_by = Some(by);
        moved.reason_for_visit = old.reason_for_visit.clone();
        moved.symptoms = old.symptoms.clone();
        moved.chief_complaint = old.chief_complaint.clone();
        moved.consultation_fee = old.consultation_fee;
        moved.is_paid = old.is_paid;
        moved.payment_id = old.payment_id.clone();
        moved.rescheduled_from = Some(old.id);
        moved.previous_appointment_id = Some(old.id);
        moved.reschedule_reason = to.reason.map(str::to_owned);
        moved.terms = Some(rules.terms(slot.start_time));

        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (super::version_step().0.into(), super::version_step().1),
            (
                ":rescheduled".into(),
                s(AppointmentStatus::Rescheduled.as_str()),
            ),
            (":read".into(), s(old.status.as_str())),
            (":now".into(), s(now.to_string())),
            (":to".into(), s(moved.id.to_string())),
            (":by".into(), s(by.to_string())),
        ]);
        let mut expr =
            "SET #status = :rescheduled, rescheduledTo = :to, updatedAt = :now, updatedBy = :by"
                .to_owned();
        if let Some(r) = to.reason {
            values.insert(":reason".into(), s(r));
            expr.push_str(", rescheduleReason = :reason");
        }
        expr.push_str(super::NEXT_VERSION);
        let leave = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::appointment(old.id))))
            .update_expression(expr)
            .expression_attribute_names(super::VERSION_NAME.0, super::VERSION_NAME.1)
            .condition_expression(if to.before_end {
                "#status = :read AND endTime > :now"
            } else {
                "#status = :read"
            })
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(StoreError::from)?;
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Leave,
            FreeOldSeat,
            TakeSeat,
            Appointment,
            Guard,
            TypeActive,
            Day,
        }
        let mut writes = Writes::new();
        writes.add(W::Leave, TransactWriteItem::builder().update(leave).build());
        // Seats move by difference: a slot in both the old run and the new keeps its seat (a
        // transaction may not touch one item twice).
        let (from, to_seats) = (old.seats(), moved.seats());
        for seat in from.iter().filter(|s| !to_seats.contains(s)) {
            writes.add(W::FreeOldSeat, self.give_seat(*seat, now)?);
        }
        for seat in to_seats.iter().filter(|s| !from.contains(s)) {
            writes.add(W::TakeSeat, self.take_seat(*seat, now, false)?);
        }
        writes.add(
            W::Appointment,
            put_new(&self.table, super::items::item(&moved)?)?,
        );
        writes.add(
            W::Guard,
            guard.take(
                &self.table,
                &moved.id.to_string(),
                &moved.interval(),
                now,
                Some(&old_id),
            )?,
        );
        if let Some(key) = &type_key {
            writes.add(W::TypeActive, still_active(&self.table, key)?);
        }
        // The counts move unless the appointment stays on the same provider's same day.
        let old_day = old.terms.as_ref().map(|t| (old.provider_id, t.day));
        let new_day = moved.terms.as_ref().map(|t| (moved.provider_id, t.day));
        if old_day != new_day {
            writes.add(
                W::Day,
                self.count_day(&moved, rules.max_appointments_per_day)?,
            );
            if let Some((provider, day)) = old_day {
                writes.add(
                    W::Day,
                    super::settings::count_out(&self.table, provider, day)?,
                );
            }
        }
        let Some(refused) = self.commit(writes).await? else {
            return Ok(Attempt::Done(moved));
        };
        if refused.has(W::TypeActive) {
            return Err(Inadmissible::TypeInactive.into());
        }
        if refused.has(W::Day) {
            return Err(super::booking::daily_limit(&rules, &moved).into());
        }
        if refused.has(W::Leave) {
            // The appointment changed since it was read: read it again.
            return Ok(Attempt::Again);
        }
        if let Some(current) = refused.item(W::TakeSeat) {
            let s: Slot = from_item(current)?;
            bookable(&s, now, false).map_err(|e| match s.id == slot.id {
                true => e,
                false => Inadmissible::InRun(s.id, Box::new(e)),
            })?;
        }
        if refused.has(W::FreeOldSeat) || refused.has(W::Appointment) {
            return Err(StoreError::Corrupt(format!(
                "rescheduling {} met an inconsistent slot: {refused:?}",
                old.id
            ))
            .into());
        }
        Ok(Attempt::Again)
    }
}
