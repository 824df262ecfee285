//! Webhooks in the Standard Webhooks format (issue 23, section 1; https://www.standardwebhooks.com/,
//! the specification's `spec/standard-webhooks.md`): the pure rules a delivery follows. Secrets
//! (`whsec_` and base64 of the key), the signature of one delivery (`v1,` and base64 of
//! HMAC-SHA256 over `<id>.<timestamp>.<body>`, one per secret that signs, space-separated while a
//! rotated secret still signs), which endpoint an event goes to (its types, or a prefix and `*`), where
//! a delivery may go (https to a public address; plain http to this machine only where the deployment
//! allows it, as `make dev` does), and when a failed delivery is tried again.

use std::net::IpAddr;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::UtcTime;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What a secret's text starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// A key that signs deliveries (24 to 64 bytes, as the specification allows).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why a secret's text is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a secret starts with whsec_")]
    Prefix,
    #[error("a secret is whsec_ and base64")]
    Base64,
    #[error("a secret's key is 24 to 64 bytes")]
    Length,
}

impl Secret {
    /// A new random key of 32 bytes: two version-4 UUIDs, whose 244 random bits come from the
    /// operating system's CSPRNG (`getrandom`, as `uuid` draws them).
    pub fn generate() -> Secret {
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Secret(key)
    }

    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let key = B64.decode(b64).map_err(|_| SecretError::Base64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Length);
        }
        Ok(Secret(key))
    }

    /// `whsec_` and the key in base64: shown once, when the endpoint is made or its secret rotated.
    pub fn text(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.0))
    }

    /// `v1,` and base64 of HMAC-SHA256 over `<id>.<timestamp>.<body>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        // HMAC takes a key of any length (RFC 2104): new_from_slice cannot fail.
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// The headers of one delivery of `body`: `webhook-id` (the event's id, the same on every attempt),
/// `webhook-timestamp` (seconds, of this attempt) and `webhook-signature` (one signature per secret
/// in `secrets`, the current first, space-separated).
pub fn headers(
    id: &str,
    timestamp: i64,
    body: &str,
    secrets: &[&Secret],
) -> [(&'static str, String); 3] {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect();
    [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signatures.join(" ")),
    ]
}

/// Whether an endpoint subscribed to `patterns` gets an event of `kind`: a pattern is a detail-type
/// (`appointment.created`), or a prefix and `*` (`appointment.*`, or `*` for every event).
pub fn subscribed(patterns: &[String], kind: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => p == kind,
    })
}

/// What is wrong with an endpoint's event patterns, if anything: 1 to 50 of them, each 1 to 100 of
/// `a-z`, `0-9`, `.`, `_` and `-`, with at most one `*`, at its end.
pub fn pattern_problems(patterns: &[String]) -> Option<&'static str> {
    if patterns.is_empty() || patterns.len() > 50 {
        return Some("1 to 50 event types");
    }
    let good = |p: &String| {
        let body = p.strip_suffix('*').unwrap_or(p);
        p.len() <= 100
            && !p.is_empty()
            && body
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    };
    (!patterns.iter().all(good))
        .then_some("each an event type (appointment.created) or a prefix and * (appointment.*)")
}

/// Where deliveries may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// On AWS: https to a public address only.
    Public,
    /// `make dev`: that, and plain http to this machine (127.0.0.1, ::1), so that a receiver on the
    /// same machine works out of the box. The template never sets it.
    AlsoLoopback,
}

/// An endpoint URL as far as it can be checked before its host is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// Without brackets for IPv6.
    pub host: String,
    pub port: u16,
}

/// Why a URL may not receive deliveries.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("is not a URL")]
    Syntax,
    #[error("must be https (http only to 127.0.0.1 where the deployment allows it)")]
    Scheme,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("must be at most 2048 characters")]
    Length,
    #[error("must name a public host, not a private, loopback, link-local or metadata address")]
    Address,
}

