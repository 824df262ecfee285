//! The transport of `publish`: a stream batch's effects to EventBridge, SQS and Scheduler, with what
//! becomes of a record whose effects fail (DESIGN.md section 6, "Nothing lost on the way out").
//!
//! With `ReportBatchItemFailures`, Lambda retries a batch from the lowest sequence number reported,
//! and once `MaximumRetryAttempts` or `MaximumRecordAgeInSeconds` runs out it discards the rest of
//! the batch to the on-failure destination, which gets metadata only
//! (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html,
//! https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html). So a record that can
//! never succeed must not stop the batch: it is parked, and the batch goes on. A record that may succeed
//! later stops the batch there, in order, and is retried until its age runs out. And the batch stops
//! before the function's deadline, reporting what it did not reach, so that a slow batch is never
//! redelivered whole after a timeout.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::Value;
use tokio::time::Instant;

use super::{
    effects, fee_requests, schedule_changes, sdk_failure, Change, Effect, Plan, PublishError,
    ScheduleChange, SOURCE,
};
use crate::config::{Config, ConfigError, Fees, Schedules};
use crate::domain::reminders::Offset;
use crate::domain::{Clock, UtcTime};
use crate::jobs::Job;
use crate::metrics::{self, Metrics};
use crate::retry::{retrying_with, settled, Attempt};

/// What a batch keeps of the function's time to stop and answer: a record still running this close
/// to the deadline is abandoned (its effects are idempotent, so its retry repeats nothing) and
/// reported, with every record after it.
pub const MARGIN: Duration = Duration::from_secs(2);

/// Sends effects to EventBridge, SQS and Scheduler, and parks what cannot be sent; built once per
/// cold start.
#[derive(Clone, Debug)]
pub struct Publisher {
    pub events: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    /// The table, for parked records (`PARKED#<event id>` items only).
    pub db: aws_sdk_dynamodb::Client,
    pub table: String,
    pub bus: String,
    pub jobs_queue_url: String,
    /// Where a parked record's keys go (`PARKED_QUEUE_URL`): the operators' work list and alarm.
    pub parked_queue_url: String,
    /// Where reminder and offer schedules go. Required: without them offers would never lapse.
    pub schedules: Schedules,
    pub offsets: Vec<Offset>,
    pub lead: jiff::SignedDuration,
    pub fees: Fees,
    /// The shards of the search index (`SEARCH_SHARDS`).
    pub shards: u32,
    /// "Now", for planning schedules and parking records.
    pub clock: Clock,
    /// Where each invocation's metrics line goes (`crate::metrics`).
    pub metrics: Metrics,
    /// Manage links, for the events that carry one.
    pub manage: crate::config::ManageLinks,
}

