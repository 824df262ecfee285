//! Parked records: stream records whose effects can never be sent as they are (an image `publish`
//! cannot decode, a request AWS refuses as invalid or not allowed), set aside so that the batch goes on,
//! and replayed once the cause is fixed (a deploy, a policy).
//!
//! Parking writes two things. The record itself, images included, goes to the table as a
//! `PARKED#<event id>` item (kept 14 days by the table's TTL): the images hold notes and reasons, and
//! the table is where those already live. The queue message (`PARKED_QUEUE_URL`, 14 days, alarmed) names
//! only the record: its event id and name, sequence number, the item's keys and the error. A replay
//! re-reads each parked record from the table by its key and runs its effects again; they are
//! idempotent (event ids from the record's own id, schedule names, conditional writes), so a record that
//! was parked halfway through repeats nothing its consumers have not deduplicated.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::publisher::MARGIN;
use super::{sdk_failure, PublishError, Publisher};
use crate::retry::settled;
use crate::store::keys::{self, Key};

/// How long a parked record is kept: the parking queue's retention (14 days, SQS's most).
const KEPT_SECONDS: i64 = 14 * 24 * 3600;
/// A queue message's size limit is 256 KiB; the error is cut well below it.
const MAX_ERROR: usize = 1_000;

/// The parking queue's message: what names a parked record, never its attributes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parked {
    pub event_id: String,
    pub event_name: String,
    pub sequence_number: Option<String>,
    /// The changed item's key (`PK`, `SK`): ids and kinds, no attributes.
    pub keys: HashMap<String, String>,
    pub error: String,
    pub parked_at: String,
}

/// What one replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    /// Published now, their messages deleted.
    pub replayed: usize,
    /// Refused again for good: their messages stay and come back after the queue's visibility
    /// timeout.
    pub still_failing: usize,
    /// Messages without a parked record behind them (not ours, or past the table's TTL): left for a
    /// person.
    pub unreadable: usize,
    /// Why the replay stopped before the queue was empty (a transient failure, the deadline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

fn parked_key(event_id: &str) -> Key {
    keys::parked(event_id)
}

