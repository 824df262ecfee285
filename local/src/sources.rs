//! The event sources of the local stack: what Lambda's event source mappings and the bus do on AWS.
//!
//! - The table stream into `publish`, as a DynamoDB event source mapping reads it
//!   (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html): batches of at most
//!   `BatchSize` records in order; with `ReportBatchItemFailures` the records before the first failure
//!   are done and the batch is retried from it; after `MaximumRetryAttempts` retries the failing record
//!   and the rest of its batch are discarded, their metadata sent to the `OnFailure` destination
//!   (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html), and so are records
//!   older than `MaximumRecordAgeInSeconds`. The function is stopped at its `Timeout` (no response: the
//!   whole batch is retried, halved with `BisectBatchOnFunctionError`). Each shard resumes after the
//!   last sequence number it handled, whatever happens to its iterator.
//!   `MaximumBatchingWindowInSeconds` is not waited for locally.
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
    /// A smaller batch after a timeout, when the mapping bisects on function errors.
    limit: Option<usize>,
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
    /// The function's `Timeout`: Lambda stops it there.
    pub timeout: Duration,
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
                // Lambda discards the records no filter of the mapping matches before it invokes.
                shard.pending.extend(
                    out.records
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| lambda_record(r, &self.stream_arn))
                        .filter(|r| crate::filter::passes(&self.source.filters, r)),
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
        self.discard_aged(shard_id, shard).await;
        let size = shard.limit.unwrap_or(self.source.batch_size);
        let batch: Vec<Value> = shard.pending.iter().take(size).cloned().collect();
        if batch.is_empty() {
            return;
        }
        let event: aws_lambda_events::event::dynamodb::Event =
            match serde_json::from_value(json!({ "Records": batch })) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "stream records do not parse as a Lambda event");
                    self.discard(shard_id, shard, 1, "RetryAttemptsExhausted")
                        .await;
                    return;
                }
            };
        // Lambda stops the function at its timeout: then there is no response, and the whole batch is
        // retried (split in two with BisectBatchOnFunctionError).
        let deadline = tokio::time::Instant::now() + self.timeout;
        let failed_at = match tokio::time::timeout(
            self.timeout,
            self.publisher.handle(event, deadline),
        )
        .await
        {
            Ok(response) => {
                shard.limit = None;
                response
                    .batch_item_failures
                    .first()
                    .and_then(|f| f.item_identifier.clone())
                    .and_then(|seq| {
                        batch
                            .iter()
                            .position(|r| sequence_of(r) == Some(seq.clone()))
                    })
            }
            Err(_) => {
                tracing::warn!(records = batch.len(), timeout = ?self.timeout, "publish timed out; the whole batch is retried");
                if self.source.bisect_on_error && batch.len() > 1 {
                    shard.limit = Some(batch.len() / 2);
                }
                Some(0)
            }
        };
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
            // As Lambda does: the failing record and the rest of its batch go, metadata only.
            self.discard(
                shard_id,
                shard,
                batch.len() - done,
                "RetryAttemptsExhausted",
            )
            .await;
        } else {
            // Lambda backs off between retries of a failing batch.
            let pause = Duration::from_millis(20 * u64::from(shard.retries.min(10)));
            tokio::time::sleep(pause).await;
        }
    }

    /// Discards the records at the head of the shard older than `MaximumRecordAgeInSeconds`.
    async fn discard_aged(&self, shard_id: &str, shard: &mut Shard) {
        let Some(age) = self.source.maximum_record_age else {
            return;
        };
        let oldest_kept = jiff::Timestamp::now().as_second() - age.as_secs() as i64;
        let aged = shard
            .pending
            .iter()
            .take_while(|r| {
                r["dynamodb"]["ApproximateCreationDateTime"]
                    .as_f64()
                    .is_some_and(|t| (t as i64) < oldest_kept)
            })
            .count();
        if aged > 0 {
            self.discard(shard_id, shard, aged, "RecordAgeExceeded")
                .await;
        }
    }

    /// Drops `count` records at the head of the shard, sending their metadata (never the records) to
    /// the on-failure queue, as Lambda does.
    async fn discard(&self, shard_id: &str, shard: &mut Shard, count: usize, condition: &str) {
        let records: Vec<Value> = (0..count)
            .filter_map(|_| shard.pending.pop_front())
            .collect();
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        let attempts = shard.retries.max(1);
        shard.last = sequence_of(last);
        shard.retries = 0;
        shard.limit = None;
        let (start, end) = (
            sequence_of(first).unwrap_or_default(),
            sequence_of(last).unwrap_or_default(),
        );
        tracing::error!(%start, %end, records = records.len(), attempts, condition, "stream records discarded to the on-failure destination");
        let Some(url) = &self.on_failure else {
            return;
        };
        let arrival = |r: &Value| {
            let t = r["dynamodb"]["ApproximateCreationDateTime"]
                .as_f64()
                .unwrap_or_default();
            jiff::Timestamp::from_second(t as i64)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
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
                "startSequenceNumber": start,
                "endSequenceNumber": end,
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": records.len(),
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

/// Lambda's event source mapping of a queue to its function, which is stopped at its `timeout`: then
/// nothing is deleted, and the whole batch comes back after the visibility timeout.
pub async fn poll_queue<C: shared::lambda::QueueConsumer>(
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
    worker: C,
    timeout: Duration,
) {
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
        let deadline = tokio::time::Instant::now() + timeout;
        let Ok(response) = tokio::time::timeout(timeout, worker.consume(event, deadline)).await
        else {
            tracing::warn!(
                messages = messages.len(),
                ?timeout,
                "the worker timed out; the whole batch comes back"
            );
            continue;
        };
        let failed: Vec<String> = response
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
/// the stream, receiving and deleting messages) are AWS's, not the service's, so they get none of the
/// service's faults, only a queue's own (`INFRA_APP`); `publish` and the worker use the service's
/// clients, each signing as its function (`Stack::sdk_for`), so the emulator holds them to their IAM.
pub fn start(stack: &Arc<Stack>) -> Result<(), Error> {
    let infra = stack
        .sdk
        .to_builder()
        .app_name(aws_config::AppName::new(crate::INFRA_APP)?)
        .build();
    for f in &stack.functions {
        let config = stack.config_for(f)?;
        if let Some(source) = &f.stream {
            let publisher = Publisher {
                metrics: shared::metrics::Metrics::to(&stack.metrics),
                ..Publisher::from_config(&config, &stack.sdk_for(f))?
            };
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
                timeout: f.timeout,
            };
            tokio::spawn(mapping.run());
        }
        if let Some(queue) = &f.queue {
            let url = stack
                .reference(queue, None)
                .cloned()
                .ok_or("unknown queue")?;
            let metrics = shared::metrics::Metrics::to(&stack.metrics);
            let arn = stack
                .reference(queue, Some("Arn"))
                .cloned()
                .unwrap_or_default();
            let sqs = aws_sdk_sqs::Client::new(&infra);
            if f.binary == "deliver" {
                let deliverer = shared::delivery::Deliverer {
                    metrics,
                    ..shared::delivery::Deliverer::from_config(&config, &stack.sdk_for(f))?
                };
                tokio::spawn(poll_queue(sqs, url, arn, deliverer, f.timeout));
            } else {
                let worker = Worker {
                    metrics,
                    ..Worker::from_config(&config, &stack.sdk_for(f))?
                };
                tokio::spawn(poll_queue(sqs, url, arn, worker, f.timeout));
            }
        }
    }
    for f in stack
        .functions
        .iter()
        .filter(|f| f.binary == "write-slot-feed")
    {
        let Some(expression) = &f.schedule else {
            continue;
        };
        let expression = stack.resolve(expression)?;
        let period = rate(&expression)
            .ok_or_else(|| format!("{}: a schedule of rate() only: {expression}", f.logical_id))?;
        let writer =
            shared::feed::FeedWriter::from_config(&stack.config_for(f)?, &stack.sdk_for(f))?;
        tokio::spawn(write_feed_every(writer, period));
    }
    tokio::spawn(poll_tap(
        aws_sdk_sqs::Client::new(&infra),
        stack.tap_queue_url.clone(),
        stack.events.clone(),
    ));
    if let Some(bucket) = stack.reference("AuditBucket", None).cloned() {
        let s3 = shared::audit::s3_client(&infra);
        tokio::spawn(deliver_audit(s3, bucket, stack.audit.clone()));
    }
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

/// What EventBridge Scheduler does: a one-time schedule at its `at()` time (UTC here) sends the target's
/// input to its queue, then is deleted (`ActionAfterCompletion: DELETE`); a `rate()` schedule sends it
/// every period from its creation. Polled twice a second, so a schedule fires within about half a
/// second of its time.
pub async fn fire_schedules(
    scheduler: aws_sdk_scheduler::Client,
    sqs: aws_sdk_sqs::Client,
    groups: Vec<String>,
    queues: HashMap<String, String>,
) {
    let mut last_fired: HashMap<String, jiff::Timestamp> = HashMap::new();
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
                let expression = schedule.schedule_expression().unwrap_or_default();
                let due = match (at_time(expression), rate(expression)) {
                    (Some(at), _) => at,
                    (None, Some(period)) => {
                        let from = last_fired
                            .get(&name)
                            .copied()
                            .or_else(|| {
                                schedule
                                    .creation_date()
                                    .and_then(|d| jiff::Timestamp::from_second(d.secs()).ok())
                            })
                            .unwrap_or(now);
                        from + period
                    }
                    _ => {
                        tracing::warn!(%name, expression, "a schedule the local stack cannot fire: at() in UTC or rate() only");
                        continue;
                    }
                };
                if due > now {
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
                tracing::debug!(%name, late_ms = (now - due).get_milliseconds(), "schedule fired");
                if rate(expression).is_some() {
                    last_fired.insert(name, now);
                } else if schedule.action_after_completion()
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

/// What `write-slot-feed`'s schedule does: runs it every `period` (here also once at the start, so
/// that `make dev` has a feed at once).
async fn write_feed_every(writer: shared::feed::FeedWriter, period: jiff::SignedDuration) {
    let period = Duration::try_from(period).unwrap_or(Duration::from_secs(300));
    loop {
        if let Err(e) = writer.run().await {
            tracing::warn!(error = %e, "the slot feed was not written; the next run tries again");
        }
        tokio::time::sleep(period).await;
    }
}

/// The time of `at(yyyy-mm-ddThh:mm:ss)`, in UTC.
fn at_time(expression: &str) -> Option<jiff::Timestamp> {
    expression
        .strip_prefix("at(")?
        .strip_suffix(')')?
        .parse::<jiff::civil::DateTime>()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The period of `rate(<n> minute[s] | hour[s] | day[s])`.
fn rate(expression: &str) -> Option<jiff::SignedDuration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.split_once(' ')?;
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let minutes = match unit.trim_end_matches('s') {
        "minute" => n,
        "hour" => n * 60,
        "day" => n * 24 * 60,
        _ => return None,
    };
    Some(jiff::SignedDuration::from_mins(minutes))
}

/// What the subscription filters and Firehose do on AWS: the functions' audit lines, buffered (here
/// 200 ms, there up to 60 s), into the audit bucket under the UTC day they arrive
/// (`audit/yyyy/MM/dd/<object>`), one line per record.
async fn deliver_audit(s3: aws_sdk_s3::Client, bucket: String, lines: shared::metrics::Lines) {
    let mut delivered = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let all = lines.all();
        if all.len() == delivered {
            continue;
        }
        let day = jiff::Timestamp::now().strftime("%Y/%m/%d");
        // Firehose's object names sort by arrival (they carry its time), as these do.
        let now = jiff::Timestamp::now().as_nanosecond();
        let key = format!("audit/{day}/{now:024}-{}", uuid::Uuid::new_v4());
        let body = all[delivered..].join("\n") + "\n";
        match s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.into_bytes().into())
            .send()
            .await
        {
            Ok(_) => delivered = all.len(),
            Err(e) => tracing::warn!(error = %e, "audit delivery failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_expressions_read_as_scheduler_writes_them() {
        assert_eq!(
            at_time("at(2031-01-01T10:05:30)").map(|t| t.to_string()),
            Some("2031-01-01T10:05:30Z".to_owned())
        );
        assert_eq!(
            rate("rate(5 minutes)"),
            Some(jiff::SignedDuration::from_mins(5))
        );
        assert_eq!(
            rate("rate(1 hour)"),
            Some(jiff::SignedDuration::from_mins(60))
        );
        for never in [
            "rate(0 minutes)",
            "rate(5 fortnights)",
            "cron(0 * * * ? *)",
            "at(soon)",
        ] {
            assert!(rate(never).is_none() && at_time(never).is_none(), "{never}");
        }
    }
}