impl Publisher {
    /// The publisher `config` describes on `sdk`: the Lambda main and the local stack build it the
    /// same way. Every destination is required, so a stack missing one does not start.
    pub fn from_config(
        config: &Config,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Publisher, ConfigError> {
        Ok(Publisher {
            events: aws_sdk_eventbridge::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            scheduler: aws_sdk_scheduler::Client::new(sdk),
            db: crate::store::capacity::measured(
                aws_sdk_dynamodb::Client::new(sdk),
                config.return_consumed_capacity,
            ),
            table: Config::require(&config.table_name, "TABLE_NAME")?,
            bus: Config::require(&config.event_bus_name, "EVENT_BUS_NAME")?,
            jobs_queue_url: Config::require(&config.jobs_queue_url, "JOBS_QUEUE_URL")?,
            parked_queue_url: Config::require(&config.parked_queue_url, "PARKED_QUEUE_URL")?,
            schedules: config
                .schedules
                .clone()
                .ok_or(ConfigError::Missing("SCHEDULE_GROUP"))?,
            offsets: config.reminder_offsets.clone(),
            lead: config.reminder_lead,
            fees: config.fees,
            shards: config.search_shards,
            clock: Clock::System,
            metrics: Metrics::stdout(),
            manage: config.manage.clone(),
        })
    }

    /// One invocation of the function: a stream batch (`{"Records": [...]}`, as the event source
    /// mapping sends it), or `{"replay": "parked"}` (an operator's `sam remote invoke`, or `make
    /// replay-parked` locally), which replays the parked records.
    pub async fn invoke(&self, payload: Value, deadline: Instant) -> Result<Value, String> {
        if payload.get("Records").is_some() {
            let event: Event = serde_json::from_value(payload)
                .map_err(|e| format!("not a DynamoDB stream batch: {e}"))?;
            return serde_json::to_value(Box::pin(self.handle(event, deadline)).await)
                .map_err(|e| e.to_string());
        }
        if payload.get("replay").and_then(Value::as_str) == Some("parked") {
            let replayed = self
                .metrics
                .unit("publish", None, async {
                    metrics::outcome("replay");
                    self.replay_parked(deadline).await
                })
                .await
                .map_err(|e| e.to_string())?;
            return serde_json::to_value(replayed).map_err(|e| e.to_string());
        }
        Err(r#"the event is neither a stream batch nor {"replay": "parked"}"#.into())
    }

    /// Handles a batch in order. A record whose failure is permanent is parked and the batch goes on;
    /// at the first transient failure, or when the deadline is near, that record and every later one
    /// are reported, so Lambda retries from there and no later change overtakes an earlier one.
    pub async fn handle(&self, event: Event, deadline: Instant) -> DynamoDbEventResponse {
        self.metrics
            .unit("publish", None, self.handle_measured(event, deadline))
            .await
    }

    async fn handle_measured(&self, event: Event, deadline: Instant) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        metrics::count("Records", event.records.len() as u64);
        for (i, record) in event.records.iter().enumerate() {
            let Err(e) = self.publish_or_park(record, deadline).await else {
                continue;
            };
            tracing::warn!(
                event_id = %record.event_id,
                sequence = ?record.change.sequence_number,
                left = event.records.len() - i,
                error = %e,
                "stream batch stopped; Lambda retries it from this record"
            );
            metrics::outcome("retried");
            metrics::count("RecordsRetried", (event.records.len() - i) as u64);
            for unreached in &event.records[i..] {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = unreached.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
            }
            break;
        }
        response
    }

    /// Publishes a record within the time left, or parks it when it can never be published. `Err`
    /// is always transient: the batch stops here.
    async fn publish_or_park(
        &self,
        record: &EventRecord,
        deadline: Instant,
    ) -> Result<(), PublishError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left <= MARGIN {
            return Err(PublishError::Transient("the deadline is near".into()));
        }
        let outcome = tokio::time::timeout(left - MARGIN, Box::pin(self.publish(record)))
            .await
            .unwrap_or_else(|_| {
                Err(PublishError::Transient(
                    "the deadline came while publishing".into(),
                ))
            });
        match outcome {
            Ok(()) => Ok(()),
            Err(PublishError::Permanent(why)) => {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .saturating_sub(MARGIN);
                tokio::time::timeout(left, Box::pin(self.park(record, &why)))
                    .await
                    .unwrap_or_else(|_| {
                        Err(PublishError::Transient(
                            "the deadline came while parking".into(),
                        ))
                    })
            }
            Err(transient) => Err(transient),
        }
    }

    /// Runs every effect of one record: its schedules, its jobs, then its events.
    pub(super) async fn publish(&self, record: &EventRecord) -> Result<(), PublishError> {
        let change = Change::decode(record)?;
        let mut effects = effects(&change);
        effects.extend(fee_requests(&change, &self.fees));
        for effect in &mut effects {
            if let Effect::Event(event) = effect {
                if let Some(facts) = event.manageable() {
                    facts.manage_url = self.manage.url(facts.appointment_id, facts.end_time);
                }
            }
        }
        let plan = Plan {
            offsets: self.offsets.clone(),
            lead: self.lead,
            now: self.clock.now(),
        };
        for schedule in schedule_changes(&change, &plan) {
            self.schedule(&schedule).await?;
        }
        let mut entries = vec![];
        let mut published = vec![];
        for effect in &effects {
            match effect {
                Effect::Event(event) => {
                    let detail = event.detail();
                    entries.push(
                        PutEventsRequestEntry::builder()
                            .event_bus_name(&self.bus)
                            .source(SOURCE)
                            .detail_type(event.detail_type())
                            .detail(detail.to_string())
                            .build(),
                    );
                    published.push((event.detail_type(), detail));
                }
                Effect::Job(job) => self.send_job_after(job, 0).await?,
            }
        }
        self.put_events(entries).await?;
        self.count_feed_changes(&change).await?;
        self.relist(&change).await?;
        self.reindex(&change).await?;
        for (detail_type, detail) in published {
            tracing::info!(detail_type, event_id = %detail["eventId"], appointment_id = %detail["appointmentId"], "event published");
        }
        Ok(())
    }

