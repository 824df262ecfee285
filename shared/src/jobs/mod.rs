//! Jobs on the SQS queue and the worker that runs them. Every job is idempotent: the queue delivers at
//! least once, and a job run twice leaves the table as one run does.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::reminders::Offset;
use crate::domain::{AppointmentId, Clock, EntryId, HoldId, ProviderId, SlotId, UtcTime};
use crate::metrics::{self, Metrics};
use crate::store::booking::BookingError;
use crate::store::holds::HoldEnd;
use crate::store::payments::{Billed, Fee, PaymentRecorded};
use crate::store::reminders::Reminded;
use crate::store::waitlist::{Lapse, WaitlistError};
use crate::store::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Job {
    /// A cancellation or a reschedule gave a seat back: it is offered to the waitlist.
    SeatFreed {
        job_id: Uuid,
        slot_id: SlotId,
        appointment_id: AppointmentId,
        freed_at: UtcTime,
        /// The slot's provider and start (jobs queued before they were carried have neither: the
        /// worker reads the slot for them).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<ProviderId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_time: Option<UtcTime>,
    },
    /// A slot opened (created, or released from a block) or a held seat came back (an offer declined,
    /// cancelled or lapsed): its free seats are offered to the waitlist.
    SlotOpened {
        slot_id: SlotId,
        provider_id: ProviderId,
        /// The slot's start; absent for the later slots of a held run (the worker reads the slot).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_time: Option<UtcTime>,
    },
    /// An offer's schedule fired: if the offer (the entry's `offer_count`-th) is still unanswered, its
    /// seat is given back and the entry waits again or expires.
    OfferExpired { entry_id: EntryId, offer_count: u32 },
    /// A completed visit asked for a follow-up on `date`: its patient joins the provider's waitlist
    /// for that date (the visit's type and consultation type, `FollowUpPriority`), under the entry id
    /// the follow-up's event named.
    FollowUp {
        appointment_id: AppointmentId,
        patient_id: crate::domain::PatientId,
        provider_id: ProviderId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        appointment_type_id: Option<Uuid>,
        consultation_type: crate::domain::ConsultationType,
        date: jiff::civil::Date,
    },
    /// A request's confirmation deadline came: if it is still pending, it is declined.
    ConfirmationDue { appointment_id: AppointmentId },
    /// A hold's schedule fired: if it is still held, its seat is given back and it is `expired`.
    HoldExpired { hold_id: HoldId },
    /// The sweeper's rate schedule fired: every offer past its end that is still outstanding lapses
    /// (the safety net for an expiry job that never came).
    Sweep,
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
    /// What a `payment.succeeded` pays (`consultation` when left out).
    #[serde(default, rename = "for")]
    pub pays: Pays,
}

/// What a payment pays: the consultation's fee, or a fee asked for by `payment.*_fee_requested`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pays {
    #[default]
    Consultation,
    LateCancellation,
    NoShow,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("message is not a job: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Waitlist(#[from] WaitlistError),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error("SQS: {0}")]
    Queue(String),
    #[error("the deadline came before the job ended")]
    Deadline,
}

/// What a batch keeps of the function's time to stop and answer: a job still running this close to
/// the deadline is abandoned (every job is idempotent) and reported with those after it, so that only
/// they come back, not the whole batch.
pub const MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Overdue offers one sweep lapses at most (the next sweep takes the rest). Measured against the serial
/// emulator, a lapse costs about 40 ms, 110 ms with the test faults' conflicts and throttling: 25 of
/// them stay near 3 s, inside the worker's 10 s beside the nine other jobs of its batch (about 0.2 s each).
pub const SWEEP_BATCH: usize = 25;

/// The longest delivery delay SQS allows
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
pub const MAX_DELAY_SECONDS: i64 = 900;

#[derive(Clone, Debug)]
pub struct Worker {
    pub store: Store,
    /// How long an offer holds its seat (`Config::offer_ttl`).
    pub offer_ttl: jiff::SignedDuration,
    /// Lapsed offers after which an entry expires (`Config::max_offers`).
    pub max_offers: u32,
    /// The priority of a follow-up's waitlist entry (`Config::follow_up_priority`).
    pub follow_up_priority: u8,
    /// The jobs queue, for a timed job that came early: it is sent again with the time left.
    pub sqs: aws_sdk_sqs::Client,
    pub jobs_queue_url: String,
    /// "Now", for early timed jobs, lapses and the sweep.
    pub clock: Clock,
    /// Where each job's metrics line goes (`crate::metrics`).
    pub metrics: Metrics,
}

