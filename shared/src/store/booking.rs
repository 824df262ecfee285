//! Booking: the write where double booking would happen if it could. Cancelling and rescheduling, which
//! give seats back and move them, are in `cancel.rs` and `reschedule.rs`.
//!
//! Book is three requests: one consistent BatchGetItem (slot, patient guard, idempotency record, type),
//! one GetItem of the provider's profile (the slot names the provider; their settings hold the booking
//! rules), then one TransactWriteItems that takes a seat under `status = available AND currentBookings <
//! maxBookings AND startTime > now`, puts the appointment, records the patient's time under the guard's
//! version, counts the appointment on the provider's local day under their daily limit, and puts the
//! idempotency record. The seat counter commutes, so fifty racing patients need no retries among
//! themselves: exactly `maxBookings` transactions pass the seat condition.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use uuid::Uuid;

use super::guard::Guard;
use super::holds::HoldEnds;
use super::idempotency::{self, put_unless_live, BookingRecord, IdempotencyKey};
use super::{from_item, keys, n, s, Item, Key, Store, StoreError, Writes};
use crate::domain::admission::{bookable, fits, run, Inadmissible};
use crate::domain::hold::{Hold, HoldStatus};
use crate::domain::settings::{Broken, Rules};
use crate::domain::{
    Appointment, AppointmentType, ConsultationType, HoldId, Interval, PatientId, Slot, SlotId,
    SlotStatus, UtcTime,
};
use crate::retry::{retrying, Attempt, Retry, Spent};

/// Everything a booking needs, already parsed and authorized.
#[derive(Clone, Debug)]
pub struct NewBooking {
    pub caller: Uuid,
    pub idempotency_key: Option<IdempotencyKey>,
    pub slot_id: SlotId,
    pub patient_id: PatientId,
    /// As asked; with a type, it must be one the type offers (default: the type's first).
    pub consultation_type: Option<ConsultationType>,
    pub appointment_type_id: Option<Uuid>,
    /// Staff booking one seat beyond `maxBookings` (and beyond the provider's daily limit).
    pub overbook: bool,
    pub reason_for_visit: Option<String>,
    pub symptoms: Vec<String>,
    pub chief_complaint: Option<String>,
    /// The patient's cap on appointments that have not ended (`Config::max_active_per_patient`).
    pub max_active: usize,
    /// Book the seat this hold keeps (its patient's and slot's, which `patient_id` and `slot_id` name).
    pub hold_id: Option<HoldId>,
}

