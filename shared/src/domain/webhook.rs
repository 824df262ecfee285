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

/// How long after the `attempt`-th failed delivery (1 for the first) the next is tried, or `None` when
/// that was the last: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (the schedule the Standard Webhooks
/// specification suggests), eight attempts over 27.6 hours, more than the 24 the issue asks.
pub fn retry_after(attempt: u32) -> Option<jiff::SignedDuration> {
    const DELAYS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
    let i = usize::try_from(attempt).ok()?.checked_sub(1)?;
    DELAYS.get(i).map(|s| jiff::SignedDuration::from_secs(*s))
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
        let total: i64 = (1..).map_while(retry_after).map(|d| d.as_secs()).sum();
        assert!(total >= 24 * 3600, "{total}");
        assert_eq!(retry_after(0), None);
        assert_eq!(retry_after(1), Some(jiff::SignedDuration::from_secs(5)));
        assert_eq!(retry_after(8), None);
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
        fn a_checked_target_is_never_a_private_literal(a: u8, b: u8, c: u8, d: u8) {
            let ip = std::net::Ipv4Addr::new(a, b, c, d);
            if let Ok(t) = target(&format!("https://{ip}/"), Reach::Public) {
                prop_assert!(!ip.is_private() && !ip.is_loopback() && !ip.is_link_local());
                prop_assert_eq!(t.host, ip.to_string());
            }
        }
    }
}
