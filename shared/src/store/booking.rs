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
use super::idempotency::{self, put_unless_live, BookingRecord, IdempotencyKey};
use super::{from_item, keys, n, s, Item, Key, Store, StoreError, Writes};
use crate::domain::admission::{admit, bookable, Inadmissible};
use crate::domain::settings::{Broken, Rules};
use crate::domain::{
    Appointment, AppointmentType, ConsultationType, PatientId, Slot, SlotId, SlotStatus, UtcTime,
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
        let mut wanted = vec![slot_key.clone(), guard_key.clone()];
        wanted.extend(idem_key.clone());
        wanted.extend(type_key.clone());
        let mut found = self.get_many(&wanted).await?;

        let earlier: Option<BookingRecord> = idem_key
            .as_ref()
            .and_then(|k| found.remove(k))
            .map(from_item)
            .transpose()?;
        if let Some(record) = earlier.filter(|r| !r.expired(now)) {
            return self.replay(req, record).await.map(Attempt::Done);
        }
        let slot: Slot = from_item(found.remove(&slot_key).ok_or(BookingError::SlotNotFound)?)?;
        bookable(&slot, now, req.overbook)?;
        let kind = type_of(&mut found, type_key.as_ref())?;
        let consultation = admit(&slot, kind.as_ref(), req.consultation_type)?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        may_take(&guard, &slot.interval(), now, req.max_active)?;
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
        }
        let mut writes = Writes::new();
        writes.add(W::Seat, self.take_seat(slot.id, now, req.overbook)?);
        let (put, time) = self.new_appointment(&guard, &appointment, now)?;
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
        if refused.has(W::Idempotency) {
            return Ok(Attempt::Again); // a concurrent request with the same key won: the next read replays it
        }
        if refused.has(W::TypeActive) {
            return Err(Inadmissible::TypeInactive.into());
        }
        if let Some(current) = refused.item(W::Seat) {
            bookable(&from_item(current)?, now, req.overbook)?;
        }
        if refused.has(W::Day) {
            return Err(daily_limit(&rules, &appointment).into());
        }
        if refused.has(W::Appointment) {
            return Err(StoreError::Corrupt("a fresh appointment id already exists".into()).into());
        }
        if refused.has(W::Seat) || refused.has(W::Guard) {
            return Ok(Attempt::Again);
        }
        Err(StoreError::internal(format!("transaction cancelled: {refused:?}")).into())
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
    /// patient's guard under the version read.
    pub(super) fn new_appointment(
        &self,
        guard: &Guard,
        a: &Appointment,
        now: UtcTime,
    ) -> Result<(TransactWriteItem, TransactWriteItem), StoreError> {
        Ok((
            put_new(&self.table, super::items::item(a)?)?,
            guard.take(&self.table, &a.id.to_string(), &a.interval(), now, None)?,
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

/// The daily limit `a` would pass.
pub(super) fn daily_limit(rules: &Rules, a: &Appointment) -> Broken {
    Broken::DailyLimit {
        limit: rules.max_appointments_per_day.unwrap_or(0),
        day: rules.day_of(a.start_time),
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

/// Whether the patient whose guard this is may take `iv`: no overlap with what they hold, and fewer
/// than `max_active` appointments not yet ended.
pub(super) fn may_take(
    guard: &Guard,
    iv: &crate::domain::Interval,
    now: UtcTime,
    max_active: usize,
) -> Result<(), BookingError> {
    let clashes = guard.conflicts(iv, None);
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
