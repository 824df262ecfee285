//! Billing's answers on an appointment: a payment or its refund, of the consultation or of a fee, each
//! recorded once by one conditional update.

use super::keys;
use super::{n, s, Store, StoreError};
use crate::domain::{Appointment, AppointmentId, AppointmentStatus, UtcTime};

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
