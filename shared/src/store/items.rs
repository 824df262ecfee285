//! Items own their keys, queries are named access patterns. Every stored item type says through
//! [`Stored`] what its primary key and index keys are (from `keys.rs`, where the key formats live); every
//! query of a range is a [`Range`] that owns its index, its key condition and the check of its cursors.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use serde::{Deserialize, Serialize};

use super::keys::{self, Key};
use super::page::{self, BadCursor};
use super::{n, s, to_item, Item, Store, StoreError};
use crate::domain::reminders::Offset;
use crate::domain::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentType, ConsultationType, PatientId,
    ProviderId, Slot, UtcTime,
};

/// An item type as the table stores it.
pub trait Stored: Serialize {
    fn key(&self) -> Key;

    /// Its keys on the secondary indexes it appears in, as `(attribute, value)`.
    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![]
    }

    /// When the table's TTL may delete it (epoch seconds), if ever.
    fn expires_at(&self) -> Option<i64> {
        None
    }
}

/// `value` as its stored item: its fields, its key and index keys, its expiry.
pub fn item<T: Stored>(value: &T) -> Result<Item, StoreError> {
    let mut item = to_item(value, &value.key(), &value.index_keys())?;
    if let Some(at) = value.expires_at() {
        item.insert(keys::EXPIRES_AT.to_owned(), n(at));
    }
    Ok(item)
}

impl Stored for Appointment {
    fn key(&self) -> Key {
        keys::appointment(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        let by_start = keys::by_start(self.start_time, self.id);
        vec![
            (keys::GSI1PK, keys::patient_appointments(self.patient_id)),
            (keys::GSI1SK, by_start.clone()),
            (keys::GSI2PK, keys::provider_appointments(self.provider_id)),
            (keys::GSI2SK, by_start),
        ]
    }
}

impl Stored for Slot {
    fn key(&self) -> Key {
        keys::slot(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::provider_slots(self.provider_id)),
            (keys::GSI1SK, keys::by_start(self.start_time, self.id)),
        ]
    }
}

impl Stored for AppointmentType {
    fn key(&self) -> Key {
        keys::appointment_type(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::TYPES.to_owned()),
            (keys::GSI1SK, keys::by_name(&self.name, self.id)),
        ]
    }
}

/// What the service keeps of a provider: the time zone of their last bulk generation and their
/// settings. Bulk generation sets only `timeZone`, `PUT /providers/{id}/settings` only `settings`: each
/// is an UpdateItem of its own attributes, so neither overwrites the other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderProfile {
    pub provider_id: ProviderId,
    /// The zone of the last bulk generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::domain::settings::Settings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_updated_at: Option<UtcTime>,
    /// How many times the settings were replaced (the `ETag` of `GET` and `PUT`; 0: never).
    #[serde(default)]
    pub settings_version: u64,
    pub updated_at: UtcTime,
}

impl ProviderProfile {
    /// The provider's zone: the settings', else the last bulk generation's.
    pub fn zone_name(&self) -> Option<&str> {
        self.settings
            .as_ref()
            .and_then(|s| s.time_zone.as_deref())
            .or(self.time_zone.as_deref())
    }
}

impl Stored for ProviderProfile {
    fn key(&self) -> Key {
        keys::provider_profile(self.provider_id)
    }
}

/// The record that a reminder fired for an appointment that still stood: written once per offset (the
/// stream publishes `appointment.reminder_due` from it), kept 30 days after the start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderSent {
    pub appointment_id: AppointmentId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub start_time: UtcTime,
    pub offset: Offset,
    pub consultation_type: ConsultationType,
    pub sent_at: UtcTime,
}

impl Stored for ReminderSent {
    fn key(&self) -> Key {
        keys::reminder(self.appointment_id, self.offset)
    }

    fn expires_at(&self) -> Option<i64> {
        Some(
            self.start_time
                .plus(jiff::SignedDuration::from_hours(24 * 30))
                .timestamp()
                .as_second(),
        )
    }
}

/// What became of a due reminder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reminded {
    Recorded,
    /// A delivery of the same reminder recorded it before.
    AlreadyRecorded,
    /// The appointment no longer stands at that time (cancelled, moved, over, or gone).
    Stale,
}