    /// A change of an appointment changes its patient's and its provider's calendar feeds: their
    /// owners' counts (the feeds' ETags) go up, where they have feeds.
    async fn count_feed_changes(&self, change: &Change) -> Result<(), PublishError> {
        let Some(a) = change.appointment() else {
            return Ok(());
        };
        let store = self.store();
        for owner in [a.patient_id.uuid(), a.provider_id.uuid()] {
            store
                .count_feed_change(owner)
                .await
                .map_err(|e| store_failure("counting a feed change", e))?;
        }
        Ok(())
    }

    /// The table as the store reaches it, for the read models kept here.
    fn store(&self) -> crate::store::Store {
        crate::store::Store::new(self.db.clone(), self.table.clone())
    }

    /// A change of a provider's directory profile relists them (the directory is a read model kept
    /// here, not by the PUT: DESIGN.md section 15).
    async fn relist(&self, change: &Change) -> Result<(), PublishError> {
        let crate::stream::change::Item::Provider(diff) = &change.item else {
            return Ok(());
        };
        let before = diff.before().and_then(|p| p.profile.as_ref());
        let after = diff.after().and_then(|p| p.profile.as_ref());
        let written = self
            .store()
            .relist(diff.latest().provider_id, before, after)
            .await
            .map_err(|e| store_failure("relisting a provider", e))?;
        if written > 0 {
            crate::metrics::count("ListingsWritten", written as u64);
            tracing::info!(provider_id = %diff.latest().provider_id, written, "provider relisted");
        }
        Ok(())
    }

