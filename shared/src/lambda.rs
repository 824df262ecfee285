//! The runtime glue every `main` shares: read config, build the AWS clients once per cold start, and
//! hand each invocation to the shared handler. No network call happens before the first request.

use lambda_runtime::{service_fn, LambdaEvent};

use crate::api::{self, Ctx};
use crate::config::Config;
use crate::jobs::Worker;
use crate::stream::Publisher;

pub type Error = lambda_runtime::Error;

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(sdk_retries())
        .load()
        .await
}

/// The SDK's own retries: few and quick, because [`crate::retry`] retries what is transient
/// within the request's budget. The SDK's default first pause is up to a second, a tenth of a
/// function's timeout.
pub fn sdk_retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(2)
        .with_initial_backoff(std::time::Duration::from_millis(20))
}

fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Logging for the local stack: the same subscriber the functions use in Lambda.
pub fn init_local_logging() {
    init();
}

/// Runs one HTTP function: `(its name in template.yaml, its endpoint)`, a constant of [`crate::api`].
pub async fn http(function: (&'static str, api::Endpoint)) -> Result<(), Error> {
    init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let audit_reader = crate::audit::AuditReader::from_config(&config, &sdk);
    let slot_feed = crate::feed::FeedReader::from_config(&config, &sdk);
    let mut ctx = Ctx::new(aws_sdk_dynamodb::Client::new(&sdk), config)?;
    ctx.audit_reader = audit_reader;
    ctx.slot_feed = slot_feed;
    let ctx: &'static Ctx = Box::leak(Box::new(ctx));
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(api::serve(function, ctx, req).await)
    }))
    .await
}

/// Runs `publish` on the table's stream.
pub async fn publish() -> Result<(), Error> {
    init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let publisher: &'static Publisher = Box::leak(Box::new(Publisher::from_config(&config, &sdk)?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = deadline(&event.context);
            publisher
                .invoke(event.payload, deadline)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}

/// The invocation's deadline (`Lambda-Runtime-Deadline-Ms`) as an instant.
fn deadline(context: &lambda_runtime::Context) -> tokio::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    tokio::time::Instant::now() + time_left(context.deadline, now_ms)
}

/// The time an invocation has left by its `Lambda-Runtime-Deadline-Ms`, which Lambda gives as the
/// Unix time in milliseconds when the function times out
/// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-next). A value no
/// epoch time of this century can be (below 10^12 ms, September 2001) is the time left itself, as
/// cargo-lambda's runtime emulator sends it (`make invoke`: 600000): read as a date, it would be a
/// deadline long past, and publish and the worker would stop before their first record.
pub fn time_left(deadline_ms: u64, now_ms: u64) -> std::time::Duration {
    const EPOCH_2001_MS: u64 = 1_000_000_000_000;
    let left = if deadline_ms < EPOCH_2001_MS {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_ms)
    };
    std::time::Duration::from_millis(left)
}

/// What an SQS event source mapping invokes, with the invocation's deadline: the worker (the jobs
/// queue) and `deliver` (the webhook deliveries queue). The Lambda runtime and the local stack's
/// queue pollers drive either through it.
pub trait QueueConsumer: Send + Sync + 'static {
    /// The batch handled; the ids of the messages that come back.
    fn consume(
        &self,
        event: aws_lambda_events::event::sqs::SqsEvent,
        deadline: tokio::time::Instant,
    ) -> impl std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse> + Send;
}

impl QueueConsumer for Worker {
    fn consume(
        &self,
        event: aws_lambda_events::event::sqs::SqsEvent,
        deadline: tokio::time::Instant,
    ) -> impl std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse> + Send
    {
        self.handle(event, deadline)
    }
}

impl QueueConsumer for crate::delivery::Deliverer {
    fn consume(
        &self,
        event: aws_lambda_events::event::sqs::SqsEvent,
        deadline: tokio::time::Instant,
    ) -> impl std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse> + Send
    {
        self.handle(event, deadline)
    }
}

/// Runs the queue consumer `make` builds from the environment, once per cold start.
async fn queue<C: QueueConsumer>(
    make: fn(&Config, &aws_config::SdkConfig) -> Result<C, crate::config::ConfigError>,
) -> Result<(), Error> {
    init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let consumer: &'static C = Box::leak(Box::new(make(&config, &sdk)?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            let deadline = deadline(&event.context);
            Ok::<_, Error>(consumer.consume(event.payload, deadline).await)
        },
    ))
    .await
}

/// Runs `worker` on the jobs queue.
pub async fn worker() -> Result<(), Error> {
    queue(Worker::from_config).await
}

/// Runs `deliver` on the webhook deliveries queue.
pub async fn deliver() -> Result<(), Error> {
    queue(crate::delivery::Deliverer::from_config).await
}

/// Runs `write-slot-feed`, which its schedule invokes every few minutes (the event says nothing it
/// needs). A failed run fails the invocation; the next one writes the feed whole again.
pub async fn write_slot_feed() -> Result<(), Error> {
    init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let writer: &'static crate::feed::FeedWriter = Box::leak(Box::new(
        crate::feed::FeedWriter::from_config(&config, &sdk)?,
    ));
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let published = writer.run().await.map_err(Error::from)?;
            Ok::<_, Error>(serde_json::json!({"files": published.files.len()}))
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::time_left;
    use std::time::Duration;

    #[test]
    fn a_deadline_is_a_date_and_a_small_one_is_the_time_left() {
        let now = 1_796_000_000_000;
        assert_eq!(time_left(now + 9_500, now), Duration::from_millis(9_500));
        assert_eq!(time_left(now - 5, now), Duration::ZERO, "passed");
        assert_eq!(
            time_left(600_000, now),
            Duration::from_secs(600),
            "cargo-lambda's"
        );
    }
}
