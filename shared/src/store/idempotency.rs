//! Idempotency, in one place: a client's `Idempotency-Key` (parsed once, into [`IdempotencyKey`]),
//! what a request asked (its [`fingerprint`]), and the records that keep what a key produced for a day
//! (a booking's, a series'), put in the same transaction as what they record. A retry with the same
//! key and the same request answers the first result; the same key with another request is refused.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{self, Key};
use super::{n, Item, StoreError};
use crate::domain::{AppointmentId, PatientId, SlotId, UtcTime};

/// How long a retried request is recognised by its `Idempotency-Key`.
pub const IDEMPOTENCY_TTL: SignedDuration = SignedDuration::from_hours(24);

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 255 visible ASCII characters")]
pub struct InvalidKey;

impl TryFrom<&str> for IdempotencyKey {
    type Error = InvalidKey;

    fn try_from(raw: &str) -> Result<Self, InvalidKey> {
        let fits = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic());
        fits.then(|| IdempotencyKey(raw.to_owned()))
            .ok_or(InvalidKey)
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = InvalidKey;

    fn try_from(raw: String) -> Result<Self, InvalidKey> {
        IdempotencyKey::try_from(raw.as_str())
    }
}

impl IdempotencyKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where a booking's record of this key lives, the caller's own (keys never cross callers).
    pub fn booking_record(&self, caller: Uuid) -> Key {
        keys::idempotency(caller, &self.0)
    }

    /// Where a series' record of this key lives: the same table, a namespace of its own.
    pub fn series_record(&self, caller: Uuid) -> Key {
        keys::idempotency(caller, &format!("series#{}", self.0))
    }
}

/// What makes two requests the same, hashed (SHA-256, hex): the fields of what was asked, in order.
pub fn fingerprint(asked: &serde_json::Value) -> String {
    super::sha256_hex(asked.to_string().as_bytes())
}

/// What a booking's key produced: which appointment, and for what.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BookingRecord {
    pub appointment_id: AppointmentId,
    pub slot_id: SlotId,
    pub patient_id: PatientId,
    /// Unix seconds; the table's TTL deletes the record some time after (up to days later), so a
    /// record past it is treated as gone.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The request's [`fingerprint`]; records from before it have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

impl BookingRecord {
    pub fn expired(&self, now: UtcTime) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.timestamp().as_second())
    }

    /// Whether a retry asks what the first request asked (`request`, its fingerprint). A record
    /// without a fingerprint compares the slot and the patient.
    pub fn same_request(&self, request: &str, slot: SlotId, patient: PatientId) -> bool {
        match &self.request {
            Some(hash) => hash == request,
            None => self.slot_id == slot && self.patient_id == patient,
        }
    }
}

/// What a series' key produced: the series, and a hash of what was asked.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SeriesRecord {
    pub series_id: Uuid,
    pub request: String,
    /// Unix seconds; past it the record is gone for this purpose (TTL deletes it later).
    pub expires_at: i64,
}

impl SeriesRecord {
    pub fn expired(&self, now: UtcTime) -> bool {
        self.expires_at <= now.timestamp().as_second()
    }
}

/// When a record put at `now` stops counting (Unix seconds).
pub(super) fn expiry(now: UtcTime) -> i64 {
    now.plus(IDEMPOTENCY_TTL).timestamp().as_second()
}

/// A record's put, in the transaction of what it records: it succeeds if no record lives under the
/// key (absent, or past its `expiresAt` and only waiting for TTL to delete it).
pub(super) fn put_unless_live(
    table: &str,
    item: Item,
    now: UtcTime,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK) OR #expires <= :now")
        .expression_attribute_names("#expires", keys::EXPIRES_AT)
        .expression_attribute_values(":now", n(now.timestamp().as_second()))
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_one_to_255_visible_ascii_characters() {
        for ok in ["a", "first-visit", &"k".repeat(255), "~!@#$%^&*()_+{}|:<>?"] {
            assert_eq!(IdempotencyKey::try_from(ok).unwrap().as_str(), ok);
        }
        for bad in ["", " ", "has space", "tab\t", "é", &"k".repeat(256)] {
            assert_eq!(IdempotencyKey::try_from(bad), Err(InvalidKey), "{bad:?}");
        }
        let key = IdempotencyKey::try_from("k").unwrap();
        let caller = Uuid::new_v4();
        assert_ne!(key.booking_record(caller), key.series_record(caller));
        assert_ne!(
            key.booking_record(caller),
            key.booking_record(Uuid::new_v4())
        );
    }

    #[test]
    fn fingerprints_differ_with_what_was_asked() {
        let a = fingerprint(&serde_json::json!(["slot", 1, null]));
        assert_eq!(a, fingerprint(&serde_json::json!(["slot", 1, null])));
        assert_ne!(a, fingerprint(&serde_json::json!(["slot", 2, null])));
        assert_eq!(a.len(), 64);
    }
}
