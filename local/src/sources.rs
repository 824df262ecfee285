//! The event sources of the local stack: what Lambda's event source mappings and the bus do on AWS.
//!
//! - The table stream into `publish`, as a DynamoDB event source mapping reads it
//!   (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html): batches of at most
//!   `BatchSize` records in order; with `ReportBatchItemFailures` the records before the first failure
//!   are done and the batch is retried from it; after `MaximumRetryAttempts` retries the failing record
//!   is bypassed and its metadata sent to the `OnFailure` destination
//!   (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html), so a poison record
//!   does not block the shard. Each shard resumes after the last sequence number it handled, whatever
//!   happens to its iterator. `MaximumBatchingWindowInSeconds` is not waited for locally.
//! - A queue into its function, as an SQS event source mapping does: messages the function reports as
//!   failed are left on the queue, so they come back after the queue's visibility timeout and go to the
//!   dead-letter queue after `maxReceiveCount` receives (both enforced by the emulator's SQS).
//! - Every event on the bus into a list that `GET /_local/events` reads, through a tap queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde_json::{json, Value};
use shared::jobs::Worker;
use shared::stream::Publisher;

use crate::stack::{Error, Stack, ACCOUNT};
use crate::template::StreamSource;

const IDLE: Duration = Duration::from_millis(100);

/// A stream record from the DynamoDB Streams API in the shape Lambda delivers it.
fn lambda_record(r: aws_sdk_dynamodbstreams::types::Record, stream_arn: &str) -> Value {
    let image = |m: Option<HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        serde_json::to_value(serde_dynamo::Item::from(m.unwrap_or_default())).unwrap_or(Value::Null)
    };
    let d = r
        .dynamodb
        .unwrap_or_else(|| aws_sdk_dynamodbstreams::types::StreamRecord::builder().build());
    json!({
        "eventID": r.event_id,
        "eventName": r.event_name.map(|e| e.as_str().to_owned()),
        "eventVersion": r.event_version,
        "eventSource": r.event_source,
        "awsRegion": r.aws_region,
        "eventSourceARN": stream_arn,
        "dynamodb": {
            "ApproximateCreationDateTime": d.approximate_creation_date_time.map(|t| t.secs()).unwrap_or_default(),
            "Keys": image(d.keys),
            "NewImage": image(d.new_image),
            "OldImage": image(d.old_image),
            "SequenceNumber": d.sequence_number,
            "SizeBytes": d.size_bytes.unwrap_or_default(),
            "StreamViewType": d.stream_view_type.map(|v| v.as_str().to_owned()),
        }
    })
}

fn sequence_of(record: &Value) -> Option<String> {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .map(str::to_owned)
}

/// One shard as the mapping reads it.
#[derive(Default)]
struct Shard {
    iterator: Option<String>,
    /// The sequence number of the last record handled (published or bypassed).
    last: Option<String>,
    /// Records read and not yet handled, oldest first.
    pending: VecDeque<Value>,
    /// Failed invocations in a row whose first failure was the record at the head of `pending`.
    retries: u32,
}

/// Lambda's event source mapping of the table stream to `publish`.
pub struct StreamMapping {
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub stream_arn: String,
    pub source: StreamSource,
    /// The URL of the `OnFailure` queue.
    pub on_failure: Option<String>,
    pub function_arn: String,
    pub publisher: Publisher,
}

impl StreamMapping {
    pub async fn run(self) {
        let mut shards: HashMap<String, Shard> = HashMap::new();
        loop {
            self.discover(&mut shards).await;
            let mut busy = false;
            for (id, shard) in shards.iter_mut() {
                self.read(id, shard).await;
                if !shard.pending.is_empty() {
                    busy = true;
                    self.invoke(id, shard).await;
                }
            }
            if !busy {
                tokio::time::sleep(IDLE).await;
            }
        }
    }

