//! `deliver`: the bus's events to webhook endpoints (issue 23, DESIGN.md section 18). A rule puts
//! every `appointments` event on the deliveries queue; for each, this posts `{type, timestamp, data}`
//! to every active endpoint subscribed to its type, signed as the Standard Webhooks specification
//! says (`domain::webhook`). An attempt that fails is queued again for its next attempt (SQS delays
//! at most 15 minutes, so a longer pause is re-sent from there until it is due), logged, and when a
//! delivery ends (delivered, gone, failed) the endpoint records it: a 410 or its
//! `WEBHOOK_DISABLE_AFTER`th failed delivery in a row disables it, which `publish` turns into
//! `webhook.disabled`.
//!
//! At least once: a message that fails as a whole (the table or the queue unreachable) comes back, and
//! its endpoints may get an attempt twice, with the same `webhook-id`, by which receivers deduplicate
//! (as the specification asks them to). A message failing 5 times lands in the deliveries DLQ, whose
//! alarm pages.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use crate::config::{Config, ConfigError};
use crate::domain::webhook::{
    self, delay_until, outcome, Attempt, Event, Failure, Reach, Retry, Webhook,
};
use crate::domain::{Clock, UtcTime};
use crate::metrics::{self, Metrics};
use crate::store::{Store, StoreError};

/// How long a receiver has to answer (the 10 seconds), connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

type Https = hyper_rustls::HttpsConnector<HttpConnector<Checked>>;

/// Resolves a host and refuses it when any of its addresses is not one deliveries may go to
/// ([`webhook::deliverable`]): checked on the addresses the connection then uses, so a name cannot
/// pass a check and connect elsewhere (DNS rebinding). A literal address never reaches a resolver:
/// [`webhook::target`] checks it before each attempt.
#[derive(Clone)]
pub struct Checked {
    reach: Reach,
}

/// Why the resolver refused a host (found again in the connection error's sources).
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to an address deliveries may not go to")]
struct AddressRefused;

impl tower_service::Service<Name> for Checked {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let reach = self.reach;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if found.is_empty() || found.iter().any(|a| !webhook::deliverable(a.ip(), reach)) {
                return Err(std::io::Error::other(AddressRefused));
            }
            Ok(found.into_iter())
        })
    }
}

/// The HTTP client of deliveries: http/1.1 over rustls with the system's roots, no redirects
/// followed (hyper's client follows none), each host checked after resolution.
pub fn client(reach: Reach) -> Result<Client<Https, Full<Bytes>>, ConfigError> {
    use hyper_rustls::ConfigBuilderExt;
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ConfigError::Invalid("TLS", e.to_string()))?
    .with_native_roots()
    .map_err(|e| ConfigError::Invalid("TLS roots", e.to_string()))?
    .with_no_client_auth();
    let mut http = HttpConnector::new_with_resolver(Checked { reach });
    http.enforce_http(false);
    http.set_connect_timeout(Some(TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https))
}

pub struct Deliverer {
    pub store: Store,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub config: crate::config::Webhooks,
    /// Built at the first delivery, not at the cold start (reading the system's roots takes time
    /// an invocation with no endpoint to post to need not spend).
    pub http: std::sync::OnceLock<Result<Client<Https, Full<Bytes>>, String>>,
    pub clock: Clock,
    pub metrics: Metrics,
}

/// A message of the deliveries queue, read once.
enum Message {
    /// An event from the bus: its first attempt to every endpoint subscribed.
    Event(Event),
    /// A later attempt to one endpoint.
    Retry(Retry),
    Malformed(String),
}