/// `url` checked as a delivery target, before its host is resolved: https (or, with
/// [`Reach::AlsoLoopback`], http to a loopback address), no credentials, at most 2,048 characters;
/// an address given literally is checked with [`deliverable`] now. A name is checked after it is
/// resolved, against every address it resolves to.
pub fn target(url: &str, reach: Reach) -> Result<Target, UrlProblem> {
    if url.len() > 2048 {
        return Err(UrlProblem::Length);
    }
    let uri: http::Uri = url.parse().map_err(|_| UrlProblem::Syntax)?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(UrlProblem::Scheme),
    };
    let authority = uri.authority().ok_or(UrlProblem::Syntax)?;
    if authority.as_str().contains('@') {
        return Err(UrlProblem::Credentials);
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(UrlProblem::Syntax);
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let literal: Option<IpAddr> = host.parse().ok();
    let local_http = reach == Reach::AlsoLoopback && literal.is_some_and(|ip| ip.is_loopback());
    if !(https || local_http) {
        return Err(UrlProblem::Scheme);
    }
    if let Some(ip) = literal {
        if !deliverable(ip, reach) {
            return Err(UrlProblem::Address);
        }
    }
    Ok(Target { https, host, port })
}

/// Whether a delivery may go to `ip`: a public unicast address, or (with [`Reach::AlsoLoopback`]) a
/// loopback one. Never a private (RFC 1918, fc00::/7), shared (100.64.0.0/10), link-local (the
/// instance metadata service's 169.254.169.254 and fd00:ec2::254 among them), unspecified, multicast,
/// broadcast, documentation or reserved address, nor an IPv4 one mapped into IPv6.
pub fn deliverable(ip: IpAddr, reach: Reach) -> bool {
    if ip.is_loopback() {
        return reach == Reach::AlsoLoopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.to_ipv4_mapped().is_some() {
                return false;
            }
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// When failed deliveries are tried again (`WEBHOOK_RETRY_SECONDS`): the pause after each failed
/// attempt, in seconds, so one attempt more than it has pauses. By default 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 10 h (the schedule the Standard Webhooks specification suggests): eight attempts over
/// 27.6 hours, more than the 24 the issue asks. Tests shorten it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<u32>);

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule(vec![5, 300, 1_800, 7_200, 18_000, 36_000, 36_000])
    }
}

impl std::str::FromStr for RetrySchedule {
    type Err = &'static str;

    /// 1 to 20 pauses, comma-separated, each 1 to 86400 seconds.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "1 to 20 comma-separated pauses of 1 to 86400 seconds";
        let pauses = text
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
            })
            .collect::<Option<Vec<u32>>>()
            .ok_or(WHAT)?;
        if pauses.is_empty() || pauses.len() > 20 {
            return Err(WHAT);
        }
        Ok(RetrySchedule(pauses))
    }
}

impl RetrySchedule {
    /// How long after the `attempt`-th failed attempt (1 for the first) the next is made, or `None`
    /// when that was the last.
    pub fn after(&self, attempt: u32) -> Option<jiff::SignedDuration> {
        let i = usize::try_from(attempt).ok()?.checked_sub(1)?;
        self.0
            .get(i)
            .map(|s| jiff::SignedDuration::from_secs(i64::from(*s)))
    }

    /// How many attempts a delivery gets.
    pub fn attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// From the first attempt to the last.
    pub fn span(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(self.0.iter().map(|s| i64::from(*s)).sum())
    }
}

/// What an attempt got: the receiver's status, or no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Failure {
    /// No answer within 10 seconds.
    Timeout,
    /// The connection failed (refused, reset, TLS, a name that does not resolve).
    Connect,
    /// The host resolved to an address deliveries may not go to (private, loopback, metadata).
    AddressRefused,
    /// The endpoint's URL is no longer one deliveries may go to.
    UrlRefused,
}

/// How one attempt ended, as the delivery log shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// Failed; tried again at `nextAttemptAt`.
    Retrying,
    /// Failed, and it was the last attempt.
    Failed,
    /// 410 Gone: the endpoint is disabled at once, nothing is tried again.
    Gone,
}