impl Store {
    /// Records that the `offset` reminder of an appointment starting at `start` fired, only if the
    /// appointment is still scheduled or confirmed at that start: one read, one transaction (a
    /// ConditionCheck on the appointment and the record's put, so a cancel in between cannot slip by).
    pub async fn record_reminder(
        &self,
        appointment: AppointmentId,
        offset: Offset,
        start: UtcTime,
        now: UtcTime,
    ) -> Result<Reminded, StoreError> {
        use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
        let Some(a) = self.appointment(appointment).await? else {
            return Ok(Reminded::Stale);
        };
        let standing = [AppointmentStatus::Scheduled, AppointmentStatus::Confirmed];
        if !standing.contains(&a.status) || a.start_time != start {
            return Ok(Reminded::Stale);
        }
        let record = ReminderSent {
            appointment_id: a.id,
            patient_id: a.patient_id,
            provider_id: a.provider_id,
            start_time: a.start_time,
            offset,
            consultation_type: a.consultation_type,
            sent_at: now,
        };
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Standing,
            Record,
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::appointment(a.id))))
            .condition_expression("#status IN (:scheduled, :confirmed) AND startTime = :start")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":scheduled", s(AppointmentStatus::Scheduled.as_str()))
            .expression_attribute_values(":confirmed", s(AppointmentStatus::Confirmed.as_str()))
            .expression_attribute_values(":start", s(start.to_string()))
            .build()?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(&record)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let mut writes = super::Writes::new();
        writes.add(
            W::Standing,
            TransactWriteItem::builder().condition_check(check).build(),
        );
        writes.add(W::Record, TransactWriteItem::builder().put(put).build());
        crate::retry::retrying("record reminder", || {
            let writes = writes.clone();
            async move {
                Ok::<_, StoreError>(match self.commit(writes).await? {
                    None => crate::retry::Attempt::Done(Reminded::Recorded),
                    Some(refused) if refused.has(W::Standing) => {
                        crate::retry::Attempt::Done(Reminded::Stale)
                    }
                    Some(_) => crate::retry::Attempt::Done(Reminded::AlreadyRecorded),
                })
            }
        })
        .await
    }
}

/// Which answer of billing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billed {
    Paid,
    Refunded,
}

/// A fee an appointment may owe beside its consultation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fee {
    LateCancellation,
    NoShow,
}

impl Fee {
    /// The attribute that records its payment, and the terms' field that says how much it is.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Fee::LateCancellation => ("lateCancellationFeePayment", "lateCancellationFee"),
            Fee::NoShow => ("noShowFeePayment", "noShowFee"),
        }
    }
}

/// A conditional update of an appointment, answered.
enum Refusal {
    Made,
    NoSuchAppointment,
    /// Its condition failed on the appointment as it was.
    By(Box<Appointment>),
}

/// What became of billing's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentRecorded {
    Recorded,
    /// The same answer was recorded before (a redelivery).
    AlreadyRecorded,
    UnknownAppointment,
    /// A fee the appointment does not owe (not a late cancellation, not a no-show).
    NotOwed,
    /// The amount is not the appointment's fee.
    AmountMismatch,
    /// Another payment is on the appointment, or a refund of one that is not paid.
    Conflicting,
}