impl Message {
    fn read(body: &str) -> Message {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
            return Message::Malformed("not JSON".into());
        };
        if value.get("detail-type").is_some() {
            return Event::from_bus(&value).map_or_else(
                || Message::Malformed("an event without detail-type, time or detail".into()),
                Message::Event,
            );
        }
        match serde_json::from_value::<Retry>(value) {
            Ok(r) => Message::Retry(r),
            Err(e) => Message::Malformed(e.to_string()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("the deadline is near")]
    Deadline,
    #[error("cannot queue the next attempt: {0}")]
    Queue(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Deliverer {
    pub fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Ok(Deliverer {
            store: Store::from_config(config, sdk)?,
            sqs: aws_sdk_sqs::Client::new(sdk),
            queue_url: Config::require(&config.webhooks.queue_url, "WEBHOOK_QUEUE_URL")?,
            config: config.webhooks.clone(),
            http: std::sync::OnceLock::new(),
            clock: Clock::System,
            metrics: Metrics::stdout(),
        })
    }

    /// Every message of the batch at once (each waits at most [`TIMEOUT`] on its receivers); the ids
    /// of those that failed come back to the queue.
    pub async fn handle(
        &self,
        event: SqsEvent,
        deadline: tokio::time::Instant,
    ) -> SqsBatchResponse {
        let runs = event.records.into_iter().map(|message| async move {
            let id = message.message_id.clone().unwrap_or_default();
            let read = Message::read(message.body.as_deref().unwrap_or_default());
            let kind = match &read {
                Message::Event(_) => "event",
                Message::Retry(_) => "retry",
                Message::Malformed(_) => "malformed",
            };
            let outcome = self
                .metrics
                .unit("deliver", Some(kind), async {
                    let left = deadline
                        .saturating_duration_since(tokio::time::Instant::now())
                        .saturating_sub(crate::jobs::MARGIN);
                    let outcome = tokio::time::timeout(left, self.run(read))
                        .await
                        .unwrap_or(Err(DeliveryError::Deadline));
                    match &outcome {
                        Ok(()) => {}
                        Err(DeliveryError::Malformed(_)) => metrics::outcome("failed"),
                        Err(_) => metrics::outcome("retried"),
                    }
                    outcome
                })
                .await;
            outcome.err().map(|e| {
                tracing::warn!(message_id = %id, error = %e, "delivery message failed; it comes back");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
        });
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect();
        response
    }

    async fn run(&self, message: Message) -> Result<(), DeliveryError> {
        match message {
            Message::Malformed(why) => Err(DeliveryError::Malformed(why)),
            Message::Event(event) => {
                let hooks = self.store.webhooks().await?;
                let to = hooks
                    .iter()
                    .filter(|w| w.active && webhook::subscribed(&w.events, &event.kind));
                let attempts = to.map(|w| self.attempt(w, &event, 1));
                futures_util::future::join_all(attempts)
                    .await
                    .into_iter()
                    .collect()
            }
            Message::Retry(retry) => {
                let now = self.clock.now();
                if now < retry.due {
                    // SQS's longest delay is 15 minutes: a longer pause goes round again.
                    return self.send(&retry, now).await;
                }
                match self.store.webhook(retry.webhook_id).await? {
                    Some(w) if w.active => self.attempt(&w, &retry.event, retry.attempt).await,
                    _ => {
                        tracing::info!(webhook_id = %retry.webhook_id, attempt = retry.attempt,
                            "the endpoint was deleted or turned off: its retry is dropped");
                        Ok(())
                    }
                }
            }
        }
    }

    /// Sends a later attempt to the queue, to arrive when it is due (or in 15 minutes, and again).
    async fn send(&self, retry: &Retry, now: UtcTime) -> Result<(), DeliveryError> {
        let body =
            serde_json::to_string(retry).map_err(|e| DeliveryError::Malformed(e.to_string()))?;
        crate::store::conditional::patiently("queue webhook retry", || {
            self.sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body.clone())
                .delay_seconds(delay_until(retry.due, now))
                .send()
        })
        .await
        .map_err(|e| DeliveryError::Queue(e.to_string()))?;
        Ok(())
    }

    /// One attempt of `event` to `w`: posted, its next attempt queued if it failed, logged, and the
    /// delivery's end recorded on the endpoint.
    async fn attempt(&self, w: &Webhook, event: &Event, n: u32) -> Result<(), DeliveryError> {
        let now = self.clock.now();
        let started = std::time::Instant::now();
        let (status, failure) = self.post(w, event, now).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (outcome, pause) = outcome(status, n, &self.config.retries);
        let next = pause.map(|p| now.plus(p));
        if let Some(due) = next {
            let retry = Retry {
                webhook_id: w.id,
                attempt: n + 1,
                due,
                event: event.clone(),
            };
            self.send(&retry, now).await?;
        }
        tracing::info!(webhook_id = %w.id, event_id = %event.id, attempt = n, status, ?failure,
            latency_ms, ?outcome, "webhook attempt");
        let logged = Attempt {
            event_id: event.id.clone(),
            kind: event.kind.clone(),
            attempt: n,
            at: now,
            status_code: status,
            failure,
            latency_ms,
            outcome,
            next_attempt_at: next,
        };
        if let Err(e) = self.store.log_attempt(w.id, &logged).await {
            // The log is a view; the delivery itself stands.
            tracing::warn!(webhook_id = %w.id, error = %e, "an attempt was not logged");
        }
        let limit = self.config.disable_after;
        if w.clone().record(outcome, limit, now) {
            self.store
                .update_webhook(w.id, now, |fresh: &mut Webhook| -> Result<(), StoreError> {
                    fresh.record(outcome, limit, now);
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// Posts one attempt: the receiver's status, or why there was none.
    async fn post(
        &self,
        w: &Webhook,
        event: &Event,
        now: UtcTime,
    ) -> (Option<u16>, Option<Failure>) {
        if webhook::target(&w.url, self.config.reach).is_err() {
            return (None, Some(Failure::UrlRefused));
        }
        let body = event.body();
        let timestamp = now.timestamp().as_second();
        let mut request = http::Request::post(w.url.as_str())
            .header("content-type", "application/json")
            .header("user-agent", "clinic-appointments-webhooks/1");
        for (name, value) in webhook::headers(&event.id, timestamp, &body, &w.signers(now)) {
            request = request.header(name, value);
        }
        let request = match request.body(Full::new(Bytes::from(body))) {
            Ok(r) => r,
            Err(_) => return (None, Some(Failure::UrlRefused)),
        };
        let http = match self
            .http
            .get_or_init(|| client(self.config.reach).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client for deliveries");
                return (None, Some(Failure::Connect));
            }
        };
        match tokio::time::timeout(TIMEOUT, http.request(request)).await {
            Err(_) => (None, Some(Failure::Timeout)),
            Ok(Ok(response)) => (Some(response.status().as_u16()), None),
            Ok(Err(e)) => (None, Some(failure_of(&e))),
        }
    }
}

/// What a client error was: the resolver's refusal, or any other failure to connect or answer.
fn failure_of(e: &(dyn std::error::Error + 'static)) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        // An io::Error's source() skips the error it wraps: that one is read with get_ref().
        let wrapped = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<AddressRefused>());
        if wrapped || s.is::<AddressRefused>() {
            return Failure::AddressRefused;
        }
        source = s.source();
    }
    Failure::Connect
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_an_event_a_retry_or_malformed() {
        let event = serde_json::json!({"id": "x", "detail-type": "hold.created", "source": "appointments",
            "time": "2031-03-04T10:00:00Z", "detail": {"eventId": "e1"}});
        assert!(matches!(Message::read(&event.to_string()), Message::Event(e) if e.id == "e1"));
        let retry = Retry {
            webhook_id: uuid::Uuid::new_v4(),
            attempt: 2,
            due: "2031-03-04T10:00:05Z".parse().unwrap(),
            event: Event::from_bus(&event).unwrap(),
        };
        let text = serde_json::to_string(&retry).unwrap();
        assert!(matches!(Message::read(&text), Message::Retry(r) if r == retry));
        for bad in ["", "{", "{\"detail-type\": 1}", "{\"webhookId\": 3}", "[]"] {
            assert!(matches!(Message::read(bad), Message::Malformed(_)), "{bad}");
        }
    }

    #[test]
    fn the_resolvers_refusal_is_found_under_the_clients_error() {
        let wrapped = std::io::Error::other(AddressRefused);
        assert_eq!(failure_of(&wrapped), Failure::AddressRefused);
        let other = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(failure_of(&other), Failure::Connect);
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_this_machine_is_refused_on_aws_and_allowed_locally() {
        use tower_service::Service;
        let name: Name = "localhost".parse().unwrap();
        let refused = Checked {
            reach: Reach::Public,
        }
        .call(name.clone())
        .await;
        assert!(refused.is_err_and(|e| failure_of(&e) == Failure::AddressRefused));
        let allowed = Checked {
            reach: Reach::AlsoLoopback,
        }
        .call(name)
        .await
        .unwrap();
        assert!(allowed.into_iter().all(|a| a.ip().is_loopback()));
    }

    proptest::proptest! {
        #[test]
        fn no_message_body_makes_the_reader_panic(body in ".{0,200}") {
            let _ = Message::read(&body);
        }
    }
}
