//! Jobs on the SQS queue and the worker that runs them. Every job is idempotent: the queue delivers at
//! least once, and a job run twice leaves the table as one run does.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{AppointmentId, SlotId, UtcTime};
use crate::store::{keys, n, Store, StoreError};

/// How long the record of a freed seat is kept (the table's TTL removes it).
const FREED_SEAT_TTL: SignedDuration = SignedDuration::from_hours(24 * 90);

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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FreedSeat {
    slot_id: SlotId,
    appointment_id: AppointmentId,
    freed_at: UtcTime,
    job_id: Uuid,
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
            let outcome =
                match serde_json::from_str::<Job>(message.body.as_deref().unwrap_or_default()) {
                    Ok(job) => self.run(&job).await,
                    Err(e) => Err(JobError::Malformed(e.to_string())),
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

    pub async fn run(&self, job: &Job) -> Result<(), JobError> {
        match job {
            Job::SeatFreed {
                job_id,
                slot_id,
                appointment_id,
                freed_at,
            } => {
                let record = FreedSeat {
                    slot_id: *slot_id,
                    appointment_id: *appointment_id,
                    freed_at: *freed_at,
                    job_id: *job_id,
                };
                let mut item = crate::store::to_item(
                    &record,
                    &keys::freed_seat(*slot_id, *appointment_id),
                    &[],
                )?;
                item.insert(
                    keys::EXPIRES_AT.into(),
                    n(freed_at.plus(FREED_SEAT_TTL).timestamp().as_second()),
                );
                let put = self
                    .store
                    .db
                    .put_item()
                    .table_name(&self.store.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(PK)");
                match crate::store::retry::answered("record freed seat", || put.clone().send())
                    .await?
                {
                    Ok(_) => tracing::info!(%slot_id, %appointment_id, "freed seat recorded"),
                    Err(e)
                        if matches!(
                            e.as_service_error(),
                            Some(PutItemError::ConditionalCheckFailedException(_))
                        ) =>
                    {
                        tracing::info!(%slot_id, %appointment_id, "freed seat already recorded");
                    }
                    Err(e) => return Err(StoreError::from(e).into()),
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