impl Store {
    /// Records a payment (`isPaid`, `paymentId`, `paidAt`) or its refund (`isPaid` false, `refundedAt`)
    /// in one conditional update; on refusal, the item as it was says why (no second read).
    pub async fn record_payment(
        &self,
        what: Billed,
        appointment: AppointmentId,
        payment_id: &str,
        amount: f64,
        at: UtcTime,
    ) -> Result<PaymentRecorded, StoreError> {
        use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
        // Billing's answers arrive unordered (a standard queue): a refund may come before its payment.
        // It is kept (the payment id, `refundedAt`), and the payment that follows only adds `paidAt`,
        // so the pair ends as it does in order: not paid, paid and refunded at their times.
        let (set, paid) = match what {
            Billed::Paid => (
                "isPaid = :t, paymentId = :pid, paidAt = :at",
                "isPaid = :f AND ",
            ),
            Billed::Refunded => ("isPaid = :f, paymentId = :pid, refundedAt = :at", ""),
        };
        let mut update = self
            .appointment_update(appointment, set)
            .condition_expression(format!(
                "attribute_exists(PK) AND consultationFee = :amount AND {paid}\
                 (attribute_not_exists(paymentId) OR paymentId = :pid) \
                 AND attribute_not_exists(refundedAt)"
            ))
            .expression_attribute_values(":pid", s(payment_id))
            .expression_attribute_values(":amount", n(amount))
            .expression_attribute_values(":at", s(at.to_string()))
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if what == Billed::Paid {
            update = update.expression_attribute_values(":t", AttributeValue::Bool(true));
        }
        let a = match self.refused_by(update, "record payment").await? {
            Refusal::Made => return Ok(PaymentRecorded::Recorded),
            Refusal::NoSuchAppointment => return Ok(PaymentRecorded::UnknownAppointment),
            Refusal::By(a) => *a,
        };
        let ours = a.payment_id.as_deref() == Some(payment_id);
        Ok(if a.consultation_fee != Some(amount) {
            PaymentRecorded::AmountMismatch
        } else if what == Billed::Paid && ours && a.refunded_at.is_some() {
            if a.paid_at.is_some() {
                PaymentRecorded::AlreadyRecorded
            } else {
                self.paid_after_refund(appointment, payment_id, at).await?
            }
        } else if ours
            && (a.is_paid == (what == Billed::Paid))
            && (what == Billed::Paid || a.refunded_at.is_some())
        {
            PaymentRecorded::AlreadyRecorded
        } else {
            PaymentRecorded::Conflicting
        })
    }

    /// An update of an appointment that sets `set` and raises its version, as every write of one does.
    fn appointment_update(
        &self,
        appointment: AppointmentId,
        set: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::appointment(appointment))))
            .update_expression(format!("SET {set}{}", super::NEXT_VERSION))
            .expression_attribute_names(super::VERSION_NAME.0, super::VERSION_NAME.1)
            .expression_attribute_values(super::version_step().0, super::version_step().1)
    }

    /// Sends a conditional update of an appointment (asking for `ALL_OLD` on a failed condition) and
    /// reads its answer: made, refused by the appointment as it was, or refused for want of one.
    async fn refused_by(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        what: &'static str,
    ) -> Result<Refusal, StoreError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        match super::conditional::answered(what, || update.clone().send()).await? {
            Ok(_) => Ok(Refusal::Made),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(e)) => match e.into_err() {
                UpdateItemError::ConditionalCheckFailedException(f) => match f.item {
                    None => Ok(Refusal::NoSuchAppointment),
                    Some(old) => Ok(Refusal::By(Box::new(super::from_item(old)?))),
                },
                other => Err(StoreError::service(other)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Records a fee's payment (`lateCancellationFeePayment` or `noShowFeePayment`: payment id, amount,
    /// time) once, in one conditional update: the appointment must owe it (a late cancellation, a
    /// no-show) and the amount must be the fee its terms set.
    pub async fn record_fee_payment(
        &self,
        fee: Fee,
        appointment: AppointmentId,
        payment_id: &str,
        amount: f64,
        at: UtcTime,
    ) -> Result<PaymentRecorded, StoreError> {
        use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
        let (attribute, term) = fee.names();
        let owed = match fee {
            Fee::LateCancellation => "#status = :cancelled AND lateCancellation = :t",
            Fee::NoShow => "#status = :no_show",
        };
        let mut update = self
            .appointment_update(appointment, "#paid = :payment")
            .condition_expression(format!(
                "attribute_exists(PK) AND attribute_not_exists(#paid) AND terms.#term = :amount AND {owed}"
            ))
            .expression_attribute_names("#paid", attribute)
            .expression_attribute_names("#term", term)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":amount", n(amount))
            .expression_attribute_values(
                ":payment",
                AttributeValue::M(std::collections::HashMap::from([
                    ("paymentId".to_owned(), s(payment_id)),
                    ("amount".to_owned(), n(amount)),
                    ("paidAt".to_owned(), s(at.to_string())),
                ])),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        update = match fee {
            Fee::LateCancellation => update
                .expression_attribute_values(":cancelled", s("cancelled"))
                .expression_attribute_values(":t", AttributeValue::Bool(true)),
            Fee::NoShow => update.expression_attribute_values(":no_show", s("no_show")),
        };
        let a = match self.refused_by(update, "record a fee's payment").await? {
            Refusal::Made => return Ok(PaymentRecorded::Recorded),
            Refusal::NoSuchAppointment => return Ok(PaymentRecorded::UnknownAppointment),
            Refusal::By(a) => *a,
        };
        let (recorded, owed) = match fee {
            Fee::LateCancellation => (
                a.late_cancellation_fee_payment,
                a.status == AppointmentStatus::Cancelled && a.late_cancellation == Some(true),
            ),
            Fee::NoShow => (a.no_show_fee_payment, a.status == AppointmentStatus::NoShow),
        };
        let due = a.terms.as_ref().map(|t| match fee {
            Fee::LateCancellation => t.late_cancellation_fee,
            Fee::NoShow => t.no_show_fee,
        });
        Ok(match recorded {
            Some(p) if p.payment_id == payment_id => PaymentRecorded::AlreadyRecorded,
            Some(_) => PaymentRecorded::Conflicting,
            None if !owed => PaymentRecorded::NotOwed,
            None if due != Some(amount) => PaymentRecorded::AmountMismatch,
            None => PaymentRecorded::Conflicting,
        })
    }

    /// The payment of a refund that came first: only when it was paid.
    async fn paid_after_refund(
        &self,
        appointment: AppointmentId,
        payment_id: &str,
        at: UtcTime,
    ) -> Result<PaymentRecorded, StoreError> {
        let update = self
            .appointment_update(appointment, "paidAt = :at")
            .condition_expression(
                "paymentId = :pid AND attribute_exists(refundedAt) AND attribute_not_exists(paidAt)",
            )
            .expression_attribute_values(":pid", s(payment_id))
            .expression_attribute_values(":at", s(at.to_string()));
        let answer = super::conditional::answered("record a payment after its refund", || {
            update.clone().send()
        })
        .await?;
        Ok(if super::conditional::made(answer)? {
            PaymentRecorded::Recorded
        } else {
            PaymentRecorded::AlreadyRecorded
        })
    }
}

/// A named access pattern: one partition of one index, and a range of its sort key (`[lo, hi]`, either
/// end open). It builds its query and checks a cursor against itself, so a cursor cannot be edited
/// into another partition or outside the range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub index: &'static str,
    pk_name: &'static str,
    sk_name: &'static str,
    pk: String,
    lo: Option<String>,
    hi: Option<String>,
}

