//! Holds (DESIGN.md section 16): a seat taken for a few minutes for one patient, then booked with the
//! hold (`Store::book` with `NewBooking::hold`), given back, or lapsed.
//!
//! A seat is held the one way this service holds seats, for a hold as for a waitlist offer
//! ([`Store::hold_seat`], [`Store::end_hold`]): `currentBookings + 1` and the holder's id in the slot's
//! `heldFor` set, so nobody else can book it, `GET /slots/available` and the search no longer show it
//! once no seat is left, and a booking with the hold keeps the seat it already has.
//!
//! | item | PK | SK | GSI3 (while `held`) |
//! |---|---|---|---|
//! | hold | `HOLD#<id>` | `HOLD` | `HOLDS` / `<expiresAt>#<id>` |
//!
//! The hold's `expiresAt` is an RFC 3339 string, which DynamoDB's TTL ignores (only a Number
//! attribute is read as a TTL: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-before-you-start.html):
//! a hold is kept, like an appointment, as the record of who held what.

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use jiff::SignedDuration;
use uuid::Uuid;

use super::booking::{daily_limit_on, may_take, put_new, still_active, type_of, BookingError};
use super::guard::Guard;
use super::items::{item, Stored};
use super::keys::{self, Key};
use super::{from_item, key_item, n, s, Store, StoreError, Writes};
use crate::domain::admission::{bookable, run, span, Inadmissible};
use crate::domain::hold::{self, Hold, HoldStatus};
use crate::domain::{ConsultationType, HoldId, PatientId, Slot, SlotId, SlotStatus, UtcTime};
use crate::retry::{retrying, Attempt};

impl Stored for Hold {
    fn key(&self) -> Key {
        keys::hold(self.id)
    }

    /// On GSI3 while held: the sweeper finds the holds past their expiry there.
    fn index_keys(&self) -> Vec<(&'static str, String)> {
        if self.status != HoldStatus::Held {
            return vec![];
        }
        vec![
            (keys::GSI3PK, keys::LIVE_HOLDS.to_owned()),
            (keys::GSI3SK, keys::due(self.expires_at, self.id)),
        ]
    }
}

/// How a hold on a seat ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HoldEnds {
    GivenBack,
    Booked,
}

/// A hold asked for, already parsed and authorized.
#[derive(Clone, Debug)]
pub struct NewHold {
    pub caller: Uuid,
    pub slot_id: SlotId,
    pub patient_id: PatientId,
    pub appointment_type_id: Option<Uuid>,
    pub consultation_type: Option<ConsultationType>,
    /// How long the seat is kept (`Config::hold_ttl`).
    pub ttl: SignedDuration,
    /// The patient's live holds at most (`Config::max_holds_per_patient`).
    pub max_holds: usize,
    /// The patient's cap on appointments not yet ended (a hold is checked as the booking it becomes).
    pub max_active: usize,
}

/// What ending a hold found.
#[derive(Clone, Debug, PartialEq)]
pub enum HoldEnd {
    /// No such hold.
    Gone,
    /// A lapse that came before the hold's end (Scheduler fires anywhere in the minute of its time).
    Early { ends: UtcTime },
    /// It had ended before (booked, released, lapsed): the hold as it is.
    Ended(Box<Hold>),
    /// It ended now: the hold as it became.
    EndedNow(Box<Hold>),
}

impl Store {
    pub async fn hold(&self, id: HoldId) -> Result<Option<Hold>, StoreError> {
        self.read(&keys::hold(id)).await
    }

