//! Booking and cancelling: the two writes where double booking would happen if it could.
//!
//! Book is two requests: one consistent BatchGetItem (slot, patient guard, idempotency record), then one
//! TransactWriteItems that takes a seat under `status = available AND currentBookings < maxBookings AND
//! startTime > now`, puts the appointment, records the patient's time under the guard's version, and puts
//! the idempotency record. The seat counter commutes, so fifty racing patients need no retries among
//! themselves: exactly `maxBookings` transactions pass the seat condition.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::guard::Guard;
use super::retry::{retrying, Attempt, Transient};
use super::{from_item, keys, n, s, Item, Key, Store, StoreError};
use crate::domain::appointment::is_late_cancellation;
use crate::domain::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, ConsultationType, PatientId,
    ProviderId, Slot, SlotId, SlotStatus, UtcTime,
};

/// How long a retried booking is recognised by its `Idempotency-Key`.
pub const IDEMPOTENCY_TTL: SignedDuration = SignedDuration::from_hours(24);

/// Everything a booking needs, already parsed and authorized.
#[derive(Clone, Debug)]
pub struct NewBooking {
    pub caller: Uuid,
    pub idempotency_key: Option<String>,
    pub slot_id: SlotId,
    pub patient_id: PatientId,
    /// As asked; with a type, it must be one the type offers (default: the type's first).
    pub consultation_type: Option<ConsultationType>,
    pub appointment_type_id: Option<Uuid>,
    /// Staff booking one seat beyond `maxBookings`.
    pub overbook: bool,
    pub reason_for_visit: Option<String>,
    pub symptoms: Vec<String>,
    pub chief_complaint: Option<String>,
    /// The patient's cap on appointments that have not ended (`Config::max_active_per_patient`).
    pub max_active: usize,
}

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
    #[error("every seat of this slot is taken")]
    SlotFull,
    #[error("the slot cannot be booked: {0}")]
    SlotUnavailable(&'static str),
    #[error("the patient already has an appointment at that time")]
    PatientConflict(Vec<String>),
    #[error("the patient already holds the most active appointments allowed ({0})")]
    TooManyAppointments(usize),
    #[error("this Idempotency-Key was used for a different booking")]
    IdempotencyMismatch,
    #[error("appointment type not found")]
    TypeNotFound,
    #[error("the appointment type is no longer offered")]
    TypeInactive,
    #[error("this slot does not allow that appointment type")]
    TypeNotAllowed,
    #[error("the appointment type is not offered as that consultation type")]
    ConsultationNotOffered,
    #[error("a provider may move an appointment only into one of their own slots")]
    NotOwnSlot,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Transient for BookingError {
    fn is_transient(&self) -> bool {
        matches!(self, BookingError::Store(e) if e.is_transient())
    }
}

/// The stored idempotency record: which appointment a key produced, and for what.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyRecord {
    appointment_id: AppointmentId,
    slot_id: SlotId,
    patient_id: PatientId,
    /// Unix seconds; the table's TTL deletes the record some time after (up to days later), so a
    /// record past it is treated as gone.
    #[serde(default)]
    expires_at: Option<i64>,
    /// SHA-256 of what was asked (see [`NewBooking::fingerprint`]); records from before it have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<String>,
}

impl NewBooking {
    /// What makes two bookings the same request, hashed: a retry with the same key must ask for the
    /// same thing (slot, patient, type, consultation, overbook, reason, symptoms, complaint), or it is
    /// another request reusing the key.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let asked = serde_json::json!([
            self.slot_id,
            self.patient_id,
            self.appointment_type_id,
            self.consultation_type,
            self.overbook,
            self.reason_for_visit,
            self.symptoms,
            self.chief_complaint,
        ]);
        Sha256::digest(asked.to_string().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl IdempotencyRecord {
    fn expired(&self, now: UtcTime) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.timestamp().as_second())
    }
}

/// Why a slot cannot be booked, judged from its stored state (read before, or returned by a failed
/// condition).
fn refusal(slot: &Slot, now: UtcTime, overbook: bool) -> Option<BookingError> {
    match slot.status {
        SlotStatus::Blocked => Some(BookingError::SlotUnavailable("the slot is blocked")),
        SlotStatus::Cancelled => Some(BookingError::SlotUnavailable("the slot is cancelled")),
        SlotStatus::Available if slot.start_time <= now => Some(BookingError::SlotUnavailable(
            "the slot has already started",
        )),
        SlotStatus::Available
            if slot.current_bookings >= slot.max_bookings + u32::from(overbook) =>
        {
            Some(BookingError::SlotFull)
        }
        SlotStatus::Available => None,
    }
}