impl Range {
    /// A range of `index` (GSI1 or GSI2) in partition `pk`, its sort key in `[lo, hi]`.
    pub(super) fn on(
        index: &'static str,
        pk: String,
        lo: Option<String>,
        hi: Option<String>,
    ) -> Range {
        let (pk_name, sk_name) = if index == keys::GSI2 {
            (keys::GSI2PK, keys::GSI2SK)
        } else {
            (keys::GSI1PK, keys::GSI1SK)
        };
        Range {
            index,
            pk_name,
            sk_name,
            pk,
            lo,
            hi,
        }
    }

    /// A provider's slots that start in `[from, to)`, by start.
    pub fn provider_slots(provider: ProviderId, from: UtcTime, to: UtcTime) -> Range {
        Range {
            index: keys::GSI1,
            pk_name: keys::GSI1PK,
            sk_name: keys::GSI1SK,
            pk: keys::provider_slots(provider),
            lo: Some(from.to_string()),
            hi: Some(to.to_string()),
        }
    }

    /// A patient's appointments that start in the range, by start.
    pub fn patient_appointments(
        patient: PatientId,
        from: Option<UtcTime>,
        to: Option<UtcTime>,
    ) -> Range {
        Range {
            index: keys::GSI1,
            pk_name: keys::GSI1PK,
            sk_name: keys::GSI1SK,
            pk: keys::patient_appointments(patient),
            lo: from.map(|t| t.to_string()),
            hi: to.map(|t| t.to_string()),
        }
    }

    /// A provider's appointments that start in the range, by start.
    pub fn provider_appointments(
        provider: ProviderId,
        from: Option<UtcTime>,
        to: Option<UtcTime>,
    ) -> Range {
        Range {
            index: keys::GSI2,
            pk_name: keys::GSI2PK,
            sk_name: keys::GSI2SK,
            pk: keys::provider_appointments(provider),
            lo: from.map(|t| t.to_string()),
            hi: to.map(|t| t.to_string()),
        }
    }