#[derive(Debug)]
pub enum Booked {
    New(Appointment),
    /// The same `Idempotency-Key` was used before: the first booking, unchanged.
    Replayed(Appointment),
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("slot not found")]
    SlotNotFound,
    #[error(transparent)]
    Inadmissible(#[from] Inadmissible),
    /// A rule of the provider's settings.
    #[error(transparent)]
    Rule(#[from] Broken),
    #[error("the patient already has an appointment at that time")]
    PatientConflict(Vec<String>),
    #[error("the patient already holds the most active appointments allowed ({0})")]
    TooManyAppointments(usize),
    #[error("the patient already holds the most seats allowed at once ({0})")]
    TooManyHolds(usize),
    #[error("hold not found")]
    HoldNotFound,
    #[error("the hold has run out or was released; its seat went back")]
    HoldExpired,
    #[error("the hold has ended ({})", .0.as_str())]
    HoldEnded(crate::domain::hold::HoldStatus),
    #[error("this Idempotency-Key was used for a different booking")]
    IdempotencyMismatch,
    #[error("appointment type not found")]
    TypeNotFound,
    #[error("a provider may move an appointment only into one of their own slots")]
    NotOwnSlot,
    /// A rule of the appointment's life refused the move (`domain::lifecycle::RULES`).
    #[error("refused: {0:?}")]
    Refused(crate::domain::lifecycle::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Retry for BookingError {
    fn is_transient(&self) -> bool {
        matches!(self, BookingError::Store(e) if e.is_transient())
    }

    fn spent(spent: Spent, _last: Option<Self>) -> Self {
        StoreError::from(spent).into()
    }
}

impl NewBooking {
    /// What makes two bookings the same request, hashed: a retry with the same key must ask for the
    /// same thing (slot, patient, type, consultation, overbook, reason, symptoms, complaint), or it is
    /// another request reusing the key.
    pub fn fingerprint(&self) -> String {
        idempotency::fingerprint(&serde_json::json!([
            self.slot_id,
            self.patient_id,
            self.appointment_type_id,
            self.consultation_type,
            self.overbook,
            self.reason_for_visit,
            self.symptoms,
            self.chief_complaint,
            self.hold_id,
        ]))
    }
}

impl Store {
    pub async fn book(&self, req: &NewBooking, now: UtcTime) -> Result<Booked, BookingError> {
        retrying("book", || self.book_once(req, now)).await
    }

    /// One read and one transaction; `Again` when a concurrent write moved what was read.
    async fn book_once(
        &self,
        req: &NewBooking,
        now: UtcTime,
    ) -> Result<Attempt<Booked>, BookingError> {
        let slot_key = keys::slot(req.slot_id);
        let guard_key = keys::patient_schedule(req.patient_id);
        let idem_key: Option<Key> = req
            .idempotency_key
            .as_ref()
            .map(|k| k.booking_record(req.caller));
        let type_key = req.appointment_type_id.map(keys::appointment_type);
        let hold_key = req.hold_id.map(keys::hold);
        let mut wanted = vec![slot_key.clone(), guard_key.clone()];
        wanted.extend(idem_key.clone());
        wanted.extend(type_key.clone());
        wanted.extend(hold_key.clone());
        let mut found = self.get_many(&wanted).await?;

        let earlier: Option<BookingRecord> = idem_key
            .as_ref()
            .and_then(|k| found.remove(k))
            .map(from_item)
            .transpose()?;
        if let Some(record) = earlier.filter(|r| !r.expired(now)) {
            return self.replay(req, record).await.map(Attempt::Done);
        }
        let held: Option<Hold> = match &hold_key {
            None => None,
            Some(k) => {
                let h: Hold = from_item(found.remove(k).ok_or(BookingError::HoldNotFound)?)?;
                if h.patient_id != req.patient_id || h.slot_id != req.slot_id {
                    return Err(BookingError::HoldNotFound);
                }
                match h.status {
                    HoldStatus::Converted => return self.converted(&h).await.map(Attempt::Done),
                    _ if !h.is_live(now) => return Err(BookingError::HoldExpired),
                    _ => Some(h),
                }
            }
        };
        let slot: Slot = from_item(found.remove(&slot_key).ok_or(BookingError::SlotNotFound)?)?;
        match held {
            // The seat is the hold's: the slot must still be open and not started.
            Some(_) => open_and_ahead(&slot, now)?,
            None => bookable(&slot, now, req.overbook)?,
        }
        let kind = type_of(&mut found, type_key.as_ref())?;
        // A type longer than the slot takes the consecutive slots after it (one Query more); a hold
        // already keeps a seat of each slot its visit takes, and what it was held for.
        let following = match &held {
            None => {
                self.following(&slot, kind.as_ref().map(|k| k.duration_minutes))
                    .await?
            }
            Some(_) => vec![],
        };
        let (consultation, taken) = match &held {
            None => run(
                &slot,
                &following,
                kind.as_ref(),
                req.consultation_type,
                now,
                req.overbook,
            )?,
            Some(h) => (h.consultation_type, vec![&slot]),
        };
        let span = match &held {
            Some(h) => Interval::new(h.start_time, h.end_time).ok(),
            None => crate::domain::admission::span(&taken),
        }
        .ok_or_else(|| StoreError::internal("a run ends after it starts"))?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        let hold_entry = held.as_ref().map(Hold::guard_entry);
        may_take(&guard, &span, now, req.max_active, hold_entry.as_deref())?;
        let rules = self.provider_rules(slot.provider_id).await?;
        rules.admits(slot.start_time, now)?;

        let mut appointment = Appointment::in_slot(
            &slot,
            req.patient_id,
            consultation,
            kind.as_ref(),
            &rules,
            now,
        );
        match &held {
            Some(h) => appointment.over_seats(h.seats(), span.end()),
            None => appointment.over(&taken),
        }
        appointment.is_overbook = req.overbook;
        appointment.booked_by = Some(req.caller);
        appointment.reason_for_visit = req.reason_for_visit.clone();
        appointment.symptoms = req.symptoms.clone();
        appointment.chief_complaint = req.chief_complaint.clone();

        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Seat,
            Appointment,
            Guard,
            Idempotency,
            TypeActive,
            Day,
            Hold,
            /// A seat of the run after the first slot.
            Run,
        }
        let mut writes = Writes::new();
        match &held {
            None => {
                for (i, s) in taken.iter().enumerate() {
                    let name = if i == 0 { W::Seat } else { W::Run };
                    writes.add(name, self.take_seat(s.id, now, req.overbook)?);
                }
            }
            Some(h) => {
                let holder = h.id.to_string();
                for (i, s) in h.seats().into_iter().enumerate() {
                    let seat = self.end_hold(s, &holder, now, HoldEnds::Booked)?;
                    let name = if i == 0 { W::Seat } else { W::Run };
                    writes.add(name, TransactWriteItem::builder().update(seat).build());
                }
                writes.add(W::Hold, self.convert_hold(h, &appointment, now)?);
            }
        }
        let (put, time) = self.new_appointment(&guard, &appointment, now, hold_entry.as_deref())?;
        writes.add(W::Appointment, put);
        writes.add(W::Guard, time);
        let limit = rules.max_appointments_per_day.filter(|_| !req.overbook);
        writes.add(W::Day, self.count_day(&appointment, limit)?);
        if let Some(key) = &idem_key {
            let record = BookingRecord {
                appointment_id: appointment.id,
                slot_id: slot.id,
                patient_id: req.patient_id,
                expires_at: Some(idempotency::expiry(now)),
                request: Some(req.fingerprint()),
            };
            writes.add(
                W::Idempotency,
                put_unless_live(&self.table, super::to_item(&record, key, &[])?, now)?,
            );
        }
        if let Some(key) = &type_key {
            // The type was active when read; it must still be when the seat is taken.
            writes.add(W::TypeActive, still_active(&self.table, key)?);
        }

        let Some(refused) = self.commit(writes).await? else {
            return Ok(Attempt::Done(Booked::New(appointment)));
        };
        if refused.has(W::Idempotency) || refused.has(W::Hold) {
            // A concurrent request with the same key won, or the hold ended (booked by a concurrent
            // request, released, lapsed): the next read replays it or says which.
            return Ok(Attempt::Again);
        }
        if refused.has(W::TypeActive) {
            return Err(Inadmissible::TypeInactive.into());
        }
        // As they are now (the index the run was found by may lag behind the slot); a held seat's
        // slot need only still be open and ahead.
        let seat_given = |s: &Slot| match held {
            Some(_) => open_and_ahead(s, now),
            None => bookable(s, now, req.overbook),
        };
        if let Some(current) = refused.item(W::Seat) {
            seat_given(&from_item(current)?)?;
        }
        if let Some(current) = refused.item(W::Run) {
            let s: Slot = from_item(current)?;
            seat_given(&s).map_err(|e| Inadmissible::InRun(s.id, Box::new(e)))?;
        }
        if refused.has(W::Day) {
            return Err(daily_limit(&rules, &appointment).into());
        }
        if refused.has(W::Appointment) {
            return Err(StoreError::Corrupt("a fresh appointment id already exists".into()).into());
        }
        if refused.has(W::Seat) || refused.has(W::Guard) || refused.has(W::Run) {
            // The next read says which slot is full now, or finds the run free again.
            return Ok(Attempt::Again);
        }
        Err(StoreError::internal(format!("transaction cancelled: {refused:?}")).into())
    }

    /// A booking with a hold already converted: the appointment it became (a retried request).
    async fn converted(&self, h: &Hold) -> Result<Booked, BookingError> {
        let first = match h.appointment_id {
            Some(a) => self.appointment(a).await?,
            None => None,
        };
        first.map(Booked::Replayed).ok_or_else(|| {
            StoreError::Corrupt("a converted hold without its appointment".into()).into()
        })
    }

    /// The write that marks `h` booked as `a`, only while it is held and has not run out.
    fn convert_hold(
        &self,
        h: &Hold,
        a: &Appointment,
        now: UtcTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::hold(h.id))))
            .update_expression(
                "SET #status = :converted, appointmentId = :appt, updatedAt = :now \
                 REMOVE GSI3PK, GSI3SK",
            )
            .condition_expression("#status = :held AND expiresAt > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":converted", s(HoldStatus::Converted.as_str()))
            .expression_attribute_values(":held", s(HoldStatus::Held.as_str()))
            .expression_attribute_values(":appt", s(a.id.to_string()))
            .expression_attribute_values(":now", s(now.to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn replay(
        &self,
        req: &NewBooking,
        record: BookingRecord,
    ) -> Result<Booked, BookingError> {
        if !record.same_request(&req.fingerprint(), req.slot_id, req.patient_id) {
            return Err(BookingError::IdempotencyMismatch);
        }
        let first = self
            .appointment(record.appointment_id)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt("idempotency record without its appointment".into())
            })?;
        Ok(Booked::Replayed(first))
    }

    /// The two writes of a new appointment: its put (under `attribute_not_exists`), and its time in the
    /// patient's guard under the version read (`release`: the hold whose time it takes over).
    pub(super) fn new_appointment(
        &self,
        guard: &Guard,
        a: &Appointment,
        now: UtcTime,
        release: Option<&str>,
    ) -> Result<(TransactWriteItem, TransactWriteItem), StoreError> {
        Ok((
            put_new(&self.table, super::items::item(a)?)?,
            guard.take(&self.table, &a.id.to_string(), &a.interval(), now, release)?,
        ))
    }

    /// The count of `a` on its provider's local day (`a.terms.day`), under `limit` if any.
    pub(super) fn count_day(
        &self,
        a: &Appointment,
        limit: Option<u32>,
    ) -> Result<TransactWriteItem, StoreError> {
        let terms = a.terms.as_ref().ok_or_else(|| {
            StoreError::internal("a new appointment is booked under its provider's terms")
        })?;
        super::settings::count_in(&self.table, a.provider_id, terms.day, limit)
    }

    pub(super) fn give_seat(
        &self,
        slot: SlotId,
        now: UtcTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::slot(slot))))
            .update_expression("SET currentBookings = currentBookings - :one, updatedAt = :now")
            .condition_expression("currentBookings > :zero")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", s(now.to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// One more seat taken, if the slot is open, not started and not full (for an overbook: at most one
    /// beyond `maxBookings`). The counter commutes, so concurrent bookings need no retry among themselves.
    pub(super) fn take_seat(
        &self,
        slot: SlotId,
        now: UtcTime,
        overbook: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let seats = if overbook {
            "currentBookings <= maxBookings"
        } else {
            "currentBookings < maxBookings"
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::slot(slot))))
            .update_expression("SET currentBookings = currentBookings + :one, updatedAt = :now")
            .condition_expression(format!(
                "#status = :available AND {seats} AND startTime > :now"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":available", s(SlotStatus::Available.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl Store {
    /// The provider's slots that start after `slot` and before a visit of `minutes` from its start
    /// would end (by start; one Query, every page), when the visit is longer than `slot`; none
    /// otherwise (no Query).
    pub(super) async fn following(
        &self,
        slot: &Slot,
        minutes: Option<u32>,
    ) -> Result<Vec<Slot>, StoreError> {
        let Some(m) = minutes.filter(|m| fits(slot, *m).is_err()) else {
            return Ok(vec![]);
        };
        let to = slot
            .start_time
            .plus(jiff::SignedDuration::from_mins(i64::from(m)));
        let mut after = self
            .slots_between(slot.provider_id, slot.end_time, to)
            .await?;
        after.sort_by_key(|s| s.start_time);
        Ok(after)
    }
}

/// The daily limit `a` would pass.
pub(super) fn daily_limit(rules: &Rules, a: &Appointment) -> Broken {
    daily_limit_on(rules, rules.day_of(a.start_time))
}

/// The daily limit the provider's local `day` is at.
pub(super) fn daily_limit_on(rules: &Rules, day: jiff::civil::Date) -> Broken {
    Broken::DailyLimit {
        limit: rules.max_appointments_per_day.unwrap_or(0),
        day,
    }
}

/// The appointment type under `key` among the items read, if one was asked for.
pub(super) fn type_of(
    found: &mut std::collections::HashMap<Key, Item>,
    key: Option<&Key>,
) -> Result<Option<AppointmentType>, BookingError> {
    match key {
        None => Ok(None),
        Some(k) => Ok(Some(from_item(
            found.remove(k).ok_or(BookingError::TypeNotFound)?,
        )?)),
    }
}

/// A held seat's slot: still open and not started (its seat is already counted).
fn open_and_ahead(slot: &Slot, now: UtcTime) -> Result<(), Inadmissible> {
    bookable(slot, now, true).or_else(|e| match e {
        Inadmissible::SlotFull => Ok(()),
        other => Err(other),
    })
}

/// Whether the patient whose guard this is may take `iv`: no overlap with what they hold (but
/// `except`, the hold being booked), and fewer than `max_active` appointments not yet ended.
pub(super) fn may_take(
    guard: &Guard,
    iv: &crate::domain::Interval,
    now: UtcTime,
    max_active: usize,
    except: Option<&str>,
) -> Result<(), BookingError> {
    let clashes = guard.clashes(iv, except, now);
    if !clashes.is_empty() {
        return Err(BookingError::PatientConflict(clashes));
    }
    if guard.active(now) >= max_active {
        return Err(BookingError::TooManyAppointments(max_active));
    }
    Ok(())
}

/// A check that the appointment type under `key` still exists and is active; refused, it returns the
/// type as it was (none: it does not exist).
pub(super) fn still_active(table: &str, key: &Key) -> Result<TransactWriteItem, StoreError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(super::key_item(key)))
        .condition_expression("isActive = :yes")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .build()?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

pub(super) fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}
