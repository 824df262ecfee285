//! Guards: one item that lists the intervals an owner has taken, so that "no two overlap" becomes a
//! conditional write. A provider has one guard per UTC day (slots are many); a patient has one guard for
//! all their active appointments (they are few), which lets a booking read it in the same round trip as
//! the slot without first learning the slot's date.
//!
//! Taking time: read the guard, check overlap in code, then in the write transaction
//! `SET intervals.#id = :iv, version = version + 1` under `version = :read` (or create the guard under
//! `attribute_not_exists(PK)`). A concurrent taker moves the version and one of the two retries.
//! Giving time back is `REMOVE intervals.#id` with no version condition: it can only make room.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::{key_item, n, Item, Key, StoreError};
use crate::domain::{hold, Interval, UtcTime};

/// Ended entries removed by one write at the most: each costs about 50 bytes of expression
/// (`intervals.#sN` and a 36-character id in the names), so 20 add about 1 KB to an expression that
/// DynamoDB caps at 4 KB (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
pub const MAX_REMOVALS: usize = 20;

#[derive(Clone, Debug, PartialEq)]
pub struct Guard {
    pub key: Key,
    pub intervals: HashMap<String, Interval>,
    /// `None` when the guard item does not exist yet.
    pub version: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct GuardBody {
    #[serde(default)]
    intervals: HashMap<String, Interval>,
    version: u64,
}

impl Guard {
    pub fn read(key: Key, item: Option<Item>) -> Result<Guard, StoreError> {
        match item {
            None => Ok(Guard {
                key,
                intervals: HashMap::new(),
                version: None,
            }),
            Some(item) => {
                let body: GuardBody = super::from_item(item)?;
                Ok(Guard {
                    key,
                    intervals: body.intervals,
                    version: Some(body.version),
                })
            }
        }
    }

    /// The guards of `keys` from a batch read's `found` items (taken out of it), by key.
    pub fn read_all(
        keys: &[Key],
        found: &mut HashMap<Key, Item>,
    ) -> Result<HashMap<Key, Guard>, StoreError> {
        keys.iter()
            .map(|k| Guard::read(k.clone(), found.remove(k)).map(|g| (k.clone(), g)))
            .collect()
    }

    /// Appointments that have not ended by `now` (a patient's holds are not appointments: they are
    /// counted by [`Guard::live_holds`]).
    pub fn active(&self, now: UtcTime) -> usize {
        self.intervals
            .iter()
            .filter(|(id, v)| v.end() > now && hold::hold_entry_live(id, now).is_none())
            .count()
    }

    /// The patient's holds that still keep a seat at `now`.
    pub fn live_holds(&self, now: UtcTime) -> usize {
        hold::live_holds(self.intervals.keys(), now)
    }

    /// [`Guard::conflicts`] less the holds that have run out by `now` (their lapse is on its way).
    pub fn clashes(&self, iv: &Interval, except: Option<&str>, now: UtcTime) -> Vec<String> {
        let mut ids = self.conflicts(iv, except);
        ids.retain(|id| hold::hold_entry_live(id, now) != Some(false));
        ids
    }

