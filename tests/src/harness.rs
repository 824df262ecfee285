//! The emulator (one per test binary) and the stack (one per test): spawning a `TestApp`, its clock,
//! the faults it injects, and the stack's own functions (publish, the worker) for tests that play them.

use super::*;

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

    /// The store as the service's functions reach it (with the emulator's faults, when it injects them):
    /// for a test that plays the worker.
    pub fn service_store(&self) -> shared::store::Store {
        shared::store::Store::new(
            aws_sdk_dynamodb::Client::new(&self.stack.stack.sdk),
            self.table.clone(),
        )
    }

    /// The configuration of the stack's function that `which` picks, as its template environment gives
    /// it, and the SDK configuration it calls AWS with (its own key: the emulator holds it to the
    /// function's IAM, `local::iam`).
    fn function_config(
        &self,
        which: impl Fn(&local::template::Function) -> bool,
    ) -> (shared::config::Config, aws_config::SdkConfig) {
        let stack = &self.stack.stack;
        let function = stack
            .functions
            .iter()
            .find(|f| which(f))
            .expect("the template has that function");
        (
            stack.config_for(function).expect("its configuration"),
            stack.sdk_for(function),
        )
    }

    /// The worker as the stack's `WorkerFunction` is configured, on `store`: for a test that plays the
    /// worker.
    pub fn worker(&self, store: shared::store::Store) -> shared::jobs::Worker {
        let (config, sdk) = self.function_config(|f| f.binary == "worker");
        shared::jobs::Worker {
            store,
            metrics: shared::metrics::Metrics::to(&self.stack.stack.metrics),
            ..shared::jobs::Worker::from_config(&config, &sdk).expect("a worker")
        }
    }

    /// `deliver` as the stack's `DeliverFunction` is configured: for a test that plays it.
    pub fn deliverer(&self) -> shared::delivery::Deliverer {
        let (config, sdk) = self.function_config(|f| f.binary == "deliver");
        shared::delivery::Deliverer {
            metrics: shared::metrics::Metrics::to(&self.stack.stack.metrics),
            ..shared::delivery::Deliverer::from_config(&config, &sdk).expect("a deliverer")
        }
    }

    /// `write-slot-feed` as the stack's `WriteSlotFeedFunction` is configured: for a test that runs
    /// it instead of waiting for its schedule.
    pub fn feed_writer(&self) -> shared::feed::FeedWriter {
        let (config, sdk) = self.function_config(|f| f.binary == "write-slot-feed");
        shared::feed::FeedWriter::from_config(&config, &sdk).expect("a writer")
    }

    /// The publisher as the stack's stream function is configured: for a test that plays `publish`.
    pub fn publisher(&self) -> shared::stream::Publisher {
        let (config, sdk) = self.function_config(|f| f.stream.is_some());
        shared::stream::Publisher {
            metrics: shared::metrics::Metrics::to(&self.stack.stack.metrics),
            ..shared::stream::Publisher::from_config(&config, &sdk).expect("a publisher")
        }
    }

    /// `POST /_local/replay-parked`: the parked records replayed by the stream's function; its report.
    pub async fn replay_parked(&self) -> shared::stream::Replayed {
        let r = self
            .request("POST", "/_local/replay-parked", None, None, &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_value(r.body).expect("a replay report")
    }

    /// `GET /_local/metrics`: the figures of the EMF lines the stack's functions wrote so far.
    pub async fn metric_figures(&self) -> Vec<local::metrics::Figures> {
        let r = self
            .request("GET", "/_local/metrics", None, None, &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_value(r.body["data"].clone()).expect("the figures")
    }

    /// `GET /_local/audit`: the audit records the stack's functions wrote so far.
    pub async fn audit_records(&self) -> Vec<shared::audit::Record> {
        let r = self.request("GET", "/_local/audit", None, None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_value(r.body["data"].clone()).expect("the records")
    }

    /// `GET /_local/metrics/lines`: the EMF lines themselves.
    pub async fn metric_lines(&self) -> Vec<String> {
        let r = self
            .request("GET", "/_local/metrics/lines", None, None, &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_value(r.body["data"].clone()).expect("the lines")
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
}

/// A Lambda deadline `seconds` from now, for a test that plays a function.
pub fn deadline_in(seconds: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(seconds)
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

/// A store whose DynamoDB requests `RequestCounter` counts, on a stack of its own provisioned without
/// the stream and queue pollers (so no job of the stack's own runs beside the counted requests). Keep
/// the stack as long as the store is used.
pub async fn counted_store() -> (local::stack::Stack, shared::store::Store, RequestCounter) {
    let sdk = local::sdk_config(emulator_url());
    let template = local::template::Template::load(&local::template_path()).unwrap();
    let prefix = format!("c{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let stack = local::stack::Stack::provision(template, &prefix, sdk.clone())
        .await
        .unwrap();
    let table = stack.table_name().unwrap().clone();
    let counter = RequestCounter::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let store = shared::store::Store::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    (stack, store, counter)
}

/// Asserts the DynamoDB requests the handlers made since the last look, by operation.
#[track_caller]
pub fn counted(counter: &RequestCounter, want: &[(&str, u32)], what: &str) {
    let want: HashMap<String, u32> = want.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(counter.take(), want, "{what}");
}