/// What follows an attempt answered `status` (or not answered): delivered on a 2xx; gone on a 410;
/// otherwise (a redirect too: none is followed) retried after the schedule's pause, or failed when
/// it was the last attempt.
pub fn outcome(
    status: Option<u16>,
    attempt: u32,
    schedule: &RetrySchedule,
) -> (Outcome, Option<jiff::SignedDuration>) {
    match status {
        Some(s) if (200..300).contains(&s) => (Outcome::Delivered, None),
        Some(410) => (Outcome::Gone, None),
        _ => match schedule.after(attempt) {
            Some(pause) => (Outcome::Retrying, Some(pause)),
            None => (Outcome::Failed, None),
        },
    }
}

/// Why deliveries, not a person, disabled an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DisabledReason {
    /// It answered 410 Gone.
    Gone,
    /// Its deliveries failed, every attempt of each, too many times in a row.
    Failing,
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Secret::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An endpoint as stored: where deliveries go, what they carry, the secrets that sign them (never
/// shown after they are made: its `Debug` hides them), and how its deliveries went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<DisabledReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<UtcTime>,
    /// Deliveries in a row whose every attempt failed (a success resets it).
    #[serde(default)]
    pub consecutive_failures: u32,
    pub secret: Secret,
    /// The secret a rotation replaced: it signs beside the new one until `previousSecretUntil`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<UtcTime>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
    pub version: u64,
    /// Deleted: found by nothing, removed by the table's TTL with its log ([`LOG_DAYS`] later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<UtcTime>,
}

/// At most this many endpoints: every event is matched against each.
pub const MAX_WEBHOOKS: u32 = 25;

/// How long a rotated secret still signs.
pub const ROTATION_OVERLAP: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

impl Webhook {
    /// A new active endpoint with a fresh secret (its URL and patterns not yet checked: [`problems`]).
    ///
    /// [`problems`]: Webhook::problems
    pub fn new(
        url: &str,
        events: Vec<String>,
        description: Option<String>,
        now: UtcTime,
    ) -> Webhook {
        Webhook {
            id: Uuid::new_v4(),
            url: url.trim().to_owned(),
            events,
            description,
            active: true,
            disabled_reason: None,
            disabled_at: None,
            consecutive_failures: 0,
            secret: Secret::generate(),
            previous_secret: None,
            previous_secret_until: None,
            created_at: now,
            updated_at: now,
            version: 1,
            deleted_at: None,
        }
    }

    /// The secrets that sign a delivery made at `now`: the current, and the previous while it
    /// overlaps.
    pub fn signers(&self, now: UtcTime) -> Vec<&Secret> {
        let mut out = vec![&self.secret];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if now < until {
                out.push(old);
            }
        }
        out
    }

    /// What is wrong with it, by field: its URL as a delivery target, its event patterns.
    pub fn problems(&self, reach: Reach) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        if let Err(e) = target(&self.url, reach) {
            out.push(("url", e.to_string()));
        }
        if let Some(p) = pattern_problems(&self.events) {
            out.push(("events", p.to_owned()));
        }
        out
    }

    /// Turned on again by a person: its failures forgotten.
    pub fn enable(&mut self) {
        self.active = true;
        self.disabled_reason = None;
        self.disabled_at = None;
        self.consecutive_failures = 0;
    }

    /// Records how a delivery ended (not each attempt: a delivery fails only when its last attempt
    /// did): a success forgets the failures, a 410 disables at once, and the `limit`-th failed
    /// delivery in a row disables. Whether anything changed.
    pub fn record(&mut self, outcome: Outcome, limit: u32, now: UtcTime) -> bool {
        let disable = |w: &mut Webhook, why| {
            w.active = false;
            w.disabled_reason = Some(why);
            w.disabled_at = Some(now);
        };
        match outcome {
            Outcome::Retrying => false,
            Outcome::Delivered if self.consecutive_failures == 0 => false,
            Outcome::Delivered => {
                self.consecutive_failures = 0;
                true
            }
            Outcome::Gone if !self.active => false,
            Outcome::Gone => {
                disable(self, DisabledReason::Gone);
                true
            }
            Outcome::Failed => {
                self.consecutive_failures += 1;
                if self.active && self.consecutive_failures >= limit {
                    disable(self, DisabledReason::Failing);
                }
                true
            }
        }
    }
}