/// The consultation type a booking gets, if the slot admits the appointment type and the type offers it.
fn admit(
    slot: &Slot,
    kind: Option<&AppointmentType>,
    asked: Option<ConsultationType>,
) -> Result<ConsultationType, BookingError> {
    let Some(kind) = kind else {
        return if slot.allowed_appointment_types.is_empty() {
            Ok(asked.unwrap_or_default())
        } else {
            Err(BookingError::TypeNotAllowed)
        };
    };
    if !kind.is_active {
        return Err(BookingError::TypeInactive);
    }
    if !slot.allowed_appointment_types.is_empty()
        && !slot.allowed_appointment_types.contains(&kind.id)
    {
        return Err(BookingError::TypeNotAllowed);
    }
    kind.consultation(asked)
        .ok_or(BookingError::ConsultationNotOffered)
}

fn failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons
        .get(index)
        .and_then(|r| r.code())
        .is_some_and(|c| c == "ConditionalCheckFailed")
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
            .as_deref()
            .map(|k| keys::idempotency(req.caller, k));
        let type_key = req.appointment_type_id.map(keys::appointment_type);
        let mut wanted = vec![slot_key.clone(), guard_key.clone()];
        wanted.extend(idem_key.clone());
        wanted.extend(type_key.clone());
        let mut found = self.get_many(&wanted).await?;

        let earlier: Option<IdempotencyRecord> = idem_key
            .as_ref()
            .and_then(|k| found.remove(k))
            .map(from_item)
            .transpose()?;
        if let Some(record) = earlier.filter(|r| !r.expired(now)) {
            return self.replay(req, record).await.map(Attempt::Done);
        }
        let slot: Slot = from_item(found.remove(&slot_key).ok_or(BookingError::SlotNotFound)?)?;
        if let Some(no) = refusal(&slot, now, req.overbook) {
            return Err(no);
        }
        let kind = match &type_key {
            None => None,
            Some(k) => Some(from_item::<AppointmentType>(
                found.remove(k).ok_or(BookingError::TypeNotFound)?,
            )?),
        };
        let consultation = admit(&slot, kind.as_ref(), req.consultation_type)?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        let clashes = guard.conflicts(&slot.interval(), None);
        if !clashes.is_empty() {
            return Err(BookingError::PatientConflict(clashes));
        }
        if guard.active(now) >= req.max_active {
            return Err(BookingError::TooManyAppointments(req.max_active));
        }

        let mut appointment = Appointment::scheduled(
            AppointmentId::new(),
            req.patient_id,
            slot.provider_id,
            slot.id,
            slot.start_time,
            slot.end_time,
            consultation,
            now,
        );
        appointment.appointment_type_id = req.appointment_type_id;
        appointment.consultation_fee = kind.as_ref().map(|t| t.consultation_fee);
        appointment.is_overbook = req.overbook;
        appointment.reason_for_visit = req.reason_for_visit.clone();
        appointment.symptoms = req.symptoms.clone();
        appointment.chief_complaint = req.chief_complaint.clone();
        const SEAT: usize = 0;
        const APPOINTMENT: usize = 1;
        const GUARD: usize = 2;
        let mut writes = vec![
            self.take_seat(slot.id, now, req.overbook)?,
            put_new(&self.table, super::appointment_item(&appointment)?)?,
            guard.take(
                &self.table,
                &appointment.id.to_string(),
                &slot.interval(),
                now,
                None,
            )?,
        ];
        let mut idem_at = None;
        if let Some(key) = &idem_key {
            let record = IdempotencyRecord {
                appointment_id: appointment.id,
                slot_id: slot.id,
                patient_id: req.patient_id,
                expires_at: Some(now.plus(IDEMPOTENCY_TTL).timestamp().as_second()),
                request: Some(req.fingerprint()),
            };
            idem_at = Some(writes.len());
            writes.push(put_unless_live(
                &self.table,
                super::to_item(&record, key, &[])?,
                now,
            )?);
        }
        let mut type_at = None;
        if let Some(key) = &type_key {
            // The type was active when read; it must still be when the seat is taken.
            type_at = Some(writes.len());
            writes.push(still_active(&self.table, key)?);
        }

        let Some(reasons) = self.transact(writes).await? else {
            return Ok(Attempt::Done(Booked::New(appointment)));
        };
        if idem_at.is_some_and(|i| failed(&reasons, i)) {
            return Ok(Attempt::Again); // a concurrent request with the same key won: the next read replays it
        }
        if type_at.is_some_and(|i| failed(&reasons, i)) {
            return Err(BookingError::TypeInactive);
        }
        if failed(&reasons, SEAT) {
            let current: Option<Slot> = reasons[SEAT].item.clone().map(from_item).transpose()?;
            if let Some(no) = current.and_then(|s| refusal(&s, now, req.overbook)) {
                return Err(no);
            }
        }
        if failed(&reasons, APPOINTMENT) {
            return Err(StoreError::Corrupt("a fresh appointment id already exists".into()).into());
        }
        if failed(&reasons, SEAT) || failed(&reasons, GUARD) {
            return Ok(Attempt::Again);
        }
        Err(StoreError::Dynamo(format!("transaction cancelled: {reasons:?}")).into())
    }

    async fn replay(
        &self,
        req: &NewBooking,
        record: IdempotencyRecord,
    ) -> Result<Booked, BookingError> {
        let same = match &record.request {
            Some(hash) => *hash == req.fingerprint(),
            None => record.slot_id == req.slot_id && record.patient_id == req.patient_id,
        };
        if !same {
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

    fn give_seat(&self, slot: SlotId, now: UtcTime) -> Result<TransactWriteItem, StoreError> {
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

    /// Moves `old` (as read) to a seat of `new_slot` in one transaction: the old appointment becomes
    /// `rescheduled` (if its status is still what was read), its seat is given back, a seat of the new
    /// slot is taken under the same conditions as a booking, the new appointment is put, and the
    /// patient's guard swaps the old time for the new under its version. Two requests (the batch read
    /// and the transaction); `Ok(None)` means `old` changed meanwhile and should be read again.
    pub async fn reschedule(
        &self,
        old: &Appointment,
        to: &Move<'_>,
        now: UtcTime,
    ) -> Result<Option<Appointment>, BookingError> {
        if to.slot == old.slot_id {
            return Err(BookingError::SlotUnavailable(
                "the appointment is already in this slot",
            ));
        }
        retrying("reschedule", || self.reschedule_once(old, to, now)).await
    }

    async fn reschedule_once(
        &self,
        old: &Appointment,
        to: &Move<'_>,
        now: UtcTime,
    ) -> Result<Attempt<Option<Appointment>>, BookingError> {
        let slot_key = keys::slot(to.slot);
        let guard_key = keys::patient_schedule(old.patient_id);
        let type_key = old.appointment_type_id.map(keys::appointment_type);
        let old_id = old.id.to_string();
        let req_overbook = false;
        let mut wanted = vec![slot_key.clone(), guard_key.clone()];
        wanted.extend(type_key.clone());
        let mut found = self.get_many(&wanted).await?;
        let slot: Slot = from_item(found.remove(&slot_key).ok_or(BookingError::SlotNotFound)?)?;
        if to.own_slots_of.is_some_and(|p| p != slot.provider_id) {
            return Err(BookingError::NotOwnSlot);
        }
        if let Some(no) = refusal(&slot, now, req_overbook) {
            return Err(no);
        }
        // Exactly booking's rules for the appointment's type and consultation.
        let kind = match &type_key {
            None => None,
            Some(k) => Some(from_item::<AppointmentType>(
                found.remove(k).ok_or(BookingError::TypeNotFound)?,
            )?),
        };
        admit(&slot, kind.as_ref(), Some(old.consultation_type))?;
        let guard = Guard::read(guard_key.clone(), found.remove(&guard_key))?;
        let clashes = guard.conflicts(&slot.interval(), Some(&old_id));
        if !clashes.is_empty() {
            return Err(BookingError::PatientConflict(clashes));
        }
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
        moved.appointment_type_id = old.appointment_type_id;
        moved.reason_for_visit = old.reason_for_visit.clone();
        moved.symptoms = old.symptoms.clone();
        moved.chief_complaint = old.chief_complaint.clone();
        moved.consultation_fee = old.consultation_fee;
        moved.is_paid = old.is_paid;
        moved.payment_id = old.payment_id.clone();
        moved.rescheduled_from = Some(old.id);
        moved.previous_appointment_id = Some(old.id);
        moved.reschedule_reason = to.reason.map(str::to_owned);

        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (
                ":rescheduled".into(),
                s(AppointmentStatus::Rescheduled.as_str()),
            ),
            (":read".into(), s(old.status.as_str())),
            (":now".into(), s(now.to_string())),
            (":to".into(), s(moved.id.to_string())),
        ]);
        let mut expr =
            "SET #status = :rescheduled, rescheduledTo = :to, updatedAt = :now".to_owned();
        if let Some(r) = to.reason {
            values.insert(":reason".into(), s(r));
            expr.push_str(", rescheduleReason = :reason");
        }
        let leave = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::appointment(old.id))))
            .update_expression(expr)
            .condition_expression(if to.before_end {
                "#status = :read AND endTime > :now"
            } else {
                "#status = :read"
            })
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(StoreError::from)?;
        let mut writes = vec![
            TransactWriteItem::builder().update(leave).build(),
            self.give_seat(old.slot_id, now)?,
            self.take_seat(slot.id, now, false)?,
            put_new(&self.table, super::appointment_item(&moved)?)?,
            guard.take(
                &self.table,
                &moved.id.to_string(),
                &slot.interval(),
                now,
                Some(&old_id),
            )?,
        ];
        const TYPE: usize = 5;
        if let Some(key) = &type_key {
            writes.push(still_active(&self.table, key)?);
        }
        let Some(reasons) = self.transact(writes).await? else {
            return Ok(Attempt::Done(Some(moved)));
        };
        if type_key.is_some() && failed(&reasons, TYPE) {
            return Err(BookingError::TypeInactive);
        }
        if failed(&reasons, 0) {
            return Ok(Attempt::Done(None));
        }
        if failed(&reasons, 2) {
            let current: Option<Slot> = reasons[2].item.clone().map(from_item).transpose()?;
            if let Some(no) = current.and_then(|s| refusal(&s, now, req_overbook)) {
                return Err(no);
            }
        }
        if failed(&reasons, 1) || failed(&reasons, 3) {
            return Err(StoreError::Corrupt(format!(
                "rescheduling {} met an inconsistent slot: {reasons:?}",
                old.id
            ))
            .into());
        }
        Ok(Attempt::Again)
    }

    /// One more seat taken, if the slot is open, not started and not full (for an overbook: at most one
    /// beyond `maxBookings`). The counter commutes, so concurrent bookings need no retry among themselves.
    fn take_seat(
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

    /// Cancels `appointment` as it was read: valid only if its status has not changed since. Frees the
    /// seat and the patient's time in the same transaction. `Ok(None)` means the status moved under us
    /// and the caller should read again.
    pub async fn cancel(
        &self,
        appointment: &Appointment,
        by: Uuid,
        reason: &str,
        late_window: SignedDuration,
        before_end: bool,
        now: UtcTime,
    ) -> Result<Option<Appointment>, StoreError> {
        let mut cancelled = appointment.clone();
        cancelled.status = AppointmentStatus::Cancelled;
        cancelled.cancelled_at = Some(now);
        cancelled.cancelled_by = Some(by);
        cancelled.cancellation_reason = Some(reason.to_owned());
        cancelled.late_cancellation = Some(is_late_cancellation(
            now,
            appointment.start_time,
            late_window,
        ));
        cancelled.updated_at = now;

        let values: HashMap<String, AttributeValue> = HashMap::from([
            (
                ":cancelled".into(),
                s(AppointmentStatus::Cancelled.as_str()),
            ),
            (":read".into(), s(appointment.status.as_str())),
            (":now".into(), s(now.to_string())),
            (":by".into(), s(by.to_string())),
            (":reason".into(), s(reason)),
            (
                ":late".into(),
                AttributeValue::Bool(cancelled.late_cancellation == Some(true)),
            ),
        ]);
        let status = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::appointment(appointment.id))))
            .update_expression(
                "SET #status = :cancelled, cancelledAt = :now, cancelledBy = :by, cancellationReason = :reason, \
                 lateCancellation = :late, updatedAt = :now",
            )
            .condition_expression(if before_end {
                "#status = :read AND endTime > :now"
            } else {
                "#status = :read"
            })
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()?;
        let seat = self.give_seat(appointment.slot_id, now)?;
        let writes = vec![
            TransactWriteItem::builder().update(status).build(),
            seat,
            Guard::give_back(
                &self.table,
                &keys::patient_schedule(appointment.patient_id),
                &appointment.id.to_string(),
            )?,
        ];
        let Some(reasons) = self.transact(writes).await? else {
            return Ok(Some(cancelled));
        };
        if failed(&reasons, 0) {
            return Ok(None);
        }
        Err(StoreError::Corrupt(format!(
            "cancelling {} left the slot or guard inconsistent: {reasons:?}",
            appointment.id
        )))
    }
}

/// A put that succeeds if no record lives under the key: absent, or past its `expiresAt` and only
/// waiting for TTL to delete it.
fn put_unless_live(table: &str, item: Item, now: UtcTime) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK) OR #expires <= :now")
        .expression_attribute_names("#expires", keys::EXPIRES_AT)
        .expression_attribute_values(":now", n(now.timestamp().as_second()))
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A check that the appointment type under `key` still exists and is active.
fn still_active(table: &str, key: &Key) -> Result<TransactWriteItem, StoreError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(super::key_item(key)))
        .condition_expression("isActive = :yes")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .build()?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}
