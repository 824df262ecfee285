//! `make bench-cost`: what each operation costs on AWS, measured on the local stack as deployed with
//! `ReturnConsumedCapacity=TOTAL`, and priced at us-east-1's on-demand prices.
//!
//! Per operation, from the moment its request is sent until the work it sets off has settled (the
//! events it must publish are on the bus, and no function has written a metric line for a while):
//! - DynamoDB read and write request units: every function's requests asked DynamoDB for their
//!   consumed capacity, and the emulator answers as DynamoDB's rules do (local/emulator.py); the
//!   units are on each unit of work's EMF line (`ReadUnits`, `WriteUnits`);
//! - Lambda invocations and GB-seconds: one invocation per EMF line (an HTTP request, a stream batch,
//!   a job: a batch of one, as jobs arrive one by one at this rate), its `Latency` rounded up to the
//!   millisecond as Lambda bills it, times the function's `MemorySize` from template.yaml;
//! - EventBridge events, SQS requests and Scheduler schedules: the emulator's meter of what the
//!   functions and the stand-ins for Lambda's event source mappings and for Scheduler asked of it
//!   (SQS: the service's sends, Scheduler's deliveries, and per message received, its receive and its
//!   delete; the local bus tap's own queue is not the service's and is left out);
//! - CloudWatch Logs: the bytes of the EMF and audit lines written, plus [`price::LOG_BYTES_PER_INVOCATION`]
//!   for the lines Lambda and the function write besides (an estimate, not measured here).
//!
//! Durations are the local stack's: release code against the emulator, whose answers take about as
//! long as DynamoDB's in the same region (a few milliseconds). What is not per operation (alarms, the
//! dashboard, metrics, the event source mappings' empty polls) is a monthly constant, in the README.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{call, http, token, Http};
use crate::stack::Stack;
use crate::Error;

/// On-demand prices in us-east-1 (US East, N. Virginia), in US dollars, free tiers left out, as the
/// pricing pages publish them (as known on 2026-11-30, with the date of a price change where one
/// matters; this machine cannot reach the pages, so check them there before quoting a total):
pub mod price {
    /// https://aws.amazon.com/lambda/pricing/ (Arm: the functions are arm64; first 7.5 billion
    /// GB-seconds a month; since 2021-09).
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300 million a month).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    /// https://aws.amazon.com/dynamodb/pricing/on-demand/ (since the on-demand price cut of
    /// 2024-11-01). Reads of the table's stream by Lambda are free.
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
    pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
    /// https://aws.amazon.com/eventbridge/pricing/ (custom events; Scheduler's invocations).
    pub const EVENTBRIDGE_EVENT: f64 = 1.00 / 1e6;
    pub const SCHEDULER_INVOCATION: f64 = 1.00 / 1e6;
    /// https://aws.amazon.com/sqs/pricing/ (standard queues, per 64 KB request).
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
    /// https://aws.amazon.com/cloudwatch/pricing/ (logs ingested, standard class).
    pub const LOGS_GB: f64 = 0.50;
    /// A custom metric a month (first 10,000), same page.
    pub const METRIC_MONTH: f64 = 0.30;
    /// https://aws.amazon.com/xray/pricing/ (traces recorded).
    pub const XRAY_TRACE: f64 = 5.00 / 1e6;
    /// What one invocation logs besides its EMF and audit lines, in JSON: Lambda's platform.start and
    /// platform.report, and the function's request line. An estimate (Lambda writes its own lines,
    /// which the local stack does not), about 700 bytes.
    pub const LOG_BYTES_PER_INVOCATION: f64 = 700.0;
}

/// The template parameters the benchmark deploys with: capacity asked for (the default, said again),
/// and reminders allowed a second ahead so that one fires during the run.
pub const PARAMETERS: &[(&str, &str)] = &[
    ("ReturnConsumedCapacity", "TOTAL"),
    ("ReminderMinimumLeadSeconds", "1"),
];

