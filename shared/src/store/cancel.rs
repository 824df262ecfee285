//! Cancelling: the status, the seat and the patient's time in one transaction.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use jiff::SignedDuration;
use uuid::Uuid;

use super::guard::Guard;
use super::lifecycle::ChangeError;
use super::{keys, s, Store, StoreError, Writes};
use crate::domain::appointment::is_late_cancellation;
use crate::domain::lifecycle::{permitted, Action, CheckInWindow};
use crate::domain::{Appointment, AppointmentId, AppointmentStatus, Caller, UtcTime};
use crate::retry::{retrying, Attempt};

impl Store {
    /// `who` cancels appointment `id` under its row of `domain::lifecycle::RULES`: read (1), then the
    /// transaction (2); read again if the status moved meanwhile. Frees the seat, the patient's time and
    /// its place in the provider's day count in the same transaction. It is late by its own terms (else
    /// by `late_window`, the configuration's).
    pub async fn cancel(
        &self,
        id: AppointmentId,
        who: &Caller,
        reason: &str,
        late_window: SignedDuration,
        check_in: CheckInWindow,
        now: UtcTime,
    ) -> Result<Appointment, ChangeError> {
        retrying("cancel", || async {
            let read = self.appointment(id).await?;
            let appointment = permitted(Action::Cancel, who, read, now, check_in)?;
            let before_end = Action::Cancel.only_before_end(who);
            let cancelled = self
                .cancel_once(&appointment, who.id, reason, late_window, before_end, now)
                .await?;
            Ok(cancelled.map_or(Attempt::Again, Attempt::Done))
        })
        .await
    }

    /// Cancels `appointment` as it was read: valid only if its status has not changed since. `Ok(None)`
    /// means the status moved under us.
    async fn cancel_once(
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
        cancelled.updated_by = Some(by);
        cancelled.cancellation_reason = Some(reason.to_owned());
        let late_window = appointment
            .terms
            .as_ref()
            .map_or(late_window, |t| t.late_cancellation_window());
        cancelled.late_cancellation = Some(is_late_cancellation(
            now,
            appointment.start_time,
            late_window,
        ));
        cancelled.updated_at = now;

        let values: HashMap<String, AttributeValue> = HashMap::from([
            (super::version_step().0.into(), super::version_step().1),
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
                format!(
                    "SET #status = :cancelled, cancelledAt = :now, cancelledBy = :by, cancellationReason = :reason, \
                     lateCancellation = :late, updatedAt = :now, updatedBy = :by{}",
                    super::NEXT_VERSION
                ),
            )
            .expression_attribute_names(super::VERSION_NAME.0, super::VERSION_NAME.1)
            .condition_expression(if before_end {
                "#status = :read AND endTime > :now"
            } else {
                "#status = :read"
            })
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()?;
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Status,
            FreeSeat,
            Guard,
            Day,
        }
        let mut writes = Writes::new();
        writes.add(
            W::Status,
            TransactWriteItem::builder().update(status).build(),
        );
        writes.add(W::FreeSeat, self.give_seat(appointment.slot_id, now)?);
        writes.add(
            W::Guard,
            Guard::give_back(
                &self.table,
                &keys::patient_schedule(appointment.patient_id),
                &appointment.id.to_string(),
            )?,
        );
        if let Some(terms) = &appointment.terms {
            writes.add(
                W::Day,
                super::settings::count_out(&self.table, appointment.provider_id, terms.day)?,
            );
        }
        let Some(refused) = self.commit(writes).await? else {
            return Ok(Some(cancelled));
        };
        if refused.has(W::Status) {
            return Ok(None);
        }
        Err(StoreError::Corrupt(format!(
            "cancelling {} left the slot or guard inconsistent: {refused:?}",
            appointment.id
        )))
    }
}
