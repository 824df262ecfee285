//! Cursor paging. A cursor is the query's LastEvaluatedKey, base64url-encoded; when one comes back it
//! must belong to the partition being queried and lie inside the asked range, so it cannot be edited into
//! a way of reading someone else's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

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

/// A Query's answer as a page of `T`, its LastEvaluatedKey as the next cursor.
pub fn of<T: serde::de::DeserializeOwned>(
    out: aws_sdk_dynamodb::operation::query::QueryOutput,
) -> Result<Page<T>, super::StoreError> {
    let next = out.last_evaluated_key.as_ref().map(encode);
    let items = out
        .items
        .unwrap_or_default()
        .into_iter()
        .map(super::from_item)
        .collect::<Result<Vec<T>, _>>()?;
    Ok(Page { items, next })
}

pub fn encode(last_evaluated: &Item) -> String {
    let flat: HashMap<&str, &str> = last_evaluated
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k.as_str(), s.as_str())),
            _ => None,
        })
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flat).expect("a map of strings serializes"))
}

/// Decodes a cursor for a query on index partition `gsi_pk_name = gsi_pk` whose sort key must lie in
/// `[from, to]` (`to: None`: no upper bound; a sort key may begin with any character, so no sentinel
/// string serves as one).
pub fn decode(
    cursor: &str,
    gsi_pk_name: &str,
    gsi_pk: &str,
    gsi_sk_name: &str,
    from: &str,
    to: Option<&str>,
) -> Result<Item, BadCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| BadCursor)?;
    let flat: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| BadCursor)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