/// A fresh emulator (its meter counts this stack's requests alone) and the local stack on it, deployed
/// with [`PARAMETERS`], and the bench that measures them. Keep the emulator: dropping it stops it.
pub async fn deploy() -> Result<(crate::emulator::Emulator, crate::LocalStack, Bench), Error> {
    let emulator = crate::emulator::Emulator::start_with(0, &crate::emulator::Faults::off())?;
    let stack = crate::LocalStack::start(crate::Options {
        prefix: "cost".into(),
        sdk: crate::sdk_config(&emulator.url),
        api_db: None,
        clock: shared::domain::Clock::System,
        addr: ([127, 0, 0, 1], 0).into(),
        parameters: PARAMETERS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    })
    .await?;
    let bench = Bench::new(Arc::clone(&stack.stack), stack.url(), emulator.url.clone());
    Ok((emulator, stack, bench))
}

/// What one operation used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    pub api_requests: f64,
    pub invocations: f64,
    pub gb_seconds: f64,
    pub read_units: f64,
    pub write_units: f64,
    pub events: f64,
    pub sqs_requests: f64,
    pub schedules_created: f64,
    pub schedules_deleted: f64,
    pub schedules_fired: f64,
    /// EMF and audit lines, measured.
    pub log_bytes: f64,
}

impl Usage {
    /// `self` and `times` times `other`.
    pub fn plus(&self, other: &Usage, times: f64) -> Usage {
        Usage {
            api_requests: self.api_requests + times * other.api_requests,
            invocations: self.invocations + times * other.invocations,
            gb_seconds: self.gb_seconds + times * other.gb_seconds,
            read_units: self.read_units + times * other.read_units,
            write_units: self.write_units + times * other.write_units,
            events: self.events + times * other.events,
            sqs_requests: self.sqs_requests + times * other.sqs_requests,
            schedules_created: self.schedules_created + times * other.schedules_created,
            schedules_deleted: self.schedules_deleted + times * other.schedules_deleted,
            schedules_fired: self.schedules_fired + times * other.schedules_fired,
            log_bytes: self.log_bytes + times * other.log_bytes,
        }
    }

    /// What it costs, by service, X-Ray aside (its traces depend on the month's rate: [`traced`]).
    pub fn dollars(&self) -> BTreeMap<&'static str, f64> {
        let logs = self.log_bytes + self.invocations * price::LOG_BYTES_PER_INVOCATION;
        BTreeMap::from([
            (
                "Lambda",
                self.invocations * price::LAMBDA_REQUEST
                    + self.gb_seconds * price::LAMBDA_GB_SECOND,
            ),
            ("API Gateway", self.api_requests * price::HTTP_API_REQUEST),
            (
                "DynamoDB",
                self.write_units * price::DYNAMODB_WRITE_UNIT
                    + self.read_units * price::DYNAMODB_READ_UNIT,
            ),
            ("EventBridge", self.events * price::EVENTBRIDGE_EVENT),
            (
                "Scheduler",
                self.schedules_fired * price::SCHEDULER_INVOCATION,
            ),
            ("SQS", self.sqs_requests * price::SQS_REQUEST),
            ("CloudWatch Logs", logs / 1e9 * price::LOGS_GB),
        ])
    }

    pub fn total(&self) -> f64 {
        self.dollars().values().sum()
    }
}

/// The traces X-Ray records of `invocations` spread evenly over a 30-day month under its default
/// sampling rule: the first request each second and 5% of the rest
/// (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html).
pub fn traced(invocations: f64) -> f64 {
    let seconds = 30.0 * 86_400.0;
    invocations.min(seconds) + 0.05 * (invocations - seconds).max(0.0)
}

