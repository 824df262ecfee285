//! The local stack (DESIGN.md section 9): the whole service on one machine with no AWS account and no
//! Docker. [`LocalStack::start`] provisions template.yaml in the emulator, serves its routes and runs
//! the stream and queue pollers; `make dev` runs it on 127.0.0.1:3000 and the tests on a free port.

pub mod client;
pub mod cors;
pub mod cost;
pub mod counter;
pub mod docs;
pub mod emulator;
pub mod filter;
pub mod iam;
pub mod measure;
pub mod metrics;
pub mod server;
pub mod sources;
pub mod stack;
pub mod template;
pub mod token;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use shared::domain::Clock;

pub use stack::Error;

/// The value of the environment variable `name` read as a `T`: `default` when it is unset, and an
/// error naming it and what it must be (`what`: "a port number", "a count") when it does not parse.
pub fn env_parsed<T: std::str::FromStr>(name: &str, default: T, what: &str) -> Result<T, Error> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}={v:?} is not {what}").into()),
    }
}

/// template.yaml of this workspace.
pub fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

/// The app name (in the SDK's user agent) whose requests the emulator never injects faults into: the
/// local stack's stand-ins for AWS itself, and the test harness's inspection and fixtures.
pub const EXEMPT_APP: &str = "emulator-exempt";

/// The app name of the local stack's stand-ins for AWS's own machinery (event source mappings,
/// Scheduler's firing, the bus tap): none of the service's faults, but the queue's own (a message
/// delivered twice or out of order) when the emulator is asked for them.
pub const INFRA_APP: &str = "emulator-infra";

/// SDK configuration for the emulator at `endpoint`: fixed region and dummy credentials.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(shared::lambda::sdk_retries())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local"),
        ))
        .build()
}

pub struct Options {
    pub prefix: String,
    pub sdk: SdkConfig,
    /// The DynamoDB client the HTTP handlers use (tests pass one that counts requests).
    pub api_db: Option<aws_sdk_dynamodb::Client>,
    pub clock: Clock,
    pub addr: SocketAddr,
    /// Template parameters to override, as `sam deploy --parameter-overrides` does; a name of the form
    /// `Resource.Property.Path` overrides that property instead (tests: `JobsQueue.VisibilityTimeout`,
    /// `PublishFunction.Events.Stream.Properties.MaximumRetryAttempts`).
    pub parameters: Vec<(String, String)>,
}

pub struct LocalStack {
    pub addr: SocketAddr,
    pub server: Arc<server::Server>,
    pub stack: Arc<stack::Stack>,
}