impl Publisher {
    /// Parks `record`: its record in the table, its name on the parking queue. `Err` is transient
    /// (parking itself failed), so the batch stops and the record is tried again.
    pub(super) async fn park(&self, record: &EventRecord, why: &str) -> Result<(), PublishError> {
        let now = self.clock.now().timestamp();
        let error: String = why.chars().take(MAX_ERROR).collect();
        let keys: HashMap<String, String> = [keys::PK, keys::SK]
            .into_iter()
            .filter_map(|k| match record.change.keys.get(k) {
                Some(serde_dynamo::AttributeValue::S(v)) => Some((k.to_owned(), v.clone())),
                _ => None,
            })
            .collect();
        let whole = serde_json::to_string(record)
            .map_err(|e| PublishError::Transient(format!("the record does not serialize: {e}")))?;
        let mut item = crate::store::key_item(&parked_key(&record.event_id));
        item.insert("record".into(), AttributeValue::S(whole));
        item.insert("error".into(), AttributeValue::S(error.clone()));
        item.insert("parkedAt".into(), AttributeValue::S(now.to_string()));
        item.insert(
            keys::EXPIRES_AT.into(),
            AttributeValue::N((now.as_second() + KEPT_SECONDS).to_string()),
        );
        // Whatever refuses it, the record must not be lost: every failure is retried, then stops the
        // batch.
        settled("park record", || async {
            self.db
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    PublishError::Transient(
                        sdk_failure("DynamoDB PutItem (parked record)", e).to_string(),
                    )
                })
        })
        .await?;
        let parked = Parked {
            event_id: record.event_id.clone(),
            event_name: record.event_name.clone(),
            sequence_number: record.change.sequence_number.clone(),
            keys,
            error,
            parked_at: now.to_string(),
        };
        let body = serde_json::to_string(&parked)
            .map_err(|e| PublishError::Transient(format!("the parking message: {e}")))?;
        // Whatever refuses it, the record must not be lost: a failure here stops the batch.
        self.send(&self.parked_queue_url, body, 0)
            .await
            .map_err(|e| PublishError::Transient(e.to_string()))?;
        tracing::error!(
            event_id = %parked.event_id,
            event_name = %parked.event_name,
            sequence = ?parked.sequence_number,
            pk = ?parked.keys.get(keys::PK),
            sk = ?parked.keys.get(keys::SK),
            error = %parked.error,
            parked_record = 1,
            "stream record parked: its effects cannot be sent until the cause is fixed"
        );
        crate::metrics::count("RecordsParked", 1);
        Ok(())
    }

    /// Replays the parked records, oldest message first, until the parking queue has none left to
    /// give, a transient failure stops it, or the deadline nears.
    pub async fn replay_parked(&self, deadline: Instant) -> Result<Replayed, PublishError> {
        let mut done = Replayed::default();
        loop {
            if deadline.saturating_duration_since(Instant::now()) <= MARGIN * 2 {
                done.stopped = Some("the deadline is near; run the replay again".into());
                return Ok(done);
            }
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&self.parked_queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .map_err(|e| sdk_failure("SQS ReceiveMessage (parked records)", e))?
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                return Ok(done);
            }
            for message in messages {
                let Some(record) = self.parked_record(message.body()).await? else {
                    tracing::warn!(message_id = ?message.message_id(), "a parked message without its record; left on the queue");
                    done.unreadable += 1;
                    continue;
                };
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .saturating_sub(MARGIN);
                let outcome = tokio::time::timeout(left, Box::pin(self.publish(&record)))
                    .await
                    .unwrap_or_else(|_| Err(PublishError::Transient("the deadline came".into())));
                match outcome {
                    Ok(()) => {
                        if let Some(handle) = message.receipt_handle() {
                            self.sqs
                                .delete_message()
                                .queue_url(&self.parked_queue_url)
                                .receipt_handle(handle)
                                .send()
                                .await
                                .map_err(|e| {
                                    sdk_failure("SQS DeleteMessage (parked records)", e)
                                })?;
                        }
                        tracing::info!(event_id = %record.event_id, replayed_record = 1, "parked record replayed");
                        done.replayed += 1;
                    }
                    Err(PublishError::Permanent(e)) => {
                        tracing::warn!(event_id = %record.event_id, error = %e, "parked record refused again; it stays parked");
                        done.still_failing += 1;
                    }
                    Err(PublishError::Transient(e)) => {
                        done.stopped = Some(e);
                        return Ok(done);
                    }
                }
            }
        }
    }

    /// The record a parking message names, read back from the table.
    async fn parked_record(&self, body: Option<&str>) -> Result<Option<EventRecord>, PublishError> {
        let Some(parked) = body.and_then(|b| serde_json::from_str::<Parked>(b).ok()) else {
            return Ok(None);
        };
        let item = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(crate::store::key_item(&parked_key(&parked.event_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("DynamoDB GetItem (parked record)", e))?
            .item;
        Ok(item
            .as_ref()
            .and_then(|i| i.get("record"))
            .and_then(|r| r.as_s().ok())
            .and_then(|r| serde_json::from_str(r).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parking_message_names_the_record_and_carries_none_of_its_attributes() {
        let parked = Parked {
            event_id: "e1".into(),
            event_name: "INSERT".into(),
            sequence_number: Some("42".into()),
            keys: HashMap::from([
                (
                    "PK".to_owned(),
                    "APPT#7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d".to_owned(),
                ),
                ("SK".to_owned(), "APPT".to_owned()),
            ]),
            error: "stream record cannot be read: appointment image".into(),
            parked_at: "2026-11-30T10:00:00Z".into(),
        };
        let v = serde_json::to_value(&parked).unwrap();
        let mut fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "error",
                "eventId",
                "eventName",
                "keys",
                "parkedAt",
                "sequenceNumber"
            ]
        );
        assert_eq!(serde_json::from_value::<Parked>(v).unwrap(), parked);
    }
}