/// A message of the jobs queue, read once.
enum Message {
    Job(Job),
    /// Billing's answer, as its rule delivers the bus event.
    Billing(BillingAnswer),
    Malformed(String),
}

impl Message {
    fn read(body: &str) -> Message {
        match serde_json::from_str::<Job>(body) {
            Ok(job) => Message::Job(job),
            Err(e) => match serde_json::from_str::<BillingAnswer>(body) {
                Ok(answer) => Message::Billing(answer),
                Err(_) => Message::Malformed(e.to_string()),
            },
        }
    }

    /// The `Job` dimension of its metrics: a job's `type`, `billing`, or `malformed`.
    fn kind(&self) -> &'static str {
        match self {
            Message::Job(job) => job.kind(),
            Message::Billing(_) => "billing",
            Message::Malformed(_) => "malformed",
        }
    }
}

impl Job {
    /// Its `type` on the queue.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::SeatFreed { .. } => "seat-freed",
            Job::SlotOpened { .. } => "slot-opened",
            Job::OfferExpired { .. } => "offer-expired",
            Job::HoldExpired { .. } => "hold-expired",
            Job::FollowUp { .. } => "follow-up",
            Job::ConfirmationDue { .. } => "confirmation-due",
            Job::Sweep => "sweep",
            Job::ReminderDue { .. } => "reminder-due",
        }
    }
}

impl Worker {
    /// The worker `config` describes (`TABLE_NAME`, `JOBS_QUEUE_URL`) on `sdk`, for the Lambda main,
    /// the local stack and the tests.
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Worker, crate::config::ConfigError> {
        use crate::config::Config;
        Ok(Worker {
            store: Store::from_config(config, sdk)?.with_defaults(config.provider_defaults()),
            offer_ttl: config.offer_ttl,
            max_offers: config.max_offers,
            follow_up_priority: config.follow_up_priority,
            sqs: aws_sdk_sqs::Client::new(sdk),
            jobs_queue_url: Config::require(&config.jobs_queue_url, "JOBS_QUEUE_URL")?,
            clock: Clock::System,
            metrics: Metrics::stdout(),
        })
    }

