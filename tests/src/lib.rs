//! The test harness: one emulator per test binary, one whole local stack (its own table, queues and
//! bus) per test, served over real HTTP, and a `TestApp` with one helper per endpoint so that tests read
//! as stories. DynamoDB requests made by the HTTP handlers are counted by an SDK interceptor.

pub mod api;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use local::emulator::{Emulator, Faults};
use local::{LocalStack, Options};
use serde_json::{json, Value};
use shared::domain::Clock;
use uuid::Uuid;

pub use local::counter::RequestCounter;

static EMULATOR: OnceLock<Emulator> = OnceLock::new();
static FAULTY_EMULATOR: OnceLock<Emulator> = OnceLock::new();

/// What the faulty emulator injects unless `EMULATOR_FAULTS` says otherwise: the mix of DESIGN.md
/// section 9, at rates far above what AWS shows, so that every retry path runs in every run.
/// Beside the service's faults, the queue's own (a message delivered twice, or after later ones) and
/// Scheduler's failing calls, so that every job is shown to be safe twice and in any order.
pub const TEST_FAULTS: &str =
    "transaction_conflict=0.3,write_conflict=0.1,throttling=0.05,put_events=0.2,send_message=0.05,\
     sqs_duplicate=0.1,sqs_reorder=0.1,scheduler_errors=0.05";

/// The emulator of this test binary, started on first use with the faults of the environment
/// (`EMULATOR_FAULTS`, normally unset: none); it exits with the binary.
pub fn emulator_url() -> &'static str {
    &EMULATOR
        .get_or_init(|| Emulator::start(0).expect("the emulator starts (run `make venv`)"))
        .url
}

/// A second emulator of this test binary that injects faults: `EMULATOR_FAULTS` if set, else
/// [`TEST_FAULTS`]; seeded by `EMULATOR_SEED` if set, else by the clock. The seed is printed, so a
/// failing run can be repeated with `EMULATOR_SEED=<seed>`.
pub fn faulty_emulator_url() -> &'static str {
    &FAULTY_EMULATOR
        .get_or_init(|| {
            let mut faults = Faults::from_env();
            if faults.spec.is_empty() {
                faults.spec = TEST_FAULTS.to_owned();
            }
            let seed = faults.seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64 % 1_000_000)
                    .unwrap_or_default()
            });
            faults.seed = Some(seed);
            eprintln!(
                "faulty emulator: EMULATOR_FAULTS={} EMULATOR_SEED={seed}",
                faults.spec
            );
            Emulator::start_with(0, &faults).expect("the emulator starts (run `make venv`)")
        })
        .url
}

/// Which emulator a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aws {
    /// Limits enforced, no faults injected (unless `EMULATOR_FAULTS` is set for the whole run).
    Faithful,
    /// Limits enforced and faults injected.
    Faulty,
}

impl Aws {
    /// The faults this emulator injects when a test adds none (`POST /_emulator/faults` replaces them).
    fn base_faults(self) -> String {
        match self {
            Aws::Faithful => std::env::var("EMULATOR_FAULTS").unwrap_or_default(),
            Aws::Faulty => std::env::var("EMULATOR_FAULTS")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| TEST_FAULTS.to_owned()),
        }
    }

    fn url(self) -> &'static str {
        match self {
            Aws::Faithful => emulator_url(),
            Aws::Faulty => faulty_emulator_url(),
        }
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.body))
            .to_owned()
    }

    pub fn is_problem(&self) -> bool {
        self.headers
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json")
    }
}

/// Asserts a success status, showing the body when it is not.
pub fn ok(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", r.body);
}

/// Asserts a problem+json answer with this status and code.
pub fn problem(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
    assert!(r.is_problem(), "content-type of {}", r.body);
    assert_eq!(r.body["status"], status);
}

/// A person with a token: a patient, a provider, staff or an admin.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Uuid,
    pub token: String,
}

