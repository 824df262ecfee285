//! Jobs on the SQS queue and the worker that runs them. Every job is idempotent: the queue delivers at
//! least once, and a job run twice leaves the table as one run does.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::reminders::Offset;
use crate::domain::{AppointmentId, SlotId, UtcTime};
use crate::store::items::{Billed, FreedSeat, Reminded};
use crate::store::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Job {
    /// A cancellation gave a seat back; recorded per slot so that waitlist offers can use it.
    SeatFreed {
        job_id: Uuid,
        slot_id: SlotId,
        appointment_id: AppointmentId,
        freed_at: UtcTime,
    },
    /// A reminder's schedule fired (EventBridge Scheduler sends this to the queue at its `at()` time).
    ReminderDue {
        appointment_id: AppointmentId,
        offset: Offset,
        start_time: UtcTime,
    },
}

/// An event from billing as the bus delivers it (`source: billing`, `payment.succeeded` or
/// `payment.refunded`), the detail naming the appointment, the payment and the amount.
#[derive(Clone, Debug, Deserialize)]
pub struct BillingAnswer {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub time: Option<UtcTime>,
    pub detail: Payment,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub appointment_id: AppointmentId,
    pub payment_id: String,
    pub amount: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("message is not a job: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug)]
pub struct Worker {
    pub store: Store,
}

impl Worker {
    /// The worker `config` describes (`TABLE_NAME`) on `sdk`, for the Lambda main and the local stack.
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Worker, crate::config::ConfigError> {
        let table = crate::config::Config::require(&config.table_name, "TABLE_NAME")?;
        Ok(Worker {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), table),
        })
    }

    /// Runs each message; only the ids of failed ones are returned, so only those are delivered again.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in event.records {
            let id = message.message_id.clone().unwrap_or_default();
            let body = message.body.as_deref().unwrap_or_default();
            let outcome = match serde_json::from_str::<Job>(body) {
                Ok(job) => self.run(&job).await,
                // Not a job of ours: billing's answer, as its rule delivers the bus event.
                Err(e) => match serde_json::from_str::<BillingAnswer>(body) {
                    Ok(answer) => self.record_payment(&answer).await,
                    Err(_) => Err(JobError::Malformed(e.to_string())),
                },
            };
            if let Err(e) = outcome {
                tracing::warn!(message_id = %id, error = %e, "job failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// Records billing's answer on the appointment, once. An answer that cannot apply (an unknown
    /// appointment, another amount than the fee, another payment) is logged by ids and dropped: sending
    /// it again would not make it apply.
    pub async fn record_payment(&self, answer: &BillingAnswer) -> Result<(), JobError> {
        let p = &answer.detail;
        let what = match (answer.source.as_str(), answer.detail_type.as_str()) {
            ("billing", "payment.succeeded") => Billed::Paid,
            ("billing", "payment.refunded") => Billed::Refunded,
            _ => {
                tracing::warn!(source = %answer.source, detail_type = %answer.detail_type, "an event the worker does not take; dropped");
                return Ok(());
            }
        };
        if p.payment_id.is_empty()
            || p.payment_id.len() > 128
            || !p.amount.is_finite()
            || p.amount < 0.0
        {
            tracing::warn!(appointment_id = %p.appointment_id, "a payment answer without a valid id or amount; dropped");
            return Ok(());
        }
        let at = answer
            .time
            .unwrap_or_else(|| UtcTime::from_timestamp(jiff::Timestamp::now()));
        let outcome = self
            .store
            .record_payment(what, p.appointment_id, &p.payment_id, p.amount, at)
            .await?;
        tracing::info!(appointment_id = %p.appointment_id, payment_id = %p.payment_id, ?what, ?outcome, "billing's answer");
        Ok(())
    }

    pub async fn run(&self, job: &Job) -> Result<(), JobError> {
        match job {
            Job::SeatFreed {
                job_id,
                slot_id,
                appointment_id,
                freed_at,
            } => {
                let seat = FreedSeat {
                    slot_id: *slot_id,
                    appointment_id: *appointment_id,
                    freed_at: *freed_at,
                    job_id: *job_id,
                };
                if self.store.record_freed_seat(&seat).await? {
                    tracing::info!(%slot_id, %appointment_id, "freed seat recorded");
                } else {
                    tracing::info!(%slot_id, %appointment_id, "freed seat already recorded");
                }
                Ok(())
            }
            Job::ReminderDue {
                appointment_id,
                offset,
                start_time,
            } => {
                let now = UtcTime::from_timestamp(jiff::Timestamp::now());
                let outcome = self
                    .store
                    .record_reminder(*appointment_id, *offset, *start_time, now)
                    .await?;
                match outcome {
                    Reminded::Recorded => {
                        tracing::info!(%appointment_id, %offset, "reminder recorded")
                    }
                    Reminded::AlreadyRecorded => {
                        tracing::info!(%appointment_id, %offset, "reminder already recorded")
                    }
                    // Counted: a metric filter on `stale_reminder` gives the number dropped.
                    Reminded::Stale => tracing::info!(
                        %appointment_id,
                        %offset,
                        stale_reminder = 1,
                        "stale reminder dropped: the appointment no longer stands at that time"
                    ),
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_tagged_json() {
        let job = Job::SeatFreed {
            job_id: Uuid::nil(),
            slot_id: SlotId::from_uuid(Uuid::nil()),
            appointment_id: AppointmentId::from_uuid(Uuid::nil()),
            freed_at: "2027-01-01T09:00:00Z".parse().unwrap(),
        };
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["type"], "seat-freed");
        assert_eq!(v["slotId"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(serde_json::from_value::<Job>(v).unwrap(), job);
        assert!(serde_json::from_str::<Job>(r#"{"type":"launch-rockets"}"#).is_err());
    }
}