    /// Runs each message in order until the deadline nears; only the ids of failed ones and of those
    /// not reached are returned, so only those are delivered again.
    pub async fn handle(
        &self,
        event: SqsEvent,
        deadline: tokio::time::Instant,
    ) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in event.records {
            let id = message.message_id.clone().unwrap_or_default();
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .saturating_sub(MARGIN);
            let read = Message::read(message.body.as_deref().unwrap_or_default());
            let kind = read.kind();
            let outcome = self
                .metrics
                .unit("worker", Some(kind), async {
                    let outcome = if left.is_zero() {
                        Err(JobError::Deadline)
                    } else {
                        tokio::time::timeout(left, Box::pin(self.run_message(read)))
                            .await
                            .unwrap_or(Err(JobError::Deadline))
                    };
                    // A malformed message never runs: it goes to the dead-letter queue once its
                    // receives are spent. Anything else that failed comes back.
                    match &outcome {
                        Ok(()) => {}
                        Err(JobError::Malformed(_)) => metrics::outcome("failed"),
                        Err(_) => metrics::outcome("retried"),
                    }
                    outcome
                })
                .await;
            if let Err(e) = outcome {
                tracing::warn!(message_id = %id, error = %e, "job failed or not reached; it comes back");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    async fn run_message(&self, message: Message) -> Result<(), JobError> {
        match message {
            // Boxed: the jobs' futures nest deep enough to pass rustc's layout query limit in the
            // worker binary otherwise.
            Message::Job(job) => Box::pin(self.run(&job)).await,
            Message::Billing(answer) => self.record_payment(&answer).await,
            Message::Malformed(why) => Err(JobError::Malformed(why)),
        }
    }

    /// Sends `job` again, to arrive just after `due` (or as late as SQS allows, and again from
    /// there): a timed job that came early is acknowledged and re-sent, never failed into the DLQ.
    async fn again_at(&self, job: &Job, due: UtcTime, now: UtcTime) -> Result<(), JobError> {
        let left = due.timestamp().as_second() - now.timestamp().as_second() + 1;
        let delay = left.clamp(1, MAX_DELAY_SECONDS) as i32;
        let body = serde_json::to_string(job).map_err(|e| JobError::Malformed(e.to_string()))?;
        crate::store::conditional::patiently("send job again", || {
            self.sqs
                .send_message()
                .queue_url(&self.jobs_queue_url)
                .message_body(&body)
                .delay_seconds(delay)
                .send()
        })
        .await
        .map_err(|e| JobError::Queue(e.to_string()))?;
        tracing::info!(
            delay,
            early_job = 1,
            "a timed job came early; sent again for its time"
        );
        metrics::outcome("early");
        Ok(())
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
                metrics::outcome("dropped");
                return Ok(());
            }
        };
        if p.payment_id.is_empty()
            || p.payment_id.len() > 128
            || !crate::domain::money::is_amount(p.amount, 100_000.0)
        {
            tracing::warn!(appointment_id = %p.appointment_id, "a payment answer without a valid id or amount; dropped");
            metrics::outcome("dropped");
            return Ok(());
        }
        let at = answer.time.unwrap_or_else(|| self.clock.now());
        let fee = match p.pays {
            Pays::Consultation => None,
            Pays::LateCancellation => Some(Fee::LateCancellation),
            Pays::NoShow => Some(Fee::NoShow),
        };
        let outcome = match (fee, what) {
            (None, _) => {
                self.store
                    .record_payment(what, p.appointment_id, &p.payment_id, p.amount, at)
                    .await?
            }
            (Some(fee), Billed::Paid) => {
                self.store
                    .record_fee_payment(fee, p.appointment_id, &p.payment_id, p.amount, at)
                    .await?
            }
            (Some(_), Billed::Refunded) => {
                tracing::warn!(appointment_id = %p.appointment_id, "a refund of a fee: not recorded here; dropped");
                metrics::outcome("dropped");
                return Ok(());
            }
        };
        tracing::info!(appointment_id = %p.appointment_id, payment_id = %p.payment_id, ?what, pays = ?p.pays, ?outcome, "billing's answer");
        match outcome {
            PaymentRecorded::Recorded => metrics::count("PaymentsRecorded", 1),
            PaymentRecorded::AlreadyRecorded => {}
            PaymentRecorded::UnknownAppointment
            | PaymentRecorded::NotOwed
            | PaymentRecorded::AmountMismatch
            | PaymentRecorded::Conflicting => {
                metrics::count("PaymentsMismatched", 1);
                metrics::outcome("dropped");
            }
        }
        Ok(())
    }

    /// Offers the free seats of a slot to its waitlist.
    async fn offer(
        &self,
        slot_id: SlotId,
        known: Option<(ProviderId, UtcTime)>,
    ) -> Result<(), JobError> {
        let now = self.clock.now();
        let offered = self
            .store
            .offer_seats(slot_id, known, now, self.offer_ttl)
            .await?;
        tracing::info!(%slot_id, offers = offered.len(), "free seats offered to the waitlist");
        metrics::count("OffersMade", offered.len() as u64);
        Ok(())
    }