/// One attempt, as the delivery log keeps it (for 7 days): never the body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// The event's id: `webhook-id`, the same on every attempt.
    pub event_id: String,
    /// The event's type (`appointment.created`).
    #[serde(rename = "type")]
    pub kind: String,
    /// 1 for the first.
    pub attempt: u32,
    pub at: UtcTime,
    /// The receiver's status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub latency_ms: u64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<UtcTime>,
}

/// How long the delivery log keeps an attempt.
pub const LOG_DAYS: i64 = 7;

/// An event to deliver, as the bus gave it: `webhook-id` is the event's own `eventId` (the same on
/// every delivery of one change), the body `{type, timestamp, data}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: String,
    pub data: serde_json::Value,
}

impl Event {
    /// From an EventBridge event (`detail-type`, `time`, `detail`), as a rule puts it on a queue.
    pub fn from_bus(event: &serde_json::Value) -> Option<Event> {
        let kind = event.get("detail-type")?.as_str()?.to_owned();
        let data = event.get("detail")?.clone();
        let id = data
            .get("eventId")
            .and_then(|v| v.as_str())
            .or_else(|| event.get("id").and_then(|v| v.as_str()))?
            .to_owned();
        let timestamp = event.get("time")?.as_str()?.to_owned();
        Some(Event {
            id,
            kind,
            timestamp,
            data,
        })
    }

    /// The body every attempt posts (and signs).
    pub fn body(&self) -> String {
        serde_json::json!({"type": self.kind, "timestamp": self.timestamp, "data": self.data})
            .to_string()
    }
}

/// A later attempt of one event to one endpoint, waiting on the deliveries queue until `due` (SQS
/// delays a message at most 15 minutes: a longer pause is sent again from there).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    pub webhook_id: Uuid,
    pub attempt: u32,
    pub due: UtcTime,
    pub event: Event,
}