/// The always-on stack of the reference design at its smallest highly available size, a month (730
/// hours) in us-east-1 on demand: (component, what it is, dollars).
pub fn reference_stack() -> Vec<(&'static str, &'static str, f64)> {
    let month = 730.0;
    vec![
        // https://aws.amazon.com/rds/postgresql/pricing/: db.t4g.micro Multi-AZ $0.032/h; gp3 $0.115
        // per GB-month, twice in Multi-AZ.
        (
            "PostgreSQL",
            "RDS db.t4g.micro, Multi-AZ, 20 GB gp3",
            0.032 * month + 20.0 * 0.115 * 2.0,
        ),
        // https://aws.amazon.com/elasticache/pricing/: cache.t4g.micro $0.016/h.
        (
            "Redis",
            "ElastiCache cache.t4g.micro, primary and replica in two AZs",
            2.0 * 0.016 * month,
        ),
        // https://aws.amazon.com/msk/pricing/: kafka.t3.small $0.0456/h, storage $0.10 per GB-month.
        (
            "Kafka",
            "MSK, 3 kafka.t3.small brokers in three AZs (replication 3), 10 GB each",
            3.0 * 0.0456 * month + 3.0 * 10.0 * 0.10,
        ),
        // https://aws.amazon.com/fargate/pricing/: Linux/Arm $0.03238 per vCPU-hour, $0.00356 per
        // GB-hour.
        (
            "Node.js service",
            "ECS Fargate (Arm), 2 tasks of 0.25 vCPU and 0.5 GB in two AZs",
            2.0 * (0.25 * 0.03238 + 0.5 * 0.00356) * month,
        ),
        // https://aws.amazon.com/elasticloadbalancing/pricing/: $0.0225/h and $0.008 per LCU-hour.
        (
            "Load balancer",
            "Application Load Balancer, one LCU",
            (0.0225 + 0.008) * month,
        ),
        // https://aws.amazon.com/vpc/pricing/: $0.005 per public IPv4 address an hour (since
        // 2024-02-01); no NAT gateway: the tasks sit in public subnets.
        (
            "Public IPv4",
            "4 addresses (the load balancer's two, a task's each)",
            4.0 * 0.005 * month,
        ),
    ]
}

/// The local stack and the emulator's meter, measuring one operation at a time.
pub struct Bench {
    pub stack: Arc<Stack>,
    pub http: Http,
    pub base: String,
    pub emulator: String,
    /// `MemorySize` (MB) of each function, by the name its metric lines carry.
    memory: BTreeMap<String, u32>,
    tap_queue: String,
}

/// One operation's request: method, path, bearer token (none for a calendar app) and body.
pub struct Call<'a> {
    pub method: &'a str,
    pub path: String,
    pub token: Option<&'a str>,
    pub body: Option<Value>,
}

impl Bench {
    pub fn new(stack: Arc<Stack>, base: String, emulator: String) -> Bench {
        let memory = stack
            .functions
            .iter()
            .map(|f| (f.binary.clone(), f.memory_mb))
            .collect();
        let tap_queue = stack
            .tap_queue_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Bench {
            stack,
            http: http(),
            base,
            emulator,
            memory,
            tap_queue,
        }
    }

    /// `POST /_local/token` for a new user with `roles`.
    pub async fn user(&self, roles: &[&str]) -> (uuid::Uuid, String) {
        token(&self.http, &self.base, roles).await
    }

    /// Sends `c`, which must succeed: its answer.
    pub async fn send(&self, c: &Call<'_>) -> Result<Value, Error> {
        let (status, _, answer) = call(
            &self.http,
            c.method,
            &format!("{}{}", self.base, c.path),
            c.token,
            c.body.clone(),
        )
        .await;
        if !(200..300).contains(&status) {
            return Err(format!("{} {}: {status} {answer}", c.method, c.path).into());
        }
        Ok(answer)
    }

    async fn meter(&self, reset: bool) -> Result<Vec<Metered>, Error> {
        let (status, _, answer) = call(
            &self.http,
            if reset { "POST" } else { "GET" },
            &format!("{}/_emulator/meter", self.emulator),
            None,
            None,
        )
        .await;
        if status != 200 {
            return Err(format!("the emulator's meter answered {status}").into());
        }
        Ok(serde_json::from_value(answer["requests"].clone())?)
    }

    fn events_of_kinds(&self, since: usize) -> Vec<String> {
        let events = self
            .stack
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        events
            .iter()
            .skip(since)
            .filter_map(|e| e["detail-type"].as_str().map(str::to_owned))
            .collect()
    }

    fn event_count(&self) -> usize {
        self.stack
            .events
            .lock()
            .map(|e| e.len())
            .unwrap_or_default()
    }