impl LocalStack {
    pub async fn start(options: Options) -> Result<LocalStack, Error> {
        let mut template = template::Template::load(&template_path())?;
        for (name, value) in &options.parameters {
            match name.split_once('.') {
                Some((resource, property)) => template.set_property(resource, property, value)?,
                None => template.set_parameter(name, value)?,
            }
        }
        let stack = Arc::new(
            stack::Stack::provision(template, &options.prefix, options.sdk.clone()).await?,
        );
        iam::enforce(&stack).await?;
        sources::start(&stack)?;
        let api_db = options
            .api_db
            .unwrap_or_else(|| aws_sdk_dynamodb::Client::new(&options.sdk));
        let server = Arc::new(server::Server::new(stack.clone(), api_db, options.clock)?);
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on {}: {e} (another `make dev`? set PORT to another port)",
                    options.addr
                )
            })?;
        let addr = listener.local_addr()?;
        tokio::spawn(server.clone().serve(listener));
        Ok(LocalStack {
            addr,
            server,
            stack,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Writes an open slot through the store, with a chosen id and time (even one already started, which
/// the API refuses): for fixtures, tests and benchmarks.
pub async fn put_slot(
    store: &shared::store::Store,
    id: &str,
    provider: &str,
    start: shared::domain::UtcTime,
    minutes: i64,
    seats: u32,
) -> Result<(), Error> {
    let now = shared::domain::UtcTime::from_timestamp(jiff::Timestamp::now());
    let interval =
        shared::domain::Interval::new(start, start.plus(jiff::SignedDuration::from_mins(minutes)))?;
    let slot = shared::domain::Slot::open(id.parse()?, provider.parse()?, interval, seats, now);
    store.create_slot(&slot, &Default::default(), now).await?;
    Ok(())
}

/// The slot and provider that events/create-appointment.json names.
pub const FIXTURE_SLOT: &str = "0f1e2d3c-4b5a-4968-8776-655443322110";
pub const FIXTURE_PROVIDER: &str = "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01";

/// The location events/create-slot.json names (and events/get-location.json, which reads it).
pub const FIXTURE_LOCATION: &str = "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d";
/// A room of that location, which the fixture slot holds (events/resource-schedule.json shows it).
pub const FIXTURE_RESOURCE: &str = "3b4c5d6e-7f80-4a91-b2c3-d4e5f6a7b8c9";

/// The patient the HTTP fixtures sign in as (their JWT claims' `sub`).
pub const FIXTURE_PATIENT: &str = "9b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4";
/// The appointment events/get-appointment.json (and the other appointment fixtures) name.
pub const FIXTURE_APPOINTMENT: &str = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";
/// The slot of that appointment: 2031-03-04 17:00 UTC, its one seat taken.
pub const FIXTURE_BOOKED_SLOT: &str = "1f2e3d4c-5b6a-4978-8877-665544332211";

/// The stack `make dev` and `make emulator` provision: its resources' names start with it, and each
/// function signs as `iam::key(LOCAL_STACK, f)` (`sam local`: `AWS_ACCESS_KEY_ID=local-<LogicalId>`).
pub const LOCAL_STACK: &str = "local";

/// The emulator's port for `make emulator` and `make invoke` when EMULATOR_PORT names none: fixed,
/// so that `local/env.json` names the same endpoint from one run to the next.
pub const EMULATOR_PORT: u16 = 4010;

/// What the events/ fixtures reference, for invoking functions one at a time (`make emulator`):
/// [`seed_fixture_slot`]'s location, room and slot, and the fixture patient's appointment
/// ([`FIXTURE_APPOINTMENT`], video, in a slot of its own), so that events/get-appointment.json reads
/// a real appointment. The appointment is put as the one item the fixtures read (its slot counts the
/// seat; the patient's guard does not name it: a fixture, never raced for).
pub async fn seed_fixtures(stack: &stack::Stack, sdk: &SdkConfig) -> Result<(), Error> {
    seed_fixture_slot(stack, sdk).await?;
    let table = stack.table_name().ok_or("no table")?.clone();
    let db = aws_sdk_dynamodb::Client::new(sdk);
    let store = shared::store::Store::new(db.clone(), table.clone());
    let now = shared::domain::UtcTime::from_timestamp(jiff::Timestamp::now());
    let mut slot = fixture_slot(FIXTURE_BOOKED_SLOT, "2031-03-04T17:00:00Z", now)?;
    slot.current_bookings = 1;
    store.create_slot(&slot, &Default::default(), now).await?;
    let rules = store.rules_of(None);
    let mut appointment = shared::domain::Appointment::in_slot(
        &slot,
        FIXTURE_PATIENT.parse()?,
        shared::domain::ConsultationType::Video,
        None,
        &rules,
        now,
    );
    appointment.id = FIXTURE_APPOINTMENT.parse()?;
    db.put_item()
        .table_name(&table)
        .set_item(Some(shared::store::items::item(&appointment)?))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await?;
    Ok(())
}

/// A one-seat 30-minute slot of the fixture provider, open from `start`.
fn fixture_slot(
    id: &str,
    start: &str,
    now: shared::domain::UtcTime,
) -> Result<shared::domain::Slot, Error> {
    let start: shared::domain::UtcTime = start.parse()?;
    let interval =
        shared::domain::Interval::new(start, start.plus(jiff::SignedDuration::from_mins(30)))?;
    Ok(shared::domain::Slot::open(
        id.parse()?,
        FIXTURE_PROVIDER.parse()?,
        interval,
        1,
        now,
    ))
}

/// Writes `local/env.json` (into `dir`) for `sam local invoke --env-vars` and `sam local start-api
/// --env-vars`: every function of the stack with its resolved environment and `AWS_ENDPOINT_URL` set
/// to the emulator as a container reaches it, `http://host.docker.internal:<port>` unless
/// CONTAINER_EMULATOR_URL names another (on Linux, Docker reaches the host there only with
/// `--add-host host.docker.internal:host-gateway`, which `sam local` takes as `--add-host`).
/// The path written.
pub fn write_env_json(
    stack: &stack::Stack,
    dir: &std::path::Path,
    emulator_port: u16,
) -> Result<PathBuf, Error> {
    let endpoint = std::env::var("CONTAINER_EMULATOR_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| format!("http://host.docker.internal:{emulator_port}"));
    let path = dir.join("env.json");
    let text = serde_json::to_string_pretty(&stack.sam_env_vars(&endpoint)?)?;
    std::fs::write(&path, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// `local/`, where `local/env.json` is written.
pub fn local_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Puts the fixture's slot (2031-03-04 16:00 UTC), so that the booking fixture is a real booking, and
/// the fixtures' location, so that the slot fixture names an active one.
pub async fn seed_fixture_slot(stack: &stack::Stack, sdk: &SdkConfig) -> Result<(), Error> {
    let table = stack.table_name().ok_or("no table")?.clone();
    let store = shared::store::Store::new(aws_sdk_dynamodb::Client::new(sdk), table);
    let now = shared::domain::UtcTime::from_timestamp(jiff::Timestamp::now());
    store
        .put_location(&shared::domain::location::Location {
            id: FIXTURE_LOCATION.parse()?,
            name: "Main Street Clinic".into(),
            address: Some(shared::domain::location::Address {
                lines: vec!["1 Main St".into()],
                city: "New York".into(),
                region: Some("NY".into()),
                postal_code: Some("10001".into()),
                country: "US".into(),
            }),
            time_zone: "America/New_York".into(),
            telecom: vec![],
            active: true,
            is_virtual: false,
            created_at: now,
            updated_at: now,
            version: 1,
        })
        .await?;
    let room = shared::domain::resource::Resource {
        id: FIXTURE_RESOURCE.parse()?,
        location_id: FIXTURE_LOCATION.parse()?,
        name: "Exam 2B".into(),
        kind: shared::domain::resource::ResourceKind::Room,
        capacity: 1,
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store.put_resource(&room).await?;
    let mut slot = fixture_slot(FIXTURE_SLOT, "2031-03-04T16:00:00Z", now)?;
    slot.location_id = Some(FIXTURE_LOCATION.into());
    slot.resources = vec![room.shown()];
    let capacity = std::collections::HashMap::from([(room.id, room.capacity)]);
    store.create_slot(&slot, &capacity, now).await?;
    Ok(())
}
