//! Manage links (issue 23, section 3; DESIGN.md section 18): a token that lets a patient see, cancel or
//! move one appointment without signing in. `<version 1><key id 4><appointment 16><expires 8>` and an
//! HMAC-SHA256 of those 29 bytes under the deployment's key, base64url: 82 characters. Nothing else is
//! in it and nothing is stored: the token is checked by its MAC and its expiry (the appointment's
//! end), and then by the appointment itself, which must still be standing (scheduled, pending or
//! checked in): a cancelled or moved appointment's token opens nothing. Tokens made under the previous
//! key still open while it is configured (`MANAGE_LINK_PREVIOUS_KEY`): the key rotates.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{AppointmentId, AppointmentStatus, UtcTime};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const VERSION: u8 = 1;
const BODY: usize = 1 + 4 + 16 + 8;
const MAC: usize = 32;

/// The keys manage links are made and opened with.
#[derive(Clone)]
pub struct Keys {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// A key's id: the first 4 bytes of its SHA-256, so a token names the key it was made with.
fn id_of(key: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(key);
    [digest[0], digest[1], digest[2], digest[3]]
}

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length (RFC 2104): new_from_slice cannot fail.
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any length"));
    m.update(body);
    m
}

impl Keys {
    pub fn new(current: &str, previous: Option<&str>) -> Keys {
        Keys {
            current: current.as_bytes().to_vec(),
            previous: previous
                .filter(|p| !p.is_empty())
                .map(|p| p.as_bytes().to_vec()),
        }
    }

    /// A token for `appointment`, good until `expires`.
    pub fn token(&self, appointment: AppointmentId, expires: UtcTime) -> String {
        let mut body = Vec::with_capacity(BODY + MAC);
        body.push(VERSION);
        body.extend_from_slice(&id_of(&self.current));
        body.extend_from_slice(appointment.uuid().as_bytes());
        body.extend_from_slice(&expires.timestamp().as_second().to_be_bytes());
        let tag = mac(&self.current, &body).finalize().into_bytes();
        body.extend_from_slice(&tag);
        B64.encode(body)
    }

    /// The appointment a token names, if the token is one of ours (its MAC checked in constant time
    /// under the key it names) and has not expired at `now`.
    pub fn open(&self, token: &str, now: UtcTime) -> Option<AppointmentId> {
        if token.len() != (BODY + MAC) * 4 / 3 + 1 {
            return None;
        }
        let raw = B64.decode(token).ok()?;
        let (body, tag) = raw.split_at_checked(BODY)?;
        if body[0] != VERSION || tag.len() != MAC {
            return None;
        }
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| id_of(k) == body[1..5])?;
        mac(key, body).verify_slice(tag).ok()?;
        let id = uuid::Uuid::from_slice(&body[5..21]).ok()?;
        let expires = i64::from_be_bytes(body[21..29].try_into().ok()?);
        (now.timestamp().as_second() < expires).then(|| AppointmentId::from_uuid(id))
    }
}

/// Whether a manage link still opens an appointment of `status`: one standing, not one cancelled,
/// moved, started or over.
pub fn opens(status: AppointmentStatus) -> bool {
    matches!(
        status,
        AppointmentStatus::Scheduled | AppointmentStatus::Pending | AppointmentStatus::Confirmed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    #[test]
    fn a_token_opens_its_appointment_until_it_expires_and_nothing_else() {
        let keys = Keys::new("a key of the deployment, 32 chars or more", None);
        let id = AppointmentId::new();
        let t = keys.token(id, at("2031-03-04T15:00:00Z"));
        assert_eq!(t.len(), 82);
        assert_eq!(keys.open(&t, at("2031-03-04T14:59:59Z")), Some(id));
        assert_eq!(keys.open(&t, at("2031-03-04T15:00:00Z")), None, "expired");
        // Any change of any character is refused.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..t.len() {
            for c in alphabet.chars().step_by(7) {
                let mut bytes: Vec<char> = t.chars().collect();
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
                let tampered: String = bytes.into_iter().collect();
                let opened = keys.open(&tampered, at("2031-03-01T00:00:00Z"));
                // The last character carries 2 padding bits base64url ignores on decode for some
                // changes; a decoded token that still verifies must be the same bytes.
                assert!(
                    opened.is_none() || B64.decode(&tampered).ok() == B64.decode(&t).ok(),
                    "{tampered}"
                );
            }
        }
        let other = Keys::new("another deployment's key, 32 characters", None);
        assert_eq!(other.open(&t, at("2031-03-01T00:00:00Z")), None);
    }

    #[test]
    fn a_rotated_key_still_opens_its_tokens_while_it_is_the_previous_one() {
        let old = Keys::new("the old key of the deployment, 32 chars", None);
        let t = old.token(AppointmentId::new(), at("2031-03-04T15:00:00Z"));
        let rotated = Keys::new(
            "the new key of the deployment, 32 chars",
            Some("the old key of the deployment, 32 chars"),
        );
        assert!(rotated.open(&t, at("2031-03-01T00:00:00Z")).is_some());
        let fresh = rotated.token(AppointmentId::new(), at("2031-03-04T15:00:00Z"));
        assert!(rotated.open(&fresh, at("2031-03-01T00:00:00Z")).is_some());
        assert!(old.open(&fresh, at("2031-03-01T00:00:00Z")).is_none());
        let done = Keys::new("the new key of the deployment, 32 chars", Some(""));
        assert!(
            done.open(&t, at("2031-03-01T00:00:00Z")).is_none(),
            "the old key retired"
        );
    }

    #[test]
    fn only_a_standing_appointment_opens() {
        assert!(opens(AppointmentStatus::Scheduled) && opens(AppointmentStatus::Pending));
        for s in [
            AppointmentStatus::Cancelled,
            AppointmentStatus::Rescheduled,
            AppointmentStatus::Completed,
            AppointmentStatus::InProgress,
            AppointmentStatus::NoShow,
        ] {
            assert!(!opens(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn no_string_makes_opening_panic(token in ".{0,120}") {
            let keys = Keys::new("a key of the deployment, 32 chars or more", None);
            let _ = keys.open(&token, at("2031-03-01T00:00:00Z"));
        }
    }
}