    /// The ids of the entries that overlap `iv`, `except` the entry being moved.
    pub fn conflicts(&self, iv: &Interval, except: Option<&str>) -> Vec<String> {
        let mut ids: Vec<String> = self
            .intervals
            .iter()
            .filter(|(id, taken)| Some(id.as_str()) != except && taken.overlaps(iv))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// The write that records `iv` under `id`, valid only if nobody changed the guard since it was read.
    /// Entries that ended before `now`, and `release` (an entry being moved), are dropped in the same
    /// write, so a guard does not grow forever.
    pub fn take(
        &self,
        table: &str,
        id: &str,
        iv: &Interval,
        now: UtcTime,
        release: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        self.take_all(table, &[(id.to_owned(), *iv)], now, release)
    }

    /// [`Guard::take`] for several entries at once (a day of generated slots).
    pub fn take_all(
        &self,
        table: &str,
        entries: &[(String, Interval)],
        now: UtcTime,
        release: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        for (id, iv) in entries {
            values.insert(id.clone(), serde_dynamo::to_attribute_value(iv)?);
        }
        let Some(version) = self.version else {
            let mut item = key_item(&self.key);
            item.insert("intervals".into(), AttributeValue::M(values));
            item.insert("version".into(), n(1));
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .build()?;
            return Ok(TransactWriteItem::builder().put(put).build());
        };
        let mut names = HashMap::new();
        let mut expression_values =
            HashMap::from([(":one".to_owned(), n(1)), (":read".to_owned(), n(version))]);
        let mut sets = vec![];
        for (i, (id, value)) in values.into_iter().enumerate() {
            names.insert(format!("#e{i}"), id);
            expression_values.insert(format!(":e{i}"), value);
            sets.push(format!("intervals.#e{i} = :e{i}"));
        }
        sets.push("version = version + :one".to_owned());
        let mut expr = format!("SET {}", sets.join(", "));
        let taking: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
        // At most MAX_REMOVALS ended entries go per write (the one being moved always goes), so the
        // expression stays far below DynamoDB's 4 KB; later writes remove the rest.
        let mut stale: Vec<&String> = self
            .intervals
            .iter()
            .filter(|(k, v)| {
                v.end() <= now && Some(k.as_str()) != release && !taking.contains(&k.as_str())
            })
            .map(|(k, _)| k)
            .collect();
        stale.sort();
        stale.truncate(MAX_REMOVALS);
        if let Some(moved) = release
            .and_then(|r| self.intervals.get_key_value(r))
            .map(|(k, _)| k)
        {
            if !taking.contains(&moved.as_str()) {
                stale.push(moved);
            }
        }
        for (i, old) in stale.iter().enumerate() {
            expr.push_str(if i == 0 { " REMOVE " } else { ", " });
            expr.push_str(&format!("intervals.#s{i}"));
            names.insert(format!("#s{i}"), (*old).clone());
        }
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key_item(&self.key)))
            .update_expression(expr)
            .condition_expression("version = :read")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(expression_values))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The write that gives `id`'s time back.
    pub fn give_back(table: &str, key: &Key, id: &str) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key_item(key)))
            .update_expression("REMOVE intervals.#e")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#e", id)
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expression(w: &TransactWriteItem) -> (String, usize) {
        match (w.update(), w.put()) {
            (Some(u), _) => (
                u.update_expression().to_owned(),
                u.expression_attribute_names().map_or(0, |n| n.len()),
            ),
            _ => panic!("an update"),
        }
    }

    #[test]
    fn a_write_removes_a_bounded_number_of_ended_entries_and_stays_under_4_kb() {
        let mut intervals = HashMap::new();
        for i in 0..300 {
            let id = uuid::Uuid::new_v4().to_string();
            let day = 1 + i % 28;
            intervals.insert(
                id,
                iv(
                    &format!("2027-01-{day:02}T09:00:00Z"),
                    &format!("2027-01-{day:02}T09:30:00Z"),
                ),
            );
        }
        let guard = Guard {
            key: Key {
                pk: "P".into(),
                sk: "S".into(),
            },
            intervals,
            version: Some(7),
        };
        let now: UtcTime = "2027-06-01T00:00:00Z".parse().unwrap();
        let new = iv("2027-07-01T09:00:00Z", "2027-07-01T09:30:00Z");
        let w = guard
            .take("t", &uuid::Uuid::new_v4().to_string(), &new, now, None)
            .unwrap();
        let (expr, names) = expression(&w);
        assert_eq!(names, 1 + MAX_REMOVALS);
        let names_bytes: usize = w
            .update()
            .unwrap()
            .expression_attribute_names()
            .unwrap()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        assert!(
            expr.len() + names_bytes < 4096 / 2,
            "{} bytes",
            expr.len() + names_bytes
        );
    }

    #[test]
    fn a_write_with_no_new_entries_still_moves_the_version() {
        let guard = Guard {
            key: Key {
                pk: "P".into(),
                sk: "S".into(),
            },
            intervals: HashMap::new(),
            version: Some(2),
        };
        let w = guard
            .take_all("t", &[], "2027-01-01T00:00:00Z".parse().unwrap(), None)
            .unwrap();
        assert_eq!(expression(&w).0, "SET version = version + :one");
    }

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    #[test]
    fn conflicts_name_every_overlapping_entry_but_the_one_being_moved() {
        let guard = Guard {
            key: Key {
                pk: "P".into(),
                sk: "S".into(),
            },
            intervals: HashMap::from([
                (
                    "a".to_owned(),
                    iv("2027-01-01T09:00:00Z", "2027-01-01T09:30:00Z"),
                ),
                (
                    "b".to_owned(),
                    iv("2027-01-01T09:30:00Z", "2027-01-01T10:00:00Z"),
                ),
                (
                    "c".to_owned(),
                    iv("2027-01-01T11:00:00Z", "2027-01-01T12:00:00Z"),
                ),
            ]),
            version: Some(3),
        };
        let wanted = iv("2027-01-01T09:15:00Z", "2027-01-01T09:45:00Z");
        assert_eq!(guard.conflicts(&wanted, None), vec!["a", "b"]);
        assert_eq!(guard.conflicts(&wanted, Some("a")), vec!["b"]);
        assert!(guard
            .conflicts(&iv("2027-01-01T10:00:00Z", "2027-01-01T11:00:00Z"), None)
            .is_empty());
    }
}
