//! Cursor paging. A cursor is the query's LastEvaluatedKey, sealed: encrypted and authenticated with
//! XChaCha20-Poly1305 under the stack's cursor key (`CURSOR_KEY`), so a client can neither read the
//! table's keys in it nor make one up. When one comes back it must open under that key, belong to the
//! partition being queried and lie inside the asked range, so it cannot be moved to someone else's
//! partition either.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use super::{s, Item};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not valid for this query")]
pub struct BadCursor;

/// One page of results and the cursor of the next, if any.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Seals and opens cursors under one key: the stack's (`CURSOR_KEY`, every function of a deployment
/// the same), or a random one for a store that pages only within its own process (tests, tools).
#[derive(Clone)]
pub struct Cursors(Arc<XChaCha20Poly1305>);

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cursors(..)")
    }
}

/// XChaCha20's nonce: 24 random bytes, so random nonces never repeat in practice.
const NONCE: usize = 24;

impl Cursors {
    /// Cursors under a key derived from `secret` (SHA-256 of it: any length and alphabet will do).
    pub fn with_secret(secret: &str) -> Cursors {
        let key = Sha256::digest(secret.as_bytes());
        Cursors(Arc::new(XChaCha20Poly1305::new(&key)))
    }

    /// Cursors under a key of this process alone.
    pub fn random() -> Cursors {
        let secret = format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        Self::with_secret(&secret)
    }

    /// A Query's answer as a page of `T`, its LastEvaluatedKey as the next cursor.
    pub fn page<T: serde::de::DeserializeOwned>(
        &self,
        out: aws_sdk_dynamodb::operation::query::QueryOutput,
    ) -> Result<Page<T>, super::StoreError> {
        let next = out.last_evaluated_key.as_ref().map(|k| self.seal(k));
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(super::from_item)
            .collect::<Result<Vec<T>, _>>()?;
        Ok(Page { items, next })
    }