    async fn discover(&self, shards: &mut HashMap<String, Shard>) {
        match self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
        {
            Ok(out) => {
                for shard in out
                    .stream_description
                    .and_then(|d| d.shards)
                    .unwrap_or_default()
                {
                    if let Some(id) = shard.shard_id {
                        shards.entry(id).or_default();
                    }
                }
            }
            Err(e) => tracing::warn!(
                error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e),
                "describing the stream failed"
            ),
        }
    }

    /// Tops `pending` up to a batch; a lost iterator is replaced by one after the last handled record.
    async fn read(&self, shard_id: &str, shard: &mut Shard) {
        let wanted = self.source.batch_size.saturating_sub(shard.pending.len());
        if wanted == 0 {
            return;
        }
        if shard.iterator.is_none() {
            let after = shard
                .pending
                .back()
                .and_then(sequence_of)
                .or(shard.last.clone());
            let request = self
                .streams
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(shard_id);
            let request = match after {
                Some(seq) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            match request.send().await {
                Ok(out) => shard.iterator = out.shard_iterator,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e), "no shard iterator");
                    return;
                }
            }
        }
        let Some(iterator) = shard.iterator.clone() else {
            return;
        };
        match self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(wanted.min(1000) as i32)
            .send()
            .await
        {
            Ok(out) => {
                shard.pending.extend(
                    out.records
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| lambda_record(r, &self.stream_arn)),
                );
                shard.iterator = out.next_shard_iterator;
            }
            Err(e) => {
                tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e), "reading the stream failed; resuming after the last record handled");
                shard.iterator = None;
            }
        }
    }

    async fn invoke(&self, shard_id: &str, shard: &mut Shard) {
        let batch: Vec<Value> = shard
            .pending
            .iter()
            .take(self.source.batch_size)
            .cloned()
            .collect();
        let event: aws_lambda_events::event::dynamodb::Event =
            match serde_json::from_value(json!({ "Records": batch })) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "stream records do not parse as a Lambda event");
                    self.bypass(shard_id, shard, "RetryAttemptsExhausted").await;
                    return;
                }
            };
        let failures = self.publisher.handle(event).await.batch_item_failures;
        let failed_at = failures
            .first()
            .and_then(|f| f.item_identifier.clone())
            .and_then(|seq| {
                batch
                    .iter()
                    .position(|r| sequence_of(r) == Some(seq.clone()))
            });
        let done = failed_at.unwrap_or(batch.len());
        for _ in 0..done {
            if let Some(r) = shard.pending.pop_front() {
                shard.last = sequence_of(&r);
            }
        }
        if failed_at.is_none() {
            shard.retries = 0;
            return;
        }
        shard.retries = if done > 0 { 1 } else { shard.retries + 1 };
        let exhausted = self
            .source
            .maximum_retry_attempts
            .is_some_and(|max| shard.retries > max);
        if exhausted {
            self.bypass(shard_id, shard, "RetryAttemptsExhausted").await;
        } else {
            // Lambda backs off between retries of a failing batch.
            let pause = Duration::from_millis(20 * u64::from(shard.retries.min(10)));
            tokio::time::sleep(pause).await;
        }
    }

    /// Drops the record at the head of the shard, sending its metadata to the on-failure queue.
    async fn bypass(&self, shard_id: &str, shard: &mut Shard, condition: &str) {
        let Some(record) = shard.pending.pop_front() else {
            return;
        };
        let attempts = shard.retries.max(1);
        shard.last = sequence_of(&record);
        shard.retries = 0;
        let seq = sequence_of(&record).unwrap_or_default();
        tracing::error!(sequence = %seq, attempts, "stream record bypassed after its retries");
        let Some(url) = &self.on_failure else {
            return;
        };
        let arrival = record["dynamodb"]["ApproximateCreationDateTime"]
            .as_f64()
            .unwrap_or_default();
        let arrival = jiff::Timestamp::from_second(arrival as i64)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let metadata = json!({
            "requestContext": {
                "requestId": uuid::Uuid::new_v4(),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": null},
            "version": "1.0",
            "timestamp": jiff::Timestamp::now().to_string(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": seq,
                "endSequenceNumber": seq,
                "approximateArrivalOfFirstRecord": arrival,
                "approximateArrivalOfLastRecord": arrival,
                "batchSize": 1,
                "streamArn": self.stream_arn,
            }
        });
        for attempt in 1..=5u64 {
            match self
                .sqs
                .send_message()
                .queue_url(url)
                .message_body(metadata.to_string())
                .send()
                .await
            {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "on-failure destination refused");
                    tokio::time::sleep(IDLE * attempt as u32).await;
                }
            }
        }
    }
}