    /// The update that holds one seat of `slot` for `holder` (a hold's or a waitlist entry's id):
    /// one more seat taken and the holder named in `heldFor`, if the slot is open, not started, has a
    /// free seat and is not already held for it. Refused, it returns the slot as it was.
    pub(crate) fn hold_seat(
        &self,
        slot: SlotId,
        holder: &str,
        now: UtcTime,
    ) -> Result<Update, StoreError> {
        Ok(Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::slot(slot))))
            .update_expression(
                "SET currentBookings = currentBookings + :one, updatedAt = :now ADD heldFor :held",
            )
            .condition_expression(
                "#status = :available AND currentBookings < maxBookings AND startTime > :now \
                 AND NOT contains(heldFor, :holder)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .expression_attribute_values(":held", AttributeValue::Ss(vec![holder.to_owned()]))
            .expression_attribute_values(":holder", s(holder))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?)
    }

    /// The update that ends `holder`'s hold on a seat of `slot` (`heldFor` names it): the seat given
    /// back (free again), or kept by the booking it became (still an open slot, not started).
    pub(crate) fn end_hold(
        &self,
        slot: SlotId,
        holder: &str,
        now: UtcTime,
        how: HoldEnds,
    ) -> Result<Update, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::slot(slot))))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":held", AttributeValue::Ss(vec![holder.to_owned()]))
            .expression_attribute_values(":holder", s(holder))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match how {
            HoldEnds::GivenBack => update
                .update_expression(
                    "SET currentBookings = currentBookings - :one, updatedAt = :now DELETE heldFor :held",
                )
                .condition_expression("contains(heldFor, :holder) AND currentBookings > :zero")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0)),
            HoldEnds::Booked => update
                .update_expression("SET updatedAt = :now DELETE heldFor :held")
                .condition_expression(
                    "#status = :available AND startTime > :now AND contains(heldFor, :holder)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":available", s(SlotStatus::Available.as_str())),
        };
        Ok(update.build()?)
    }

    /// Holds a seat for the patient: one consistent BatchGetItem (slot, patient guard, type), one
    /// GetItem (the provider's rules), a read of the day's count only for a provider with a daily
    /// limit, and one transaction: the seat held, the hold put, the patient's time taken under the
    /// guard's version, the type still active. Every rule of booking is checked now, as for the booking
    /// the hold becomes; the patient's live holds are counted on their guard.
    pub async fn create_hold(&self, req: &NewHold, now: UtcTime) -> Result<Hold, BookingError> {
        retrying("hold a seat", || self.hold_once(req, now)).await
    }

    async fn hold_once(&self, req: &NewHold, now: UtcTime) -> Result<Attempt<Hold>, BookingError> {
        let slot_key = keys::slot(req.slot_id);
        let guard_key = keys::patient_schedule(req.patient_id);
        let type_key = req.appointment_type_id.map(keys::appointment_type);
        let mut wanted = vec![slot_key.clone(), guard_key.clone()];
        wanted.extend(type_key.clone());
        let mut found = self.get_many(&wanted).await?;
        let slot: Slot = from_item(found.remove(&slot_key).ok_or(BookingError::SlotNotFound)?)?;
        bookable(&slot, now, false)?;
        let kind = type_of(&mut found, type_key.as_ref())?;
        // A type longer than the slot holds a seat of each slot of its run (one Query more), as the
        // booking it becomes takes them.
        let following = self
            .following(&slot, kind.as_ref().map(|k| k.duration_minutes))
            .await?;
        let (consultation, run) = run(
            &slot,
            &following,
            kind.as_ref(),
            req.consultation_type,
            now,
            false,
        )?;
        let span = span(&run).ok_or_else(|| StoreError::internal("a run ends after it starts"))?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        may_take(&guard, &span, now, req.max_active, None)?;
        if guard.live_holds(now) >= req.max_holds {
            return Err(BookingError::TooManyHolds(req.max_holds));
        }
        let rules = self.provider_rules(slot.provider_id).await?;
        rules.admits(slot.start_time, now)?;
        let day = rules.day_of(slot.start_time);
        if !self
            .full_days(slot.provider_id, &rules, &[day])
            .await?
            .is_empty()
        {
            return Err(daily_limit_on(&rules, day).into());
        }
        let held = Hold {
            id: HoldId::new(),
            slot_id: slot.id,
            slot_ids: if run.len() > 1 {
                run.iter().map(|s| s.id).collect()
            } else {
                vec![]
            },
            patient_id: req.patient_id,
            provider_id: slot.provider_id,
            appointment_type_id: req.appointment_type_id,
            consultation_type: consultation,
            start_time: span.start(),
            end_time: span.end(),
            expires_at: hold::expiry(now, req.ttl, slot.start_time),
            status: HoldStatus::Held,
            appointment_id: None,
            held_by: req.caller,
            created_at: now,
            updated_at: now,
        };

        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Seat,
            /// A seat of the run after the first slot.
            Run,
            Hold,
            Guard,
            TypeActive,
        }
        let mut writes = Writes::new();
        let holder = held.id.to_string();
        for (i, s) in run.iter().enumerate() {
            let seat = self.hold_seat(s.id, &holder, now)?;
            let name = if i == 0 { W::Seat } else { W::Run };
            writes.add(name, TransactWriteItem::builder().update(seat).build());
        }
        writes.add(W::Hold, put_new(&self.table, item(&held)?)?);
        let time = guard.take(&self.table, &held.guard_entry(), &span, now, None)?;
        writes.add(W::Guard, time);
        if let Some(key) = &type_key {
            writes.add(W::TypeActive, still_active(&self.table, key)?);
        }
        let Some(refused) = self.commit(writes).await? else {
            return Ok(Attempt::Done(held));
        };
        if refused.has(W::TypeActive) {
            return Err(Inadmissible::TypeInactive.into());
        }
        if let Some(current) = refused.item(W::Seat) {
            // Taken, closed or started since it was read: say which; else read again.
            bookable(&from_item(current)?, now, false)?;
        }
        if let Some(current) = refused.item(W::Run) {
            let s: Slot = from_item(current)?;
            bookable(&s, now, false).map_err(|e| Inadmissible::InRun(s.id, Box::new(e)))?;
        }
        if refused.has(W::Hold) {
            return Err(StoreError::Corrupt("a fresh hold id already exists".into()).into());
        }
        if refused.has(W::Seat) || refused.has(W::Run) || refused.has(W::Guard) {
            return Ok(Attempt::Again);
        }
        Err(StoreError::internal(format!("hold cancelled: {refused:?}")).into())
    }

    /// Releases the hold `id` (after `may` allows it on the hold as read): the seat given back at once
    /// (and so offered to the waitlist by `publish`), the patient's time freed. One GetItem and one
    /// transaction. A hold already ended answers as it is; one past its expiry lapses instead.
    pub async fn release_hold(
        &self,
        id: HoldId,
        may: &(dyn Fn(&Hold) -> Result<(), BookingError> + Sync),
        now: UtcTime,
    ) -> Result<Hold, BookingError> {
        retrying("release a hold", || async move {
            let found = self.hold(id).await?.ok_or(BookingError::HoldNotFound)?;
            may(&found)?;
            if found.status == HoldStatus::Converted {
                return Err(BookingError::HoldEnded(HoldStatus::Converted));
            }
            let to = if found.expires_at <= now {
                HoldStatus::Expired
            } else {
                HoldStatus::Released
            };
            Ok(match self.end_hold_once(found, to, now).await? {
                Attempt::Done(HoldEnd::Ended(h) | HoldEnd::EndedNow(h)) => Attempt::Done(*h),
                Attempt::Done(_) => Attempt::Again,
                Attempt::Again => Attempt::Again,
                Attempt::Onward => Attempt::Onward,
            })
        })
        .await
    }

    /// The worker's end of a hold that ran out (its `hold-expired` job, or the sweeper): the seat
    /// given back, the patient's time freed, the hold `expired`. `Early` when it has not run out (the
    /// job is sent again for its time); nothing when it ended before.
    pub async fn lapse_hold(&self, id: HoldId, now: UtcTime) -> Result<HoldEnd, BookingError> {
        retrying("lapse a hold", || async move {
            let Some(found) = self.hold(id).await? else {
                return Ok(Attempt::Done(HoldEnd::Gone));
            };
            // Scheduler fires at whole seconds, at or after the hold's end; a second of tolerance.
            if found.status == HoldStatus::Held
                && found.expires_at > now.plus(SignedDuration::from_secs(1))
            {
                return Ok(Attempt::Done(HoldEnd::Early {
                    ends: found.expires_at,
                }));
            }
            self.end_hold_once(found, HoldStatus::Expired, now).await
        })
        .await
    }

    /// Ends a held hold as `to` (released or expired) in one transaction: the hold under its status
    /// as read, its seats given back, the guard's entry removed. `Ended` when it had ended before.
    async fn end_hold_once(
        &self,
        found: Hold,
        to: HoldStatus,
        now: UtcTime,
    ) -> Result<Attempt<HoldEnd>, BookingError> {
        if found.status != HoldStatus::Held {
            return Ok(Attempt::Done(HoldEnd::Ended(Box::new(found))));
        }
        let end = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::hold(found.id))))
            .update_expression("SET #status = :to, updatedAt = :now REMOVE GSI3PK, GSI3SK")
            .condition_expression("#status = :held")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":held", s(HoldStatus::Held.as_str()))
            .expression_attribute_values(":now", s(now.to_string()))
            .build()
            .map_err(StoreError::from)?;
        let guard = Guard::give_back(
            &self.table,
            &keys::patient_schedule(found.patient_id),
            &found.guard_entry(),
        )?;
        let mut writes = vec![TransactWriteItem::builder().update(end).build(), guard];
        for slot in found.seats() {
            let seat = self.end_hold(slot, &found.id.to_string(), now, HoldEnds::GivenBack)?;
            writes.push(TransactWriteItem::builder().update(seat).build());
        }
        if self.transact(writes).await?.is_some() {
            return Ok(Attempt::Again); // ended meanwhile: the next read says how
        }
        let mut ended = found;
        ended.status = to;
        ended.updated_at = now;
        Ok(Attempt::Done(HoldEnd::EndedNow(Box::new(ended))))
    }

    /// The holds still `held` whose end is before `now` (at most `max`, the earliest first): one Query
    /// of the sparse index GSI3. Nothing is there when every hold's expiry job arrived.
    pub async fn overdue_holds(&self, now: UtcTime, max: usize) -> Result<Vec<HoldId>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Live {
            id: HoldId,
        }
        let found: Vec<Live> = self.due_before(keys::LIVE_HOLDS, now, max).await?;
        Ok(found.into_iter().map(|l| l.id).collect())
    }

    /// Items of the GSI3 partition `deadlines` whose deadline is before `now`, the earliest first (at
    /// most `max`): the offers and holds that should have ended.
    pub(super) async fn due_before<T: serde::de::DeserializeOwned>(
        &self,
        deadlines: &str,
        now: UtcTime,
        max: usize,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI3)
            .key_condition_expression("#pk = :pk AND #sk < :now")
            .expression_attribute_names("#pk", keys::GSI3PK)
            .expression_attribute_names("#sk", keys::GSI3SK)
            .expression_attribute_values(":pk", s(deadlines))
            .expression_attribute_values(":now", s(now.to_string()))
            .limit(max.min(1000) as i32);
        self.pages_up_to(query, max).await
    }
}