    /// A follow-up's waitlist entry, made once: a repeated job finds it made; a patient who already
    /// waits for that provider and date keeps the entry they have; a date already past (a job long
    /// delayed) or a type no longer offered (the entry then waits for any type) is logged.
    async fn follow_up(&self, job: &Job) -> Result<(), JobError> {
        let Job::FollowUp {
            appointment_id,
            patient_id,
            provider_id,
            appointment_type_id,
            consultation_type,
            date,
        } = job
        else {
            return Ok(());
        };
        let now = self.clock.now();
        let Some(day) = date
            .to_string()
            .parse::<crate::domain::Day>()
            .ok()
            .filter(|d| d.end() > now)
        else {
            tracing::warn!(%appointment_id, %date, "a follow-up for a day already past; no entry");
            metrics::outcome("dropped");
            return Ok(());
        };
        let mut entry =
            crate::domain::waitlist::Entry::waiting(*patient_id, *provider_id, day, now);
        entry.id = crate::domain::waitlist::follow_up_entry_id(*appointment_id);
        entry.appointment_type_id = *appointment_type_id;
        entry.consultation_type = Some(*consultation_type);
        entry.priority = self.follow_up_priority;
        entry.follow_up_of = Some(*appointment_id);
        if self.store.waitlist_entry(entry.id).await?.is_some() {
            tracing::info!(%appointment_id, entry_id = %entry.id, "follow-up entry already made");
            return Ok(());
        }
        let joined = match self.store.join_waitlist(&entry).await {
            Err(WaitlistError::TypeNotFound | WaitlistError::TypeInactive) => {
                tracing::warn!(%appointment_id, "the follow-up's type is no longer offered: its entry waits for any type");
                entry.appointment_type_id = None;
                self.store.join_waitlist(&entry).await
            }
            other => other,
        };
        match joined {
            Ok(()) => {
                tracing::info!(%appointment_id, entry_id = %entry.id, "follow-up put on the waitlist");
                metrics::count("FollowUpsQueued", 1);
                Ok(())
            }
            Err(WaitlistError::AlreadyWaiting(existing)) if existing == entry.id => Ok(()),
            Err(WaitlistError::AlreadyWaiting(existing)) => {
                tracing::info!(%appointment_id, entry_id = %existing, "the patient already waits for that provider and date");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Lapses the outstanding offers and the live holds past their end, and declines the requests past
    /// their deadline, at most [`SWEEP_BATCH`] of each a run (the next run takes the rest); how many. Zero when every expiry arrived, which is the
    /// normal case.
    pub async fn sweep(&self) -> Result<usize, JobError> {
        let now = self.clock.now();
        let mut holds = 0;
        for hold_id in self.store.overdue_holds(now, SWEEP_BATCH).await? {
            if let HoldEnd::EndedNow(_) = self.store.lapse_hold(hold_id, now).await? {
                tracing::warn!(%hold_id, "an overdue hold lapsed by the sweeper: its expiry never came");
                holds += 1;
            }
        }
        // A metric filter on `swept_holds` counts them; anything but 0 means an expiry was lost.
        tracing::info!(swept_holds = holds, "holds swept");
        metrics::count("HoldsSwept", holds as u64);
        let mut requests = 0;
        for appointment_id in self.store.overdue_requests(now, SWEEP_BATCH).await? {
            if let Ok(Some(_)) = self.store.decline_unanswered(appointment_id, now).await? {
                tracing::warn!(%appointment_id, "an overdue request declined by the sweeper: its deadline never came");
                requests += 1;
            }
        }
        tracing::info!(swept_requests = requests, "requests swept");
        metrics::count("RequestsSwept", requests as u64);
        let overdue = self.store.overdue_offers(now, SWEEP_BATCH).await?;
        let mut lapsed = 0;
        for (entry_id, offer_count) in overdue {
            // Only a lapse made now counts: the index may still show an offer its expiry just ended.
            if let Lapse::Lapsed(entry) = self
                .store
                .lapse_offer(entry_id, offer_count, self.max_offers, now)
                .await?
            {
                tracing::warn!(%entry_id, offer_count, status = entry.status.as_str(), "an overdue offer lapsed by the sweeper: its expiry never came");
                lapsed += 1;
            }
        }
        // A metric filter on `swept_offers` counts them; anything but 0 means an expiry was lost.
        tracing::info!(swept_offers = lapsed, "sweep done");
        metrics::count("OffersSwept", lapsed as u64);
        Ok(lapsed + holds + requests)
    }

    pub async fn run(&self, job: &Job) -> Result<(), JobError> {
        match job {
            Job::Sweep => self.sweep().await.map(|_| ()),
            Job::SeatFreed {
                slot_id,
                provider_id,
                start_time,
                ..
            } => self.offer(*slot_id, provider_id.zip(*start_time)).await,
            Job::SlotOpened {
                slot_id,
                provider_id,
                start_time,
            } => {
                self.offer(*slot_id, start_time.map(|t| (*provider_id, t)))
                    .await
            }
            Job::OfferExpired {
                entry_id,
                offer_count,
            } => {
                let now = self.clock.now();
                match self
                    .store
                    .lapse_offer(*entry_id, *offer_count, self.max_offers, now)
                    .await?
                {
                    Lapse::Early { ends } => self.again_at(job, ends, now).await,
                    Lapse::Gone => {
                        tracing::warn!(%entry_id, "an offer expiry for an entry that does not exist; dropped");
                        metrics::outcome("dropped");
                        Ok(())
                    }
                    Lapse::Ended(entry) => {
                        tracing::info!(%entry_id, offer_count, status = entry.status.as_str(), "offer expiry handled");
                        Ok(())
                    }
                    Lapse::Lapsed(entry) => {
                        tracing::info!(%entry_id, offer_count, status = entry.status.as_str(), "offer expiry handled");
                        metrics::count("OffersLapsed", 1);
                        Ok(())
                    }
                }
            }
            Job::FollowUp { .. } => self.follow_up(job).await,
            Job::ConfirmationDue { appointment_id } => {
                let now = self.clock.now();
                match self.store.decline_unanswered(*appointment_id, now).await? {
                    Err(deadline) => self.again_at(job, deadline, now).await,
                    Ok(Some(_)) => {
                        tracing::info!(%appointment_id, "a request nobody answered was declined");
                        metrics::count("RequestsTimedOut", 1);
                        Ok(())
                    }
                    Ok(None) => {
                        tracing::info!(%appointment_id, "confirmation deadline: the request was answered before");
                        Ok(())
                    }
                }
            }
            Job::HoldExpired { hold_id } => {
                let now = self.clock.now();
                match self.store.lapse_hold(*hold_id, now).await? {
                    HoldEnd::Early { ends } => self.again_at(job, ends, now).await,
                    HoldEnd::Gone => {
                        tracing::warn!(%hold_id, "a hold expiry for a hold that does not exist; dropped");
                        metrics::outcome("dropped");
                        Ok(())
                    }
                    HoldEnd::Ended(h) => {
                        tracing::info!(%hold_id, status = h.status.as_str(), "hold expiry: the hold had ended");
                        Ok(())
                    }
                    HoldEnd::EndedNow(_) => {
                        tracing::info!(%hold_id, "hold expired: its seat went back");
                        metrics::count("HoldsExpired", 1);
                        Ok(())
                    }
                }
            }
            Job::ReminderDue {
                appointment_id,
                offset,
                start_time,
            } => {
                let now = self.clock.now();
                let outcome = self
                    .store
                    .record_reminder(*appointment_id, *offset, *start_time, now)
                    .await?;
                match outcome {
                    Reminded::Recorded => {
                        tracing::info!(%appointment_id, %offset, "reminder recorded");
                        metrics::count("RemindersSent", 1);
                    }
                    Reminded::AlreadyRecorded => {
                        tracing::info!(%appointment_id, %offset, "reminder already recorded")
                    }
                    // Counted: a metric filter on `stale_reminder` gives the number dropped.
                    Reminded::Stale => {
                        tracing::info!(
                            %appointment_id,
                            %offset,
                            stale_reminder = 1,
                            "stale reminder dropped: the appointment no longer stands at that time"
                        );
                        metrics::count("RemindersDropped", 1);
                        metrics::outcome("stale");
                    }
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
            provider_id: None,
            start_time: None,
        };
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["type"], "seat-freed");
        assert_eq!(v["slotId"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(serde_json::from_value::<Job>(v).unwrap(), job);
        assert!(serde_json::from_str::<Job>(r#"{"type":"launch-rockets"}"#).is_err());
        let expired = Job::OfferExpired {
            entry_id: EntryId::from_uuid(Uuid::nil()),
            offer_count: 2,
        };
        let v = serde_json::to_value(&expired).unwrap();
        assert_eq!(v["type"], "offer-expired");
        assert_eq!(v["offerCount"], 2);
        assert_eq!(serde_json::from_value::<Job>(v).unwrap(), expired);
    }
}