pub struct TestApp {
    pub stack: LocalStack,
    pub url: String,
    pub http: Client<HttpConnector, Full<Bytes>>,
    pub db: aws_sdk_dynamodb::Client,
    pub table: String,
    pub counter: RequestCounter,
    /// The handlers' clock; a manual one can be moved with [`TestApp::travel_to`].
    pub clock: Clock,
    pub aws: Aws,
    /// SDK configuration for the test's own requests, which get no injected faults.
    pub inspector: aws_config::SdkConfig,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Clock::System).await
    }

    /// An app whose handlers think it is `now`, until [`TestApp::travel_to`] moves them.
    pub async fn spawn_at(now: &str) -> TestApp {
        Self::spawn_with(Clock::manual(now.parse().expect("an RFC 3339 time"))).await
    }

    pub fn travel_to(&self, t: &str) {
        self.clock.set(t.parse().expect("an RFC 3339 time"));
    }

    /// An app on the emulator that injects faults.
    pub async fn spawn_faulty() -> TestApp {
        Self::spawn_on(Aws::Faulty, Clock::System).await
    }

    pub async fn spawn_with(clock: Clock) -> TestApp {
        Self::spawn_on(Aws::Faithful, clock).await
    }

    pub async fn spawn_on(aws: Aws, clock: Clock) -> TestApp {
        Self::spawn_configured(aws, clock, &[]).await
    }

    /// An app deployed with `parameters` overriding template.yaml's defaults.
    pub async fn spawn_configured(aws: Aws, clock: Clock, parameters: &[(&str, &str)]) -> TestApp {
        let sdk = local::sdk_config(aws.url());
        // The test's own reads and fixtures are not the service under test: no faults for them.
        let inspector = sdk
            .to_builder()
            .app_name(aws_config::AppName::new(local::EXEMPT_APP).expect("a valid app name"))
            .build();
        let counter = RequestCounter::default();
        let counted = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build();
        let prefix = format!("t{}", &Uuid::new_v4().simple().to_string()[..12]);
        let stack = LocalStack::start(Options {
            prefix,
            sdk: sdk.clone(),
            api_db: Some(aws_sdk_dynamodb::Client::from_conf(counted)),
            clock: clock.clone(),
            addr: ([127, 0, 0, 1], 0).into(),
            parameters: parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
        .await
        .expect("the local stack starts");
        let table = stack.stack.table_name().expect("a table").clone();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(64)
            .build(connector);
        counter.take();
        TestApp {
            url: stack.url(),
            stack,
            http,
            db: aws_sdk_dynamodb::Client::new(&inspector),
            table,
            counter,
            clock,
            aws,
            inspector,
        }
    }

    pub fn store(&self) -> shared::store::Store {
        shared::store::Store::new(self.db.clone(), self.table.clone())
    }

    /// The configuration of the stack's function that `which` picks, as its template environment gives it.
    fn function_config(
        &self,
        which: impl Fn(&local::template::Function) -> bool,
    ) -> shared::config::Config {
        let stack = &self.stack.stack;
        let function = stack
            .functions
            .iter()
            .find(|f| which(f))
            .expect("the template has that function");
        stack.config_for(function).expect("its configuration")
    }

    /// The worker as the stack's `WorkerFunction` is configured, on `store`: for a test that plays the
    /// worker.
    pub fn worker(&self, store: shared::store::Store) -> shared::jobs::Worker {
        let config = self.function_config(|f| f.queue.is_some());
        shared::jobs::Worker {
            store,
            ..shared::jobs::Worker::from_config(&config, &self.stack.stack.sdk).expect("a worker")
        }
    }

    /// Makes this test binary's emulator inject `extra` on top of its usual faults, until the next
    /// call (`""`: the usual ones again). The emulator is shared by the binary's tests: a test that
    /// calls this holds [`TestApp::faults_lock`] for as long as it relies on them.
    pub async fn set_faults(&self, extra: &str) {
        let spec = [self.aws.base_faults(), extra.to_owned()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let req = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}/_emulator/faults", self.aws.url()))
            .body(Full::new(Bytes::from(spec)))
            .unwrap();
        let answer = self.http.request(req).await.expect("the emulator answers");
        assert_eq!(answer.status(), 200, "the emulator takes the faults");
    }

    /// One test at a time may change the emulator's faults.
    pub async fn faults_lock() -> tokio::sync::MutexGuard<'static, ()> {
        static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        LOCK.lock().await
    }

    /// The URL of one of the stack's queues, by its logical id in template.yaml.
    pub fn queue_url(&self, logical_id: &str) -> String {
        self.stack
            .stack
            .reference(logical_id, None)
            .cloned()
            .unwrap_or_else(|| panic!("no queue {logical_id}"))
    }

    /// The messages of one of the stack's queues (by logical id), received without being taken: they
    /// stay on the queue, visible at once.
    pub async fn peek_queue(&self, logical_id: &str) -> Vec<Value> {
        let url = self.queue_url(logical_id);
        let out = aws_sdk_sqs::Client::new(&self.inspector)
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("the queue answers");
        out.messages
            .unwrap_or_default()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null))
            .collect()
    }

    /// Messages on one of the stack's queues, visible or in flight (SQS's approximate counts, exact
    /// in the emulator).
    pub async fn queue_depth(&self, logical_id: &str) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let url = self.queue_url(logical_id);
        let attributes = aws_sdk_sqs::Client::new(&self.inspector)
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("the queue answers")
            .attributes
            .unwrap_or_default();
        attributes
            .values()
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }

    /// Waits until one of the stack's queues holds a message for which `wanted` holds (without taking
    /// it), or fails after 20 s; that message.
    pub async fn message_on(&self, logical_id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            if let Some(m) = self.peek_queue(logical_id).await.into_iter().find(&wanted) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no such message on {logical_id}: {:#?}",
            self.peek_queue(logical_id).await
        );
    }

    /// `POST /_local/replay-parked`: the parked records replayed by the stream's function; its report.
    pub async fn replay_parked(&self) -> shared::stream::Replayed {
        let r = self
            .request("POST", "/_local/replay-parked", None, None, &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_value(r.body).expect("a replay report")
    }

    /// The publisher as the stack's stream function is configured: for a test that plays `publish`.
    pub fn publisher(&self) -> shared::stream::Publisher {
        let config = self.function_config(|f| f.stream.is_some());
        shared::stream::Publisher::from_config(&config, &self.stack.stack.sdk).expect("a publisher")
    }

    /// The events on the bus so far about one appointment (`detail.appointmentId`).
    pub async fn events_about(&self, appointment: &str) -> Vec<Value> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e["detail"]["appointmentId"] == appointment)
            .collect()
    }

    /// A one-seat slot of `provider` `hours` ahead, booked and then cancelled by one patient while
    /// another waited for that day: the waiting entry once it holds the offer of the freed seat, and the
    /// slot's id.
    pub async fn a_held_offer(
        &self,
        provider: &Actor,
        hours: i64,
    ) -> (shared::domain::waitlist::Entry, String) {
        let slot = self.slot(provider, hours, 1).await;
        let first = self.patient().await;
        let booked = self.book(&first, &slot).await;
        ok(&booked, 201);
        let start = self.stored_slot(&slot).await.start_time;
        let date = start.timestamp().to_zoned(jiff::tz::TimeZone::UTC).date();
        let waiting = self.patient().await;
        let entry = self
            .wait_for_seat(&waiting, provider, &date.to_string())
            .await;
        ok(&self.cancel(&first, &booked.id(), "moved away").await, 200);
        let offered = self
            .entry_when(&entry.id.to_string(), |e| {
                e.status == shared::domain::waitlist::EntryStatus::Offered
            })
            .await;
        (offered, slot)
    }

    /// The stack's schedule group.
    pub fn schedule_group(&self) -> String {
        self.stack
            .stack
            .reference("ScheduleGroup", None)
            .expect("the template has a schedule group")
            .clone()
    }

    /// When the schedule `name` fires (its `at()`), once it exists; `None` when it is not seen within
    /// 2 s (never made, or made and fired already).
    pub async fn schedule_fires_at(&self, name: &str) -> Option<jiff::Timestamp> {
        let scheduler = aws_sdk_scheduler::Client::new(&self.inspector);
        for _ in 0..100 {
            if let Ok(s) = scheduler
                .get_schedule()
                .group_name(self.schedule_group())
                .name(name)
                .send()
                .await
            {
                return s
                    .schedule_expression()
                    .and_then(|e| e.strip_prefix("at(")?.strip_suffix(')'))
                    .and_then(|t| t.parse::<jiff::civil::DateTime>().ok())
                    .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Deletes the schedule `name`, as if it were lost; whether it was there to delete.
    pub async fn lose_schedule(&self, name: &str) -> bool {
        aws_sdk_scheduler::Client::new(&self.inspector)
            .delete_schedule()
            .group_name(self.schedule_group())
            .name(name)
            .send()
            .await
            .is_ok()
    }

    /// The store as the service's functions reach it (with the emulator's faults, when it injects them):
    /// for a test that plays the worker.
    pub fn service_store(&self) -> shared::store::Store {
        shared::store::Store::new(
            aws_sdk_dynamodb::Client::new(&self.stack.stack.sdk),
            self.table.clone(),
        )
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = self
            .http
            .request(req)
            .await
            .expect("the local stack answers");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request("POST", path, Some(token), Some(body.to_string()), &[])
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request("GET", path, Some(token), None, &[]).await
    }

    pub async fn actor(&self, roles: &[&str]) -> Actor {
        let id = Uuid::new_v4();
        let r = self
            .request(
                "POST",
                "/_local/token",
                None,
                Some(json!({"sub": id, "roles": roles}).to_string()),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        Actor {
            id,
            token: r.body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// `n` new patients.
    pub async fn patients(&self, n: usize) -> Vec<Actor> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.patient().await);
        }
        out
    }

    pub async fn patient(&self) -> Actor {
        self.actor(&["patient"]).await
    }

    pub async fn provider(&self) -> Actor {
        self.actor(&["provider"]).await
    }

    pub async fn staff(&self) -> Actor {
        self.actor(&["staff"]).await
    }

    pub async fn admin(&self) -> Actor {
        self.actor(&["admin"]).await
    }

    /// `POST /slots` for `provider`, starting `hours` from now, lasting `minutes`.
    pub async fn create_slot(
        &self,
        provider: &Actor,
        hours: i64,
        minutes: i64,
        seats: u32,
    ) -> Reply {
        let start = whole_minutes_from_now(hours * 60);
        let end = start.plus(jiff::SignedDuration::from_mins(minutes));
        self.post("/slots", &provider.token, json!({"providerId": provider.id, "startTime": start, "endTime": end, "maxBookings": seats})).await
    }

    /// A slot that must be created (`NewSlot::at(start)`, with `.minutes(..)` and `.seats(..)`); its id.
    pub async fn slot_at(&self, provider: &Actor, slot: api::NewSlot<'_>) -> String {
        self.create_slot_at(provider, slot)
            .await
            .unwrap_or_else(|p| panic!("the slot is not created: {p:?}"))
            .id
            .to_string()
    }

    /// `POST /appointments/{id}/<action>` with an optional body.
    pub async fn act(&self, who: &Actor, id: &str, action: &str, body: Option<Value>) -> Reply {
        let path = format!("/appointments/{id}/{action}");
        self.request(
            "POST",
            &path,
            Some(&who.token),
            body.map(|b| b.to_string()),
            &[],
        )
        .await
    }

    pub async fn patch(&self, who: &Actor, id: &str, body: Value) -> Reply {
        self.request(
            "PATCH",
            &format!("/appointments/{id}"),
            Some(&who.token),
            Some(body.to_string()),
            &[],
        )
        .await
    }

    /// `POST /slots/bulk` of 30-minute slots from `start` to `end` local time every day of
    /// `from`..=`to` in `zone`, which must succeed; its answer.
    pub async fn daily_slots(
        &self,
        provider: &Actor,
        zone: &str,
        (from, to): (&str, &str),
        (start, end): (&str, &str),
    ) -> Value {
        let made = self
            .post(
                "/slots/bulk",
                &provider.token,
                bulk_body(provider, zone, from, to, every_day(start, end)),
            )
            .await;
        ok(&made, 201);
        made.body
    }

    /// A slot that must exist for the test to go on; its id.
    pub async fn slot(&self, provider: &Actor, hours: i64, seats: u32) -> String {
        let r = self.create_slot(provider, hours, 30, seats).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.id()
    }

    pub async fn book(&self, patient: &Actor, slot: &str) -> Reply {
        self.post("/appointments", &patient.token, json!({"slotId": slot}))
            .await
    }

    pub async fn book_with_key(&self, patient: &Actor, slot: &str, key: &str) -> Reply {
        let body = json!({"slotId": slot}).to_string();
        self.request(
            "POST",
            "/appointments",
            Some(&patient.token),
            Some(body),
            &[("idempotency-key", key)],
        )
        .await
    }

    pub async fn get_appointment(&self, who: &Actor, id: &str) -> Reply {
        self.get(&format!("/appointments/{id}"), &who.token).await
    }

    pub async fn cancel(&self, who: &Actor, id: &str, reason: &str) -> Reply {
        self.post(
            &format!("/appointments/{id}/cancel"),
            &who.token,
            json!({"reason": reason}),
        )
        .await
    }

    /// Writes a slot through the store, as the API would not: with a chosen id, or already started.
    pub async fn put_slot(
        &self,
        id: &str,
        provider: Uuid,
        start: shared::domain::UtcTime,
        minutes: i64,
        seats: u32,
    ) {
        local::put_slot(
            &self.store(),
            id,
            &provider.to_string(),
            start,
            minutes,
            seats,
        )
        .await
        .unwrap();
    }

    /// Sets one string attribute of a stored appointment, as endpoints of later issues will.
    pub async fn set_appointment_field(&self, id: &str, field: &str, value: &str) {
        self.set_appointment_attribute(
            id,
            field,
            aws_sdk_dynamodb::types::AttributeValue::S(value.into()),
        )
        .await
    }

    /// Sets one attribute of a stored appointment (a fee, a payment) as billing will.
    pub async fn set_appointment_attribute(
        &self,
        id: &str,
        field: &str,
        value: aws_sdk_dynamodb::types::AttributeValue,
    ) {
        let key = shared::store::keys::appointment(id.parse().expect("an appointment id"));
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(shared::store::key_item(&key)))
            .update_expression("SET #f = :v")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":v", value)
            .send()
            .await
            .unwrap();
    }

    /// The slot as stored.
    pub async fn stored_slot(&self, id: &str) -> shared::domain::Slot {
        self.store()
            .slot(id.parse().unwrap())
            .await
            .unwrap()
            .expect("slot exists")
    }

    /// Every item in the table (tests' tables are small).
    pub async fn items(&self) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut out = vec![];
        let mut start = None;
        loop {
            let page = self
                .db
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    }

    /// Appointments stored for `slot`.
    pub async fn appointments_of_slot(&self, slot: &str) -> usize {
        self.items()
            .await
            .iter()
            .filter(|i| {
                i.get("SK")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == "APPT")
            })
            .filter(|i| {
                i.get("slotId")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == slot)
            })
            .count()
    }

    /// The events on the bus so far (through `GET /_local/events`), each once: delivery is at least
    /// once, and a consumer knows a redelivered event by its `eventId`.
    pub async fn events(&self) -> Vec<Value> {
        let r = self.request("GET", "/_local/events", None, None, &[]).await;
        let mut seen = std::collections::HashSet::new();
        r.body["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| seen.insert(e["detail"]["eventId"].to_string()))
            .collect()
    }

    /// Messages that arrived on one of the stack's queues (by logical id in template.yaml), read and
    /// deleted; waits up to 20 s for at least one.
    pub async fn drain_queue(&self, logical_id: &str) -> Vec<Value> {
        let url = self.queue_url(logical_id);
        let sqs = aws_sdk_sqs::Client::new(&self.inspector);
        for _ in 0..200 {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("the queue answers");
            let messages = out.messages.unwrap_or_default();
            if !messages.is_empty() {
                let mut bodies = vec![];
                for m in messages {
                    bodies.push(
                        serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null),
                    );
                    sqs.delete_message()
                        .queue_url(&url)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("deleted");
                }
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        vec![]
    }

    /// Waits until the events about `appointment` are exactly `kinds` (detail-types, in any order: the
    /// bus keeps none), then a moment more to see that nothing else follows; fails as soon as one
    /// arrives that is not expected, or after 20 s. Returns every event on the bus.
    pub async fn wait_for_kinds(&self, appointment: &str, kinds: &[&str]) -> Vec<Value> {
        self.wait_for_kinds_of("appointmentId", appointment, kinds)
            .await
    }

    /// [`TestApp::wait_for_kinds`] for the events whose `detail.<field>` is `id` (a waitlist entry's
    /// events by `entryId`).
    pub async fn wait_for_kinds_of(&self, field: &str, id: &str, kinds: &[&str]) -> Vec<Value> {
        let appointment = id;
        let mut expected: Vec<&str> = kinds.to_vec();
        expected.sort_unstable();
        let arrived = |events: &[Value]| -> Vec<String> {
            let mut k: Vec<String> = events
                .iter()
                .filter(|e| e["detail"][field] == appointment)
                .map(|e| e["detail-type"].as_str().unwrap_or_default().to_owned())
                .collect();
            k.sort_unstable();
            k
        };
        let mut settled = false;
        for _ in 0..200 {
            let events = self.events().await;
            let got = arrived(&events);
            let mut rest = expected.clone();
            for k in &got {
                match rest.iter().position(|e| e == k) {
                    Some(i) => {
                        rest.remove(i);
                    }
                    None => {
                        panic!("unexpected {k} for {appointment}: {got:?}, expected {expected:?}")
                    }
                }
            }
            if rest.is_empty() {
                if settled {
                    return events;
                }
                settled = true;
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = arrived(&self.events().await);
        panic!("events for {appointment} did not arrive: {got:?}, expected {expected:?}");
    }

    /// The stored waitlist entry once `done` holds for it, or a failure after 20 s.
    pub async fn entry_when(
        &self,
        id: &str,
        done: impl Fn(&shared::domain::waitlist::Entry) -> bool,
    ) -> shared::domain::waitlist::Entry {
        let id: shared::domain::EntryId = id.parse().expect("an entry id");
        let store = self.store();
        let mut last = None;
        for _ in 0..200 {
            let entry = store.waitlist_entry(id).await.expect("the entry is read");
            if let Some(e) = entry.as_ref().filter(|e| done(e)) {
                return e.clone();
            }
            last = entry;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the entry did not get there: {last:#?}");
    }

    /// The names of the EventBridge Scheduler schedules the service made in the stack's group (not the
    /// template's own, such as the sweeper's rate schedule).
    pub async fn schedules(&self) -> Vec<String> {
        let stack = &self.stack.stack;
        let group = self.schedule_group();
        let own: Vec<&String> = stack
            .template
            .of_kind("AWS::Scheduler::Schedule")
            .filter_map(|(id, _)| stack.reference(id, None))
            .collect();
        aws_sdk_scheduler::Client::new(&self.inspector)
            .list_schedules()
            .group_name(group)
            .send()
            .await
            .expect("the schedules are listed")
            .schedules
            .into_iter()
            .filter_map(|s| s.name)
            .filter(|name| !own.contains(&name))
            .collect()
    }

    /// Waits until `done` holds for the events on the bus, or fails after 20 s.
    pub async fn wait_for_events(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..200 {
            let events = self.events().await;
            if done(&events) {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("events did not arrive: {:#?}", self.events().await);
    }
}

/// A Lambda deadline `seconds` from now, for a test that plays a function.
pub fn deadline_in(seconds: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(seconds)
}

/// Working hours of one morning session, every day of the week.
pub fn every_day(start: &str, end: &str) -> Value {
    let day = json!({"morning": {"start": start, "end": end}});
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day})
}

/// A `POST /slots/bulk` body of 30-minute slots.
pub fn bulk_body(provider: &Actor, tz: &str, from: &str, to: &str, hours: Value) -> Value {
    json!({"providerId": provider.id, "timeZone": tz, "startDate": from, "endDate": to, "workingHours": hours, "slotDuration": 30})
}

/// Now plus `minutes`, on a whole minute.
pub fn whole_minutes_from_now(minutes: i64) -> shared::domain::UtcTime {
    let now = jiff::Timestamp::now().as_second();
    let t = (now / 60 + 1 + minutes) * 60;
    shared::domain::UtcTime::from_timestamp(jiff::Timestamp::from_second(t).unwrap())
}

/// Runs `tests/python/<script>` with the venv's Python, `input` on its stdin; its stdout, or a failure
/// with its stderr (the checks of formats by real parsers from PyPI, pinned in local/requirements.txt).
pub fn python_check(script: &str, input: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(local::emulator::python())
        .arg(format!("{}/python/{script}", env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    child
        .stdin
        .take()
        .expect("a stdin")
        .write_all(input.as_bytes())
        .expect("the input is written");
    let out = child.wait_with_output().expect("the check ends");
    assert!(
        out.status.success(),
        "{script}: {}\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Each of `patients` books `slot`, all at once; the replies in their order.
pub async fn book_at_once(app: &Arc<TestApp>, patients: &[Actor], slot: &str) -> Vec<Reply> {
    join_all(
        patients
            .iter()
            .cloned()
            .map(|p| {
                let (app, slot) = (app.clone(), slot.to_owned());
                async move { app.book(&p, &slot).await }
            })
            .collect(),
    )
    .await
}

/// Runs all futures at once, each on its own task, and returns their outputs in order.
pub async fn join_all<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task completes"));
    }
    out
}

/// Asserts that a reply is one of `allowed` (status, code; code "" for a success), or, when the
/// emulator injects faults, the one 5xx the service may give: 503 `contended` with `Retry-After`.
/// Returns whether it was that 503.
pub fn settled(r: &Reply, allowed: &[(u16, &str)], aws: Aws) -> bool {
    if r.status == 503 && aws == Aws::Faulty {
        problem(r, 503, "contended");
        assert!(r.headers.contains_key("retry-after"), "{}", r.body);
        return true;
    }
    let code = if r.status < 300 { "" } else { r.code() };
    assert!(
        allowed.contains(&(r.status, code)),
        "{} {} is not one of {allowed:?}",
        r.status,
        r.body
    );
    false
}

/// Writes the same scenario as two tests: against the faithful emulator and the faulty one.
#[macro_export]
macro_rules! both_ways {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn without_faults() {
                super::$scenario($crate::Aws::Faithful).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn with_faults() {
                super::$scenario($crate::Aws::Faulty).await
            }
        }
    )*};
}
