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

/// How an appointment ends in a cancellation: who, why, whether it may still be late and must be before
/// its end, whether it is a request declined.
#[derive(Clone, Copy)]
struct Ending<'a> {
    by: Uuid,
    reason: &'a str,
    late_window: SignedDuration,
    before_end: bool,
    declined: bool,
}

impl<'a> Ending<'a> {
    fn declined(by: Uuid, reason: &'a str) -> Ending<'a> {
        Ending {
            by,
            reason,
            late_window: SignedDuration::ZERO,
            before_end: false,
            declined: true,
        }
    }
}

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
            let how = Ending {
                by: who.id,
                reason,
                late_window,
                before_end,
                declined: false,
            };
            let cancelled = self.cancel_once(&appointment, &how, now).await?;
            Ok(cancelled.map_or(Attempt::Again, Attempt::Done))
        })
        .await
    }

    /// The provider (staff, an admin) declines the request `id` under `Action::Decline`'s row: the
    /// request `cancelled` with `declined`, its seat and the patient's time freed, as a cancellation.
    pub async fn decline(
        &self,
        id: AppointmentId,
        who: &Caller,
        reason: &str,
        check_in: CheckInWindow,
        now: UtcTime,
    ) -> Result<Appointment, ChangeError> {
        retrying("decline", || async {
            let read = self.appointment(id).await?;
            let request = permitted(Action::Decline, who, read, now, check_in)?;
            let how = Ending::declined(who.id, reason);
            let declined = self.cancel_once(&request, &how, now).await?;
            Ok(declined.map_or(Attempt::Again, Attempt::Done))
        })
        .await
    }

    /// The worker's end of a request nobody answered (its `confirmation-due` job, or the sweeper): the
    /// request declined if it is still pending and its deadline has passed (a second of tolerance:
    /// Scheduler fires at whole seconds). `Ok(Err(deadline))` when it came early; `Ok(Ok(None))` when
    /// there was nothing to decline (answered, withdrawn, gone).
    pub async fn decline_unanswered(
        &self,
        id: AppointmentId,
        now: UtcTime,
    ) -> Result<Result<Option<Appointment>, UtcTime>, StoreError> {
        retrying("decline an unanswered request", || async {
            let Some(request) = self.appointment(id).await? else {
                return Ok(Attempt::Done(Ok(None)));
            };
            let (AppointmentStatus::Pending, Some(deadline)) =
                (request.status, request.confirmation_deadline)
            else {
                return Ok(Attempt::Done(Ok(None)));
            };
            if deadline > now.plus(SignedDuration::from_secs(1)) {
                return Ok(Attempt::Done(Err(deadline)));
            }
            let how = Ending::declined(Uuid::nil(), "not confirmed by the deadline");
            Ok(match self.cancel_once(&request, &how, now).await? {
                Some(declined) => Attempt::Done(Ok(Some(declined))),
                None => Attempt::Again,
            })
        })
        .await
    }

    /// The requests still pending whose deadline is before `now` (at most `max`, the earliest first):
    /// one Query of the sparse index GSI3.
    pub async fn overdue_requests(
        &self,
        now: UtcTime,
        max: usize,
    ) -> Result<Vec<AppointmentId>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Request {
            id: AppointmentId,
        }
        let found: Vec<Request> = self.due_before(keys::PENDING_REQUESTS, now, max).await?;
        Ok(found.into_iter().map(|r| r.id).collect())
    }

    /// Cancels `appointment` as it was read: valid only if its status has not changed since. `Ok(None)`
    /// means the status moved under us.
    async fn cancel_once(
        &self,
        appointment: &Appointment,
        how: &Ending<'_>,
        now: UtcTime,
    ) -> Result<Option<Appointment>, StoreError> {
        let Ending {
            by,
            reason,
            late_window,
            before_end,
            declined,
        } = *how;
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
        // A request withdrawn or declined is never late: nothing was confirmed to cancel.
        cancelled.late_cancellation = Some(
            appointment.status != AppointmentStatus::Pending
                && is_late_cancellation(now, appointment.start_time, late_window),
        );
        cancelled.declined = declined;
        cancelled.confirmation_deadline = None;
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
            (":declined".into(), AttributeValue::Bool(declined)),
        ]);
        let status = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::appointment(appointment.id))))
            .update_expression(
                format!(
                    "SET #status = :cancelled, cancelledAt = :now, cancelledBy = :by, cancellationReason = :reason, \
                     lateCancellation = :late, declined = :declined, updatedAt = :now, updatedBy = :by{} \
                     REMOVE GSI3PK, GSI3SK, confirmationDeadline",
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
        for seat in appointment.seats() {
            writes.add(W::FreeSeat, self.give_seat(seat, now)?);
        }
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