    /// Waits until no function has written a metric line and no event has reached the bus for 1.5 s
    /// (the stand-ins poll the stream, the queues and the schedules every half second at most), or
    /// fails after 60 s.
    async fn settle(&self) -> Result<(), Error> {
        let quiet = Duration::from_millis(1500);
        let give_up = Instant::now() + Duration::from_secs(60);
        let mut seen = (self.stack.metrics.all().len(), self.event_count());
        let mut since = Instant::now();
        while since.elapsed() < quiet {
            if Instant::now() > give_up {
                return Err("the stack never settled".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = (self.stack.metrics.all().len(), self.event_count());
            if now != seen {
                (seen, since) = (now, Instant::now());
            }
        }
        Ok(())
    }

    /// Runs `calls` (each must succeed) and waits for the events `expect` names (each as often as
    /// named) and for the work to settle: what it all used, and the last call's answer.
    pub async fn measure(
        &self,
        calls: &[Call<'_>],
        expect: &[&str],
    ) -> Result<(Usage, Value), Error> {
        self.measure_with(calls, expect, || async { Ok(()) }).await
    }

    /// [`Bench::measure`], with `wait` awaited after the calls (a schedule firing, say).
    pub async fn measure_with<F, Fut>(
        &self,
        calls: &[Call<'_>],
        expect: &[&str],
        wait: F,
    ) -> Result<(Usage, Value), Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), Error>>,
    {
        self.settle().await?;
        let (lines_from, audit_from, events_from) = (
            self.stack.metrics.all().len(),
            self.stack.audit.all().len(),
            self.event_count(),
        );
        self.meter(true).await?;
        let mut answer = Value::Null;
        for c in calls {
            answer = self.send(c).await?;
        }
        wait().await?;
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            let kinds = self.events_of_kinds(events_from);
            let missing: Vec<&&str> = expect
                .iter()
                .filter(|k| {
                    kinds.iter().filter(|seen| seen.as_str() == **k).count()
                        < expect.iter().filter(|e| e == k).count()
                })
                .collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() > give_up {
                return Err(format!("never published {missing:?} (saw {kinds:?})").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.settle().await?;
        let lines: Vec<Value> = self
            .stack
            .metrics
            .all()
            .iter()
            .skip(lines_from)
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let audit_bytes: usize = self
            .stack
            .audit
            .all()
            .iter()
            .skip(audit_from)
            .map(|l| l.len() + 1)
            .sum();
        let metered = self.meter(false).await?;
        Ok((
            self.usage(calls.len(), &lines, audit_bytes, &metered)?,
            answer,
        ))
    }

    fn usage(
        &self,
        api_requests: usize,
        lines: &[Value],
        audit_bytes: usize,
        metered: &[Metered],
    ) -> Result<Usage, Error> {
        let mut u = Usage {
            api_requests: api_requests as f64,
            log_bytes: audit_bytes as f64,
            ..Usage::default()
        };
        for line in lines {
            let function = line["Function"].as_str().unwrap_or_default();
            let memory = *self
                .memory
                .get(function)
                .ok_or_else(|| format!("a metric line of {function}, which template.yaml lacks"))?;
            let billed_ms = line["Latency"].as_f64().unwrap_or_default().ceil();
            u.invocations += 1.0;
            u.gb_seconds += billed_ms / 1000.0 * f64::from(memory) / 1024.0;
            u.read_units += line["ReadUnits"].as_f64().unwrap_or_default();
            u.write_units += line["WriteUnits"].as_f64().unwrap_or_default();
            u.log_bytes += (line.to_string().len() + 1) as f64;
        }
        for m in metered.iter().filter(|m| m.queue != self.tap_queue) {
            let n = m.n;
            match (m.caller.as_str(), m.action.as_str(), m.what.as_str()) {
                ("service", "AWSEvents.PutEvents", "entries") => u.events += n,
                ("service", "Scheduler.CreateSchedule", _) => u.schedules_created += n,
                ("service", "Scheduler.DeleteSchedule", _) => u.schedules_deleted += n,
                ("service", a, "requests") if a.starts_with("AmazonSQS.") => u.sqs_requests += n,
                // Scheduler delivering a schedule to its queue: an invocation, and an SQS request.
                ("infra", "AmazonSQS.SendMessage", "requests") => {
                    u.schedules_fired += n;
                    u.sqs_requests += n
                }
                // The event source mapping: a receive that delivered, and each delete.
                ("infra", "AmazonSQS.ReceiveMessage", "delivering") => u.sqs_requests += n,
                (
                    "infra",
                    "AmazonSQS.DeleteMessage" | "AmazonSQS.DeleteMessageBatch",
                    "requests",
                ) => u.sqs_requests += n,
                _ => {}
            }
        }
        Ok(u)
    }
}

/// What the emulator's meter counted: `n` of `what` (`requests`, their `entries`, or receives
/// `delivering` messages) of `action` on `queue` (SQS; else empty) by `caller` (`service` or `infra`).
#[derive(Debug, serde::Deserialize)]
struct Metered {
    caller: String,
    action: String,
    queue: String,
    what: String,
    n: f64,
}

/// A slot for `provider`, straight into the table (fixtures are not what is measured).
pub async fn slot(
    stack: &Stack,
    provider: uuid::Uuid,
    start: jiff::Timestamp,
    seats: u32,
) -> Result<String, Error> {
    let table = stack.table_name().ok_or("no table")?.clone();
    let store = shared::store::Store::new(aws_sdk_dynamodb::Client::new(&stack.sdk), table);
    let id = uuid::Uuid::new_v4().to_string();
    crate::put_slot(
        &store,
        &id,
        &provider.to_string(),
        shared::domain::UtcTime::from_timestamp(start),
        30,
        seats,
    )
    .await?;
    Ok(id)
}

/// Every operation the issue names, measured once each: (name, usage).
pub async fn run(bench: &Bench) -> Result<Vec<(&'static str, Usage)>, Error> {
    let (provider, _) = bench.user(&["provider"]).await;
    let (_, p1) = bench.user(&["patient"]).await;
    let (_, p2) = bench.user(&["patient"]).await;
    let (_, p3) = bench.user(&["patient"]).await;
    let now = jiff::Timestamp::now();
    let at = |minutes: i64| -> Result<jiff::Timestamp, Error> {
        let t = now.checked_add(jiff::SignedDuration::from_mins(minutes))?;
        // Whole minutes, as the API's slots are.
        Ok(jiff::Timestamp::from_second(
            t.as_second() - t.as_second() % 60,
        )?)
    };
    let day = 24 * 60;
    let mut out = vec![];

    // A booking two days ahead: three reminders scheduled.
    let ahead = slot(&bench.stack, provider, at(2 * day + 7)?, 1).await?;
    let (u, booked) = bench
        .measure(&[book(&ahead, &p1)], &["appointment.created"])
        .await?;
    out.push(("book", u));
    let booked_id = id_of(&booked)?;

    // Rescheduling it to another slot.
    let other = slot(&bench.stack, provider, at(2 * day + 67)?, 1).await?;
    let (u, moved) = bench
        .measure(
            &[Call {
                method: "POST",
                path: format!("/appointments/{booked_id}/reschedule"),
                token: Some(&p1),
                body: Some(json!({"newSlotId": other})),
            }],
            &["appointment.rescheduled"],
        )
        .await?;
    out.push(("reschedule", u));
    let moved_id = id_of(&moved)?;

    // Cancelling the rescheduled one.
    let (u, _) = bench
        .measure(
            &[Call {
                method: "POST",
                path: format!("/appointments/{moved_id}/cancel"),
                token: Some(&p1),
                body: Some(json!({"reason": "plans changed"})),
            }],
            &["appointment.cancelled"],
        )
        .await?;
    out.push(("cancel", u));

    // A series of six weekly visits.
    let mut first = String::new();
    for week in 0..6 {
        let id = slot(
            &bench.stack,
            provider,
            at(3 * day + 7 * day * week + 127)?,
            1,
        )
        .await?;
        if week == 0 {
            first = id;
        }
    }
    let (u, _) = bench
        .measure(
            &[Call {
                method: "POST",
                path: "/appointments/recurring".into(),
                token: Some(&p2),
                body: Some(json!({"slotId": first, "frequency": "weekly", "count": 6})),
            }],
            &["appointment.created"; 6],
        )
        .await?;
    out.push(("series of 6", u));

    // The waitlist: a full slot, a patient waiting, the seat freed and offered, the offer accepted.
    let full_at = at(day + 187)?;
    let full = slot(&bench.stack, provider, full_at, 1).await?;
    let taken = id_of(&bench.send(&book(&full, &p1)).await?)?;
    let date = full_at.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let (u, entry) = bench
        .measure(
            &[Call {
                method: "POST",
                path: "/waitlist".into(),
                token: Some(&p3),
                body: Some(json!({"providerId": provider, "preferredDate": date})),
            }],
            &["waitlist.joined"],
        )
        .await?;
    out.push(("waitlist: join", u));
    let entry_id = id_of(&entry)?;
    let (u, _) = bench
        .measure(
            &[Call {
                method: "POST",
                path: format!("/appointments/{taken}/cancel"),
                token: Some(&p1),
                body: Some(json!({"reason": "cannot come"})),
            }],
            &["appointment.cancelled", "waitlist.offered"],
        )
        .await?;
    out.push(("waitlist: a cancel and its offer", u));
    let (u, _) = bench
        .measure(
            &[Call {
                method: "POST",
                path: format!("/waitlist/{entry_id}/accept"),
                token: Some(&p3),
                body: Some(json!({})),
            }],
            &["waitlist.accepted", "appointment.created"],
        )
        .await?;
    out.push(("waitlist: accept", u));

    // A reminder: the stack runs with reminders allowed a second ahead, so a visit 30 minutes and 20
    // seconds away has its 30-minute reminder fire 20 seconds after booking (long after the booking's
    // own work has settled); what the firing sets off is measured, the booking not.
    let soon = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_secs(30 * 60 + 20))?;
    let soon = slot(&bench.stack, provider, soon, 1).await?;
    bench.send(&book(&soon, &p2)).await?;
    let (u, _) = bench.measure(&[], &["appointment.reminder_due"]).await?;
    out.push(("a reminder", u));

    // The visit itself, on a slot of another provider starting within check-in's half hour.
    let (doctor, provider_token) = bench.user(&["provider"]).await;
    let now_slot = slot(&bench.stack, doctor, at(12)?, 1).await?;
    let visit = id_of(&bench.send(&book(&now_slot, &p1)).await?)?;
    for (action, token, event, name) in [
        ("check-in", &p1, "appointment.checked_in", "check-in"),
        ("start", &provider_token, "appointment.started", "start"),
        (
            "complete",
            &provider_token,
            "appointment.completed",
            "complete",
        ),
    ] {
        let (u, _) = bench
            .measure(
                &[Call {
                    method: "POST",
                    path: format!("/appointments/{visit}/{action}"),
                    token: Some(token),
                    body: Some(json!({})),
                }],
                &[event],
            )
            .await?;
        out.push((name, u));
    }

    // A calendar feed read by a calendar app, and a page of available slots.
    let feed = bench
        .send(&Call {
            method: "POST",
            path: "/calendar/feeds".into(),
            token: Some(&p1),
            body: None,
        })
        .await?;
    let url = feed["url"].as_str().ok_or("a feed without a url")?;
    let path = &url[url.find("/calendar/").ok_or("a feed URL")?..];
    let (u, _) = bench
        .measure(
            &[Call {
                method: "GET",
                path: path.to_owned(),
                token: None,
                body: None,
            }],
            &[],
        )
        .await?;
    out.push(("a feed read", u));
    let date = |t: jiff::Timestamp| t.to_zoned(jiff::tz::TimeZone::UTC).date();
    let (from, to) = (date(at(0)?), date(at(6 * day)?));
    let (u, _) = bench
        .measure(
            &[Call {
                method: "GET",
                path: format!(
                    "/slots/available?providerId={provider}&startDate={from}&endDate={to}"
                ),
                token: Some(&p2),
                body: None,
            }],
            &[],
        )
        .await?;
    out.push(("an available-slots page", u));
    Ok(out)
}

/// `POST /appointments` of `slot` as the patient `token` is.
fn book<'t>(slot: &str, token: &'t str) -> Call<'t> {
    Call {
        method: "POST",
        path: "/appointments".into(),
        token: Some(token),
        body: Some(json!({"slotId": slot})),
    }
}

fn id_of(answer: &Value) -> Result<String, Error> {
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("an answer without an id: {answer}").into())
}

/// A month of `bookings` bookings, each with the whole life the issue names: booked, two reminders,
/// checked in, started, completed, with every event.
pub fn life(ops: &[(&'static str, Usage)], bookings: f64) -> Result<Usage, Error> {
    let of = |name: &str| {
        ops.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| format!("no figures for {name}"))
    };
    let one = Usage::default()
        .plus(&of("book")?, 1.0)
        .plus(&of("a reminder")?, 2.0)
        .plus(&of("check-in")?, 1.0)
        .plus(&of("start")?, 1.0)
        .plus(&of("complete")?, 1.0);
    Ok(Usage::default().plus(&one, bookings))
}

/// The CloudWatch metrics (series) `lines` create: one per metric name and dimension values in each
/// of a line's dimension sets, as CloudWatch extracts EMF
/// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
pub fn series(lines: &[String]) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for line in lines {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for directive in v["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let names: Vec<&str> = directive["Metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["Name"].as_str())
                .collect();
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                let dims: Vec<String> = set
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str())
                    .map(|d| format!("{d}={}", v[d].as_str().unwrap_or_default()))
                    .collect();
                for name in &names {
                    seen.insert(format!("{name}|{}", dims.join(",")));
                }
            }
        }
    }
    seen.len()
}