    /// The sealed cursor of a LastEvaluatedKey (its string attributes: every key of the table is one).
    pub fn seal(&self, last_evaluated: &Item) -> String {
        let flat: std::collections::BTreeMap<&str, &str> = last_evaluated
            .iter()
            .filter_map(|(k, v)| match v {
                AttributeValue::S(s) => Some((k.as_str(), s.as_str())),
                _ => None,
            })
            .collect();
        // A map of strings always serializes.
        let plain = serde_json::to_vec(&flat).unwrap_or_default();
        let mut nonce = [0u8; NONCE];
        nonce[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        nonce[16..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
        // Encrypting a buffer in memory fails only past ChaCha20's 256 GiB per nonce.
        let sealed = self
            .0
            .encrypt(XNonce::from_slice(&nonce), plain.as_slice())
            .unwrap_or_default();
        URL_SAFE_NO_PAD.encode([&nonce[..], &sealed].concat())
    }

    fn open(&self, cursor: &str) -> Result<HashMap<String, String>, BadCursor> {
        // A cursor of a real page is far below this; a longer one is not worth decoding.
        if cursor.len() > 4096 {
            return Err(BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| BadCursor)?;
        if bytes.len() <= NONCE {
            return Err(BadCursor);
        }
        let (nonce, sealed) = bytes.split_at(NONCE);
        let plain = self
            .0
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| BadCursor)?;
        serde_json::from_slice(&plain).map_err(|_| BadCursor)
    }

    /// The cursor of a position in a merged search (not one query's key): the position and the
    /// search it belongs to (`scope`, a digest of what was asked), sealed like any cursor.
    pub fn seal_position(&self, scope: &str, position: &str) -> String {
        let mut item = Item::new();
        item.insert("scope".into(), s(scope));
        item.insert("after".into(), s(position));
        self.seal(&item)
    }

    /// The position a cursor of [`Cursors::seal_position`] holds, if it opens under this key and
    /// belongs to `scope`.
    pub fn open_position(&self, cursor: &str, scope: &str) -> Result<String, BadCursor> {
        let mut flat = self.open(cursor)?;
        if flat.len() != 2 || flat.get("scope").map(String::as_str) != Some(scope) {
            return Err(BadCursor);
        }
        flat.remove("after")
            .filter(|a| !a.is_empty() && a.len() <= 1024)
            .ok_or(BadCursor)
    }

    /// Opens a cursor for a query on index partition `gsi_pk_name = gsi_pk` whose sort key must lie in
    /// `[from, to]` (`to: None`: no upper bound; a sort key may begin with any character, so no
    /// sentinel string serves as one).
    pub fn decode(
        &self,
        cursor: &str,
        gsi_pk_name: &str,
        gsi_pk: &str,
        gsi_sk_name: &str,
        from: &str,
        to: Option<&str>,
    ) -> Result<Item, BadCursor> {
        let flat = self.open(cursor)?;
        if flat.len() != 4 || flat.get(gsi_pk_name).map(String::as_str) != Some(gsi_pk) {
            return Err(BadCursor);
        }
        // Keys are never empty, and DynamoDB caps a sort key at 1,024 bytes (a partition key at 2,048):
        // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
        if flat.values().any(|v| v.is_empty() || v.len() > 1024) {
            return Err(BadCursor);
        }
        let sk = flat.get(gsi_sk_name).ok_or(BadCursor)?;
        if sk.as_str() < from
            || to.is_some_and(|to| sk.as_str() > to)
            || !flat.contains_key(super::keys::PK)
            || !flat.contains_key(super::keys::SK)
        {
            return Err(BadCursor);
        }
        Ok(flat.into_iter().map(|(k, v)| (k, s(v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursors() -> &'static Cursors {
        static KEY: std::sync::OnceLock<Cursors> = std::sync::OnceLock::new();
        KEY.get_or_init(|| Cursors::with_secret("the stack's key"))
    }

    fn encode(k: &Item) -> String {
        cursors().seal(k)
    }

    fn decode(
        c: &str,
        pk_name: &str,
        pk: &str,
        sk_name: &str,
        from: &str,
        to: Option<&str>,
    ) -> Result<Item, BadCursor> {
        cursors().decode(c, pk_name, pk, sk_name, from, to)
    }

    #[test]
    fn a_cursor_shows_nothing_of_the_table_and_opens_only_under_its_key_untouched() {
        let k = key("PROVIDER#a#SLOTS", "2027-01-02T09:00:00Z#x");
        let c = encode(&k);
        let bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("PROVIDER") && !text.contains("SLOT"),
            "{text}"
        );
        assert_ne!(c, encode(&k), "a fresh nonce each time");
        let other = Cursors::with_secret("another stack's key");
        assert_eq!(
            other.decode(&c, "GSI1PK", "PROVIDER#a#SLOTS", "GSI1SK", "", None),
            Err(BadCursor)
        );
        for at in [0, NONCE, bytes.len() - 1] {
            let mut tampered = bytes.clone();
            tampered[at] ^= 1;
            let tampered = URL_SAFE_NO_PAD.encode(tampered);
            assert_eq!(
                decode(&tampered, "GSI1PK", "PROVIDER#a#SLOTS", "GSI1SK", "", None),
                Err(BadCursor),
                "byte {at} flipped"
            );
        }
        // What an unsealed cursor of old looked like: base64url JSON of the keys.
        let plain = URL_SAFE_NO_PAD.encode(
            br#"{"PK":"SLOT#1","SK":"SLOT","GSI1PK":"PROVIDER#a#SLOTS","GSI1SK":"2027-01-02"}"#,
        );
        assert_eq!(
            decode(&plain, "GSI1PK", "PROVIDER#a#SLOTS", "GSI1SK", "", None),
            Err(BadCursor)
        );
    }

    fn key(gpk: &str, gsk: &str) -> Item {
        HashMap::from([
            ("PK".to_owned(), s("SLOT#1")),
            ("SK".to_owned(), s("SLOT")),
            ("GSI1PK".to_owned(), s(gpk)),
            ("GSI1SK".to_owned(), s(gsk)),
        ])
    }

    #[test]
    fn a_cursor_round_trips_within_its_own_partition_and_range() {
        let k = key("PROVIDER#a#SLOTS", "2027-01-02T09:00:00Z#x");
        let c = encode(&k);
        assert_eq!(
            decode(
                &c,
                "GSI1PK",
                "PROVIDER#a#SLOTS",
                "GSI1SK",
                "2027-01-01",
                Some("2027-01-03")
            ),
            Ok(k)
        );
    }

    #[test]
    fn a_cursor_cannot_be_moved_to_another_partition_or_range_or_forged() {
        let c = encode(&key("PROVIDER#a#SLOTS", "2027-01-02T09:00:00Z#x"));
        assert_eq!(
            decode(
                &c,
                "GSI1PK",
                "PROVIDER#b#SLOTS",
                "GSI1SK",
                "2027-01-01",
                Some("2027-01-03")
            ),
            Err(BadCursor)
        );
        assert_eq!(
            decode(
                &c,
                "GSI1PK",
                "PROVIDER#a#SLOTS",
                "GSI1SK",
                "2027-01-03",
                Some("2027-01-04")
            ),
            Err(BadCursor)
        );
        // No upper bound: a sort key that begins with any letter is inside.
        let accented = key("TYPES", "échographie#x");
        assert_eq!(
            decode(&encode(&accented), "GSI1PK", "TYPES", "GSI1SK", "", None),
            Ok(accented)
        );
        // A real cursor with its table key edited to nothing or to something no key can be.
        for pk in [String::new(), "A".repeat(3000)] {
            let mut edited = key("PROVIDER#a#SLOTS", "2027-01-02T09:00:00Z#x");
            edited.insert("PK".into(), s(pk));
            assert_eq!(
                decode(
                    &encode(&edited),
                    "GSI1PK",
                    "PROVIDER#a#SLOTS",
                    "GSI1SK",
                    "",
                    None
                ),
                Err(BadCursor)
            );
        }
        for junk in ["", "!!!", "e30", "bm90IGpzb24"] {
            assert_eq!(
                decode(junk, "GSI1PK", "PROVIDER#a#SLOTS", "GSI1SK", "", None),
                Err(BadCursor),
                "{junk}"
            );
        }
    }
}