    /// The search index is a read model kept here (DESIGN.md section 15): a slot's change puts or
    /// deletes its openings; a change of what a provider is searched by (their active profile, their
    /// zone) re-projects their future openings; a completed visit makes the patient one the provider
    /// has seen (an established patient, for `acceptingNewPatients`).
    async fn reindex(&self, change: &Change) -> Result<(), PublishError> {
        use crate::stream::change::Item;
        let store = self.store();
        let written = match &change.item {
            Item::Slot(diff) => store
                .reindex_slot(diff.before(), diff.after(), self.shards)
                .await
                .map_err(|e| store_failure("indexing a slot's openings", e))?,
            Item::Provider(diff) => {
                let before = diff.before().and_then(|p| store.searchable_of(Some(p)));
                let after = diff.after().and_then(|p| store.searchable_of(Some(p)));
                if before == after {
                    return Ok(());
                }
                let provider = diff.latest().provider_id;
                let now = self.clock.now();
                let written = store
                    .reproject(provider, after.as_ref(), now, self.shards)
                    .await
                    .map_err(|e| store_failure("re-projecting a provider's openings", e))?;
                tracing::info!(provider_id = %provider, written, "provider's openings re-projected");
                written
            }
            Item::Appointment(diff) => {
                let completed = |a: Option<&crate::domain::Appointment>| {
                    a.is_some_and(|a| a.status == crate::domain::AppointmentStatus::Completed)
                };
                if completed(diff.after()) && !completed(diff.before()) {
                    let a = diff.latest();
                    store
                        .mark_seen(a.patient_id, a.provider_id, a.updated_at)
                        .await
                        .map_err(|e| store_failure("recording a patient seen", e))?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        if written > 0 {
            metrics::count("OpeningsWritten", written as u64);
        }
        Ok(())
    }

    /// PutEvents, resending only the entries that failed inside a 200 answer (EventBridge reports
    /// them one by one: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html),
    /// within the retry budget. Resending the whole record would publish its accepted events twice. An
    /// entry refused for itself (not throttled, not an internal failure) can never pass: permanent.
    async fn put_events(&self, entries: Vec<PutEventsRequestEntry>) -> Result<(), PublishError> {
        if entries.is_empty() {
            return Ok(());
        }
        // Each attempt sends the entries the last one left.
        retrying_with("put events", entries, |entries| async move {
            match self.put_events_once(&entries).await {
                Ok(failed) if failed.is_empty() => (failed, Ok(Attempt::Done(()))),
                Ok(failed) => (failed, Ok(Attempt::Again)),
                Err(e) => (entries, Err(e)),
            }
        })
        .await
    }

    /// One PutEvents: the entries to send again (those failed for a reason that passes).
    async fn put_events_once(
        &self,
        entries: &[PutEventsRequestEntry],
    ) -> Result<Vec<PutEventsRequestEntry>, PublishError> {
        const ENTRY_RETRY: [&str; 2] = ["InternalFailure", "ThrottlingException"];
        let out = self
            .events
            .put_events()
            .set_entries(Some(entries.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_failure("EventBridge PutEvents", e))?;
        let failed_entries = u64::try_from(out.failed_entry_count).unwrap_or_default();
        metrics::count(
            "EventsPut",
            (entries.len() as u64).saturating_sub(failed_entries),
        );
        if out.failed_entry_count == 0 {
            return Ok(vec![]);
        }
        metrics::count("EntriesFailed", failed_entries);
        let mut failed = vec![];
        for (entry, result) in entries.iter().zip(out.entries.unwrap_or_default()) {
            let Some(code) = result.error_code() else {
                continue;
            };
            if !ENTRY_RETRY.contains(&code) {
                return Err(PublishError::Permanent(format!(
                    "EventBridge refused a {} event: {code}",
                    entry.detail_type().unwrap_or_default()
                )));
            }
            tracing::warn!(
                error_code = code,
                detail_type = entry.detail_type(),
                "event not accepted; resending it"
            );
            failed.push(entry.clone());
        }
        metrics::count("EntriesResent", failed.len() as u64);
        Ok(failed)
    }

    /// Creates or deletes one schedule, or sends a delayed job. Creating one that exists and deleting
    /// one that is gone are successes: a redelivered record changes nothing twice
    /// (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html).
    async fn schedule(&self, change: &ScheduleChange) -> Result<(), PublishError> {
        let (done, outcome) = match change {
            ScheduleChange::Delay { job, seconds } => {
                return self.send_job_after(job, *seconds).await
            }
            ScheduleChange::Create { name, at, job } => (
                "SchedulesCreated",
                settled("create schedule", || self.create_schedule(name, *at, job)).await,
            ),
            ScheduleChange::Delete { name } => (
                "SchedulesDeleted",
                settled("delete schedule", || self.delete_schedule(name)).await,
            ),
        };
        match &outcome {
            Ok(()) => metrics::count(done, 1),
            Err(_) => metrics::count("SchedulesFailed", 1),
        }
        outcome
    }

    async fn delete_schedule(&self, name: &str) -> Result<(), PublishError> {
        match self
            .scheduler
            .delete_schedule()
            .name(name)
            .group_name(&self.schedules.group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_failure("Scheduler DeleteSchedule", e)),
        }
    }

    async fn create_schedule(
        &self,
        name: &str,
        at: UtcTime,
        job: &Job,
    ) -> Result<(), PublishError> {
        use aws_sdk_scheduler::types::{
            ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
            Target,
        };
        let to = &self.schedules;
        let built =
            |e: aws_sdk_scheduler::error::BuildError| PublishError::Permanent(e.to_string());
        let input =
            serde_json::to_string(job).map_err(|e| PublishError::Permanent(e.to_string()))?;
        let target = Target::builder()
            .arn(&to.target_arn)
            .role_arn(&to.role_arn)
            .input(input)
            .dead_letter_config(DeadLetterConfig::builder().arn(&to.dead_letter_arn).build())
            .build()
            .map_err(built)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(built)?;
        match self
            .scheduler
            .create_schedule()
            .name(name)
            .group_name(&to.group)
            .schedule_expression(format!(
                "at({})",
                at.timestamp().strftime("%Y-%m-%dT%H:%M:%S")
            ))
            .schedule_expression_timezone("UTC")
            .action_after_completion(ActionAfterCompletion::Delete)
            .flexible_time_window(window)
            .target(target)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conflict_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_failure("Scheduler CreateSchedule", e)),
        }
    }

    /// Sends `job` to the jobs queue, to be delivered `delay` seconds from now (0 to 900).
    pub(super) async fn send_job_after(&self, job: &Job, delay: i32) -> Result<(), PublishError> {
        let body =
            serde_json::to_string(job).map_err(|e| PublishError::Permanent(e.to_string()))?;
        self.send(&self.jobs_queue_url, body, delay).await?;
        metrics::count("JobsSent", 1);
        Ok(())
    }

    /// SendMessage, retrying what is transient within the budget.
    pub(super) async fn send(
        &self,
        queue_url: &str,
        body: String,
        delay: i32,
    ) -> Result<(), PublishError> {
        settled("send message", || async {
            self.sqs
                .send_message()
                .queue_url(queue_url)
                .message_body(&body)
                .delay_seconds(delay)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_failure("SQS SendMessage", e))
        })
        .await
    }
}

/// A store failure of `what` as publish treats it: contention and throttling pass (the batch stops at
/// the record and Lambda retries it), anything else never will (the record is parked).
fn store_failure(what: &str, e: crate::store::StoreError) -> PublishError {
    match e {
        crate::store::StoreError::Transient(_) | crate::store::StoreError::Contended(_) => {
            PublishError::Transient(format!("{what}: {e}"))
        }
        other => PublishError::Permanent(format!("{what}: {other}")),
    }
}