/// The delay to send a message with so that it arrives at `due`, at most SQS's 900 seconds
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html,
/// `DelaySeconds`); one arriving earlier is sent again with the time left.
pub fn delay_until(due: UtcTime, now: UtcTime) -> i32 {
    let left = due.timestamp().as_second() - now.timestamp().as_second();
    left.clamp(0, 900) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_signature_is_the_specifications_example() {
        // The specification's own example (spec/standard-webhooks.md, "Signature scheme").
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_reads_back_and_bad_ones_are_named() {
        let s = Secret::generate();
        assert_eq!(Secret::parse(&s.text()), Ok(s.clone()));
        assert_ne!(Secret::generate(), s);
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjU"), Err(SecretError::Prefix));
        assert_eq!(Secret::parse("whsec_***"), Err(SecretError::Base64));
        assert_eq!(Secret::parse("whsec_AAAA"), Err(SecretError::Length));
        assert_eq!(format!("{s:?}"), "Secret(..)", "never in a log");
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_current_one() {
        let (new, old) = (Secret::generate(), Secret::generate());
        let h = headers("evt_1", 1_700_000_000, "{}", &[&new, &old]);
        let sigs: Vec<&str> = h[2].1.split(' ').collect();
        assert_eq!(
            sigs,
            [
                new.sign("evt_1", 1_700_000_000, "{}"),
                old.sign("evt_1", 1_700_000_000, "{}")
            ]
        );
        assert_eq!((h[0].0, h[1].1.as_str()), ("webhook-id", "1700000000"));
    }

    #[test]
    fn an_endpoint_gets_the_types_it_names_or_a_prefix_of_them() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(subscribed(
            &p(&["appointment.created"]),
            "appointment.created"
        ));
        assert!(!subscribed(
            &p(&["appointment.created"]),
            "appointment.cancelled"
        ));
        assert!(subscribed(&p(&["appointment.*"]), "appointment.cancelled"));
        assert!(!subscribed(&p(&["appointment.*"]), "waitlist.offered"));
        assert!(subscribed(&p(&["*"]), "hold.created"));
        assert_eq!(
            pattern_problems(&p(&["appointment.*", "hold.created"])),
            None
        );
        assert!(pattern_problems(&p(&[])).is_some());
        assert!(pattern_problems(&p(&["Appointment.created"])).is_some());
        assert!(pattern_problems(&p(&["a*b"])).is_some());
    }

    #[test]
    fn deliveries_go_to_public_https_and_locally_to_this_machine() {
        let public = |u: &str| target(u, Reach::Public);
        assert_eq!(
            public("https://hooks.example.com/clinic"),
            Ok(Target {
                https: true,
                host: "hooks.example.com".into(),
                port: 443
            })
        );
        assert_eq!(public("http://hooks.example.com/"), Err(UrlProblem::Scheme));
        assert_eq!(public("ftp://hooks.example.com/"), Err(UrlProblem::Scheme));
        assert_eq!(
            public("https://u:p@hooks.example.com/"),
            Err(UrlProblem::Credentials)
        );
        for private in [
            "https://10.0.0.8/",
            "https://172.16.3.4/",
            "https://192.168.1.1/",
            "https://127.0.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:8.8.8.8]/",
        ] {
            assert_eq!(public(private), Err(UrlProblem::Address), "{private}");
        }
        assert!(public("https://8.8.8.8/").is_ok());
        assert!(public("https://[2606:4700:4700::1111]/").is_ok());
        let local = |u: &str| target(u, Reach::AlsoLoopback);
        assert_eq!(
            local("http://127.0.0.1:8080/hook"),
            Ok(Target {
                https: false,
                host: "127.0.0.1".into(),
                port: 8080
            })
        );
        assert_eq!(local("http://10.0.0.8/"), Err(UrlProblem::Scheme));
        assert_eq!(local("http://example.com/"), Err(UrlProblem::Scheme));
    }

    #[test]
    fn failed_deliveries_are_retried_for_more_than_a_day_then_stop() {
        let s = RetrySchedule::default();
        let total: i64 = (1..).map_while(|a| s.after(a)).map(|d| d.as_secs()).sum();
        assert!(total >= 24 * 3600, "{total}");
        assert_eq!(s.span().as_secs(), total);
        assert_eq!((s.after(0), s.attempts()), (None, 8));
        assert_eq!(s.after(1), Some(jiff::SignedDuration::from_secs(5)));
        assert_eq!(s.after(8), None);
        assert_eq!("1, 2".parse(), Ok(RetrySchedule(vec![1, 2])));
        for bad in ["", "0", "1,,2", "86401", "x", &["1"; 21].join(",")] {
            assert!(bad.parse::<RetrySchedule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_attempt_is_delivered_on_2xx_gone_on_410_and_otherwise_retried_until_the_last() {
        let s: RetrySchedule = "7,9".parse().unwrap();
        let secs = jiff::SignedDuration::from_secs;
        assert_eq!(outcome(Some(204), 1, &s), (Outcome::Delivered, None));
        assert_eq!(outcome(Some(410), 1, &s), (Outcome::Gone, None));
        assert_eq!(
            outcome(Some(500), 1, &s),
            (Outcome::Retrying, Some(secs(7)))
        );
        assert_eq!(
            outcome(Some(301), 2, &s),
            (Outcome::Retrying, Some(secs(9)))
        );
        assert_eq!(outcome(None, 2, &s), (Outcome::Retrying, Some(secs(9))));
        assert_eq!(outcome(Some(404), 3, &s), (Outcome::Failed, None));
    }

    fn hook() -> Webhook {
        let now: UtcTime = "2031-03-04T10:00:00Z".parse().unwrap();
        Webhook::new(
            "https://hooks.example.com/x",
            vec!["appointment.*".into()],
            None,
            now,
        )
    }

    #[test]
    fn the_limit_th_failed_delivery_in_a_row_or_a_410_disables_and_a_success_forgets() {
        let now: UtcTime = "2031-03-04T10:00:00Z".parse().unwrap();
        let mut w = hook();
        assert!(
            !w.record(Outcome::Retrying, 3, now),
            "an attempt is no delivery"
        );
        assert!(!w.record(Outcome::Delivered, 3, now), "nothing to forget");
        assert!(w.record(Outcome::Failed, 3, now) && w.record(Outcome::Failed, 3, now));
        assert!(w.record(Outcome::Delivered, 3, now));
        assert_eq!((w.consecutive_failures, w.active), (0, true));
        for _ in 0..3 {
            w.record(Outcome::Failed, 3, now);
        }
        assert_eq!(
            (w.active, w.disabled_reason),
            (false, Some(DisabledReason::Failing))
        );
        w.enable();
        assert_eq!(
            (w.active, w.consecutive_failures, w.disabled_at),
            (true, 0, None)
        );
        assert!(w.record(Outcome::Gone, 3, now));
        assert_eq!(
            (w.active, w.disabled_reason),
            (false, Some(DisabledReason::Gone))
        );
        assert!(!w.record(Outcome::Gone, 3, now), "already off");
        assert!(
            !format!("{w:?}").contains(&w.secret.text()),
            "no secret in a log"
        );
    }

    #[test]
    fn a_rotated_secret_signs_for_its_overlap_only() {
        let mut w = hook();
        let now = w.created_at;
        let old = w.secret.clone();
        w.previous_secret = Some(old.clone());
        w.secret = Secret::generate();
        w.previous_secret_until = Some(now.plus(ROTATION_OVERLAP));
        assert_eq!(w.signers(now), [&w.secret, &old]);
        assert_eq!(w.signers(now.plus(ROTATION_OVERLAP)), [&w.secret]);
        let stored = serde_json::to_value(&w).unwrap();
        let back: Webhook = serde_json::from_value(stored).unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn an_event_is_read_from_the_bus_under_its_own_id() {
        let bus = serde_json::json!({"id": "eb-1", "detail-type": "appointment.created",
            "source": "appointments", "time": "2031-03-04T10:00:00Z",
            "detail": {"eventId": "e-7", "appointmentId": "a"}});
        let e = Event::from_bus(&bus).unwrap();
        assert_eq!(
            (e.id.as_str(), e.kind.as_str()),
            ("e-7", "appointment.created")
        );
        let body: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(body["data"]["appointmentId"], "a");
        assert_eq!(body["timestamp"], "2031-03-04T10:00:00Z");
        assert!(Event::from_bus(&serde_json::json!({"type": "sweep"})).is_none());
        let at: UtcTime = "2031-03-04T10:00:00Z".parse().unwrap();
        let secs = jiff::SignedDuration::from_secs;
        assert_eq!(delay_until(at.plus(secs(30)), at), 30);
        assert_eq!(delay_until(at.plus(secs(7200)), at), 900);
        assert_eq!(delay_until(at, at.plus(secs(5))), 0);
    }

    proptest! {
        #[test]
        fn no_url_makes_the_checker_panic(url in ".{0,300}") {
            let _ = target(&url, Reach::Public);
            let _ = target(&url, Reach::AlsoLoopback);
        }

        #[test]
        fn no_secret_text_makes_the_reader_panic(text in ".{0,120}") {
            let _ = Secret::parse(&text);
        }

        #[test]
        fn no_schedule_text_makes_the_reader_panic(text in "[0-9, x]{0,80}") {
            let _ = text.parse::<RetrySchedule>();
        }

        #[test]
        fn a_checked_target_is_never_a_private_literal(a: u8, b: u8, c: u8, d: u8) {
            let ip = std::net::Ipv4Addr::new(a, b, c, d);
            if let Ok(t) = target(&format!("https://{ip}/"), Reach::Public) {
                prop_assert!(!ip.is_private() && !ip.is_loopback() && !ip.is_link_local());
                prop_assert_eq!(t.host, ip.to_string());
            }
        }
    }
}