/// Up to ten messages, or an idle pause and none. Short polls: a long poll would hold the
/// single-threaded emulator.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let messages = match sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
    {
        Ok(out) => out.messages.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "queue poll failed");
            vec![]
        }
    };
    if messages.is_empty() {
        tokio::time::sleep(IDLE).await;
    }
    messages
}

async fn delete(sqs: &aws_sdk_sqs::Client, url: &str, message: aws_sdk_sqs::types::Message) {
    let Some(handle) = message.receipt_handle else {
        return;
    };
    if let Err(e) = sqs
        .delete_message()
        .queue_url(url)
        .receipt_handle(handle)
        .send()
        .await
    {
        tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "deleting a handled message failed; it will come back");
    }
}

/// Lambda's event source mapping of a queue to the worker.
pub async fn poll_queue(sqs: aws_sdk_sqs::Client, url: String, arn: String, worker: Worker) {
    loop {
        let messages = receive(&sqs, &url).await;
        if messages.is_empty() {
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body, "eventSource": "aws:sqs", "eventSourceARN": arn, "attributes": {}, "messageAttributes": {}}))
            .collect();
        let event = match serde_json::from_value(json!({ "Records": records })) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "messages do not parse as an SQS event; they will come back");
                continue;
            }
        };
        let failed: Vec<String> = worker
            .handle(event)
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for m in messages {
            if failed.iter().any(|f| Some(f) == m.message_id.as_ref()) {
                tracing::warn!(message = ?m.message_id, "job failed; it comes back after the visibility timeout");
            } else {
                delete(&sqs, &url, m).await;
            }
        }
    }
}

/// Every event on the bus, through the tap queue, into `events`.
pub async fn poll_tap(sqs: aws_sdk_sqs::Client, url: String, events: Arc<Mutex<Vec<Value>>>) {
    loop {
        for m in receive(&sqs, &url).await {
            match m
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
            {
                Some(event) => match events.lock() {
                    Ok(mut all) => all.push(event),
                    Err(poisoned) => poisoned.into_inner().push(event),
                },
                None => {
                    tracing::warn!(message = ?m.message_id, "the tap got a message that is not an event")
                }
            }
            delete(&sqs, &url, m).await;
        }
    }
}