    /// Every appointment type, by name.
    pub fn types_by_name() -> Range {
        Range {
            index: keys::GSI1,
            pk_name: keys::GSI1PK,
            sk_name: keys::GSI1SK,
            pk: keys::TYPES.to_owned(),
            lo: None,
            hi: None,
        }
    }

    /// The same partition from a later lower bound.
    pub fn from(mut self, lo: UtcTime) -> Range {
        self.lo = Some(lo.to_string());
        self
    }

    /// Whether a cursor's key lies at or after the lower bound (a moving "now" may overtake it).
    pub fn admits(&self, start_key: &Item) -> bool {
        let sk = start_key.get(self.sk_name).and_then(|v| v.as_s().ok());
        match (&self.lo, sk) {
            (Some(lo), Some(sk)) => sk >= lo,
            (None, Some(_)) => true,
            (_, None) => false,
        }
    }

    /// A client's cursor as this query's `ExclusiveStartKey`, if it belongs to this partition and range.
    pub fn cursor(&self, cursors: &page::Cursors, cursor: &str) -> Result<Item, BadCursor> {
        cursors.decode(
            cursor,
            self.pk_name,
            &self.pk,
            self.sk_name,
            self.lo.as_deref().unwrap_or(""),
            self.hi.as_deref(),
        )
    }

    /// The Query of this range (more conditions, names and values can be added to it).
    pub fn query(&self, store: &Store) -> QueryFluentBuilder {
        let mut condition = "#pk = :pk".to_owned();
        let mut q = store
            .db
            .query()
            .table_name(&store.table)
            .index_name(self.index)
            .expression_attribute_names("#pk", self.pk_name)
            .expression_attribute_values(":pk", s(&self.pk));
        if self.lo.is_some() || self.hi.is_some() {
            q = q.expression_attribute_names("#sk", self.sk_name);
        }
        match (&self.lo, &self.hi) {
            (Some(lo), Some(hi)) => {
                condition.push_str(" AND #sk BETWEEN :lo AND :hi");
                q = q
                    .expression_attribute_values(":lo", s(lo))
                    .expression_attribute_values(":hi", s(hi));
            }
            (Some(lo), None) => {
                condition.push_str(" AND #sk >= :lo");
                q = q.expression_attribute_values(":lo", s(lo));
            }
            (None, Some(hi)) => {
                condition.push_str(" AND #sk < :hi");
                q = q.expression_attribute_values(":hi", s(hi));
            }
            (None, None) => {}
        }
        q.key_condition_expression(condition)
    }
}

#[cfg(test)]
mod tests {
    //! The stored shape of every item type, pinned: a change here is a change of the table's contract.