/// The report `make bench-cost` prints: the operations' table, a million bookings' month and the
/// reference stack's month, in Markdown.
pub fn report(ops: &[(&'static str, Usage)], metric_series: usize) -> Result<String, Error> {
    use std::fmt::Write;
    let mut s = String::new();
    writeln!(s, "| operation | RRU | WRU | Lambda invocations | GB-s | events | SQS requests | schedules (made/deleted/fired) | log KB | $ per million (X-Ray aside) |")?;
    writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for (name, u) in ops {
        writeln!(
            s,
            "| {name} | {} | {} | {} | {:.4} | {} | {} | {}/{}/{} | {:.1} | {:.2} |",
            u.read_units,
            u.write_units,
            u.invocations,
            u.gb_seconds,
            u.events,
            u.sqs_requests,
            u.schedules_created,
            u.schedules_deleted,
            u.schedules_fired,
            u.log_bytes / 1024.0,
            u.total() * 1e6
        )?;
    }
    let month = life(ops, 1e6)?;
    let mut dollars = month.dollars();
    dollars.insert("X-Ray", traced(month.invocations) * price::XRAY_TRACE);
    writeln!(s)?;
    writeln!(
        s,
        "A million bookings, each booked, reminded twice, checked in, started and completed:"
    )?;
    writeln!(s)?;
    writeln!(s, "| service | $ a month |")?;
    writeln!(s, "|---|---:|")?;
    for (service, d) in &dollars {
        writeln!(s, "| {service} | {d:.2} |")?;
    }
    writeln!(
        s,
        "| **total** | **{:.2}** |",
        dollars.values().sum::<f64>()
    )?;
    writeln!(s)?;
    writeln!(
        s,
        "Whatever the traffic: the {metric_series} metric series this run's lines created cost ${:.2} a month (${} each).",
        metric_series as f64 * price::METRIC_MONTH,
        price::METRIC_MONTH
    )?;
    writeln!(s)?;
    writeln!(s, "The reference design's always-on stack, idle, a month:")?;
    writeln!(s)?;
    writeln!(s, "| component | size | $ a month |")?;
    writeln!(s, "|---|---|---:|")?;
    let reference = reference_stack();
    for (component, size, d) in &reference {
        writeln!(s, "| {component} | {size} | {d:.2} |")?;
    }
    writeln!(
        s,
        "| **total** | | **{:.2}** |",
        reference.iter().map(|(_, _, d)| d).sum::<f64>()
    )?;
    Ok(s)
}