/// Starts what stands in for Lambda's event source mappings, and the bus tap. Their own calls (reading
/// the stream, receiving and deleting messages) are AWS's, not the service's, so they get no faults;
/// `publish` and the worker use the service's clients.
pub fn start(stack: &Arc<Stack>) -> Result<(), Error> {
    let infra = stack
        .sdk
        .to_builder()
        .app_name(aws_config::AppName::new(crate::EXEMPT_APP)?)
        .build();
    for f in &stack.functions {
        let config = stack.config_for(f)?;
        if let Some(source) = &f.stream {
            let publisher = Publisher::from_config(&config, &stack.sdk)?;
            let mapping = StreamMapping {
                streams: aws_sdk_dynamodbstreams::Client::new(&infra),
                sqs: aws_sdk_sqs::Client::new(&infra),
                stream_arn: stack
                    .reference(&source.table, Some("StreamArn"))
                    .cloned()
                    .ok_or("table without a stream")?,
                on_failure: match &source.on_failure {
                    Some(q) => Some(
                        stack
                            .reference(q, None)
                            .cloned()
                            .ok_or("unknown OnFailure queue")?,
                    ),
                    None => None,
                },
                function_arn: format!(
                    "arn:aws:lambda:{}:{ACCOUNT}:function:{}-{}",
                    stack.region(),
                    stack.prefix,
                    f.logical_id
                ),
                source: source.clone(),
                publisher,
            };
            tokio::spawn(mapping.run());
        }
        if let Some(queue) = &f.queue {
            let url = stack
                .reference(queue, None)
                .cloned()
                .ok_or("unknown queue")?;
            let worker = Worker::from_config(&config, &stack.sdk)?;
            let arn = stack
                .reference(queue, Some("Arn"))
                .cloned()
                .unwrap_or_default();
            tokio::spawn(poll_queue(
                aws_sdk_sqs::Client::new(&infra),
                url,
                arn,
                worker,
            ));
        }
    }
    tokio::spawn(poll_tap(
        aws_sdk_sqs::Client::new(&infra),
        stack.tap_queue_url.clone(),
        stack.events.clone(),
    ));
    let groups: Vec<String> = stack
        .template
        .of_kind("AWS::Scheduler::ScheduleGroup")
        .filter_map(|(id, _)| stack.reference(id, None).cloned())
        .collect();
    let queues: HashMap<String, String> = stack
        .template
        .of_kind("AWS::SQS::Queue")
        .filter_map(|(id, _)| {
            Some((
                stack.reference(id, Some("Arn"))?.clone(),
                stack.reference(id, None)?.clone(),
            ))
        })
        .collect();
    tokio::spawn(fire_schedules(
        aws_sdk_scheduler::Client::new(&infra),
        aws_sdk_sqs::Client::new(&infra),
        groups,
        queues,
    ));
    Ok(())
}

/// What EventBridge Scheduler does with one-time schedules: at their `at()` time (UTC here), sends the
/// target's input to its queue, then deletes the schedule (`ActionAfterCompletion: DELETE`). Polled
/// twice a second, so a schedule fires within about half a second of its time.
pub async fn fire_schedules(
    scheduler: aws_sdk_scheduler::Client,
    sqs: aws_sdk_sqs::Client,
    groups: Vec<String>,
    queues: HashMap<String, String>,
) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = jiff::Timestamp::now();
        for group in &groups {
            let listed = match scheduler.list_schedules().group_name(group).send().await {
                Ok(out) => out.schedules,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_scheduler::error::DisplayErrorContext(e), "cannot list schedules");
                    continue;
                }
            };
            for summary in listed {
                let Some(name) = summary.name else { continue };
                let schedule = match scheduler
                    .get_schedule()
                    .group_name(group)
                    .name(&name)
                    .send()
                    .await
                {
                    Ok(s) => s,
                    Err(_) => continue, // deleted meanwhile
                };
                let Some(at) = schedule
                    .schedule_expression()
                    .and_then(|e| e.strip_prefix("at("))
                    .and_then(|e| e.strip_suffix(')'))
                    .and_then(|e| e.parse::<jiff::civil::DateTime>().ok())
                    .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
                else {
                    tracing::warn!(%name, "a schedule the local stack cannot fire: only at() in UTC");
                    continue;
                };
                if at.timestamp() > now {
                    continue;
                }
                let Some(target) = schedule.target() else {
                    continue;
                };
                let Some(url) = queues.get(target.arn()) else {
                    tracing::warn!(%name, arn = target.arn(), "a schedule whose target is not a queue of the stack");
                    continue;
                };
                let sent = sqs
                    .send_message()
                    .queue_url(url)
                    .message_body(target.input().unwrap_or("{}"))
                    .send()
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(%name, error = %aws_sdk_sqs::error::DisplayErrorContext(e), "schedule not delivered; retrying");
                    continue;
                }
                tracing::debug!(%name, late_ms = (now - at.timestamp()).get_milliseconds(), "schedule fired");
                if schedule.action_after_completion()
                    == Some(&aws_sdk_scheduler::types::ActionAfterCompletion::Delete)
                {
                    let _ = scheduler
                        .delete_schedule()
                        .group_name(group)
                        .name(&name)
                        .send()
                        .await;
                }
            }
        }
    }
}