    use super::*;
    use crate::domain::{ConsultationType, Interval};
    use aws_sdk_dynamodb::types::AttributeValue;

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    fn keys_of(item: &Item) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = item
            .iter()
            .filter(|(k, _)| k.starts_with("PK") || k.starts_with("SK") || k.starts_with("GSI"))
            .map(|(k, v)| (k.clone(), v.as_s().unwrap().clone()))
            .collect();
        out.sort();
        out
    }

    fn pairs(p: &[(&str, String)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = p
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn an_appointment_is_found_by_id_by_patient_and_by_provider() {
        let (id, patient, provider, slot) = (
            AppointmentId::new(),
            PatientId::new(),
            ProviderId::new(),
            crate::domain::SlotId::new(),
        );
        let start = t("2030-01-02T09:00:00Z");
        let a = Appointment::scheduled(
            id,
            patient,
            provider,
            slot,
            start,
            t("2030-01-02T09:30:00Z"),
            ConsultationType::Video,
            t("2030-01-01T00:00:00Z"),
        );
        let stored = item(&a).unwrap();
        assert_eq!(
            keys_of(&stored),
            pairs(&[
                ("PK", format!("APPT#{id}")),
                ("SK", "APPT".into()),
                ("GSI1PK", format!("PATIENT#{patient}")),
                ("GSI1SK", format!("2030-01-02T09:00:00Z#{id}")),
                ("GSI2PK", format!("PROVIDER#{provider}")),
                ("GSI2SK", format!("2030-01-02T09:00:00Z#{id}")),
            ])
        );
        assert_eq!(
            stored["consultationType"],
            AttributeValue::S("video".into())
        );
        assert!(!stored.contains_key(keys::EXPIRES_AT));
    }

    #[test]
    fn a_slot_is_found_by_id_and_by_provider_and_start() {
        let (id, provider) = (crate::domain::SlotId::new(), ProviderId::new());
        let start = t("2030-01-02T09:00:00Z");
        let slot = Slot::open(
            id,
            provider,
            Interval::new(start, t("2030-01-02T09:30:00Z")).unwrap(),
            3,
            t("2030-01-01T00:00:00Z"),
        );
        assert_eq!(
            keys_of(&item(&slot).unwrap()),
            pairs(&[
                ("PK", format!("SLOT#{id}")),
                ("SK", "SLOT".into()),
                ("GSI1PK", format!("PROVIDER#{provider}#SLOTS")),
                ("GSI1SK", format!("2030-01-02T09:00:00Z#{id}")),
            ])
        );
    }

    #[test]
    fn an_appointment_type_is_listed_by_its_name_in_lower_case() {
        let now = t("2030-01-01T00:00:00Z");
        let kind = AppointmentType {
            id: uuid::Uuid::new_v4(),
            name: "Échographie".into(),
            duration_minutes: 30,
            consultation_fee: 10.0,
            consultation_types: vec![ConsultationType::InPerson],
            is_active: true,
            description: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        assert_eq!(
            keys_of(&item(&kind).unwrap()),
            pairs(&[
                ("PK", format!("TYPE#{}", kind.id)),
                ("SK", "TYPE".into()),
                ("GSI1PK", "TYPES".into()),
                ("GSI1SK", format!("échographie#{}", kind.id)),
            ])
        );
    }

    #[test]
    fn a_profile_and_a_freed_seat_live_under_their_owner_and_the_seat_expires() {
        let provider = ProviderId::new();
        let profile = ProviderProfile {
            provider_id: provider,
            time_zone: Some("Europe/Paris".into()),
            settings: None,
            settings_updated_at: None,
            settings_version: 0,
            updated_at: t("2030-01-01T00:00:00Z"),
        };
        assert_eq!(
            keys_of(&item(&profile).unwrap()),
            pairs(&[
                ("PK", format!("PROVIDER#{provider}")),
                ("SK", "PROFILE".into())
            ])
        );
        let mut entry = crate::domain::waitlist::Entry::waiting(
            PatientId::new(),
            provider,
            "2030-01-05".parse().unwrap(),
            t("2030-01-01T00:00:00Z"),
        );
        entry.priority = 7;
        let stored = item(&entry).unwrap();
        assert_eq!(
            keys_of(&stored),
            pairs(&[
                ("PK", format!("WAIT#{}", entry.id)),
                ("SK", "WAIT".into()),
                ("GSI1PK", format!("PROVIDER#{provider}#WAIT")),
                (
                    "GSI1SK",
                    format!("2030-01-05#03#2030-01-01T00:00:00Z#{}", entry.id)
                ),
                ("GSI2PK", format!("PATIENT#{}#WAIT", entry.patient_id)),
                ("GSI2SK", format!("2030-01-01T00:00:00Z#{}", entry.id)),
            ])
        );
        assert_eq!(stored["offeredSlots"], AttributeValue::L(vec![]));
    }

    #[test]
    fn a_range_takes_only_its_own_cursors() {
        let provider = ProviderId::new();
        let range = Range::provider_slots(
            provider,
            t("2030-01-01T00:00:00Z"),
            t("2030-01-02T00:00:00Z"),
        );
        let mut inside = Item::new();
        inside.insert("PK".into(), s("SLOT#x"));
        inside.insert("SK".into(), s("SLOT"));
        inside.insert("GSI1PK".into(), s(keys::provider_slots(provider)));
        inside.insert("GSI1SK".into(), s("2030-01-01T09:00:00Z#x"));
        let cursors = page::Cursors::random();
        assert!(range.cursor(&cursors, &cursors.seal(&inside)).is_ok());
        assert!(range.admits(&inside));
        assert!(!range
            .clone()
            .from(t("2030-01-01T10:00:00Z"))
            .admits(&inside));
        let other = Range::provider_slots(
            ProviderId::new(),
            t("2030-01-01T00:00:00Z"),
            t("2030-01-02T00:00:00Z"),
        );
        assert!(other.cursor(&cursors, &cursors.seal(&inside)).is_err());
    }
}
