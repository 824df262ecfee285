//! A location's resources (DESIGN.md section 17): rooms and equipment that slots take for their time, so
//! that one is never in more places at once than it has `capacity` for. Pure rules; the items and their
//! per-day guards are in `store::resources`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Interval, UtcTime};

/// At most this many resources a slot names: each costs a guard per UTC day it touches in the slot's
/// transaction.
pub const MAX_PER_SLOT: usize = 5;
/// At most this many of one resource at once (a room holds one visit; five ECG carts are one resource).
pub const MAX_CAPACITY: u32 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ResourceKind {
    Room,
    Equipment,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resource {
    pub id: Uuid,
    pub location_id: Uuid,
    pub name: String,
    pub kind: ResourceKind,
    /// How many slots may hold it at one time (1 for a room).
    pub capacity: u32,
    /// An inactive resource takes no new slots; the slots that hold it keep it.
    pub active: bool,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
    /// Grows by one with every change.
    #[serde(default)]
    pub version: u64,
}

/// What a slot shows of a resource it holds: the name as it was when the slot took it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlotResource {
    pub id: Uuid,
    pub name: String,
    pub kind: ResourceKind,
}

impl Resource {
    /// `(field, message)` for every value out of range.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = vec![];
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || super::text::has_forbidden(name) {
            out.push(("name", "must be 1 to 100 characters of text"));
        }
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            out.push(("capacity", "must be 1 to 20"));
        }
        out
    }

    pub fn shown(&self) -> SlotResource {
        SlotResource {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind,
        }
    }
}

/// Whether one more holder for `wanted` keeps a resource of `capacity` within it, given the intervals
/// already `taken`: `None` if so, else the taken entries that overlap `wanted` at its busiest instant
/// (sorted by start, then id), which name the conflict. Entries that only touch `wanted` at an end do not
/// overlap it.
pub fn over_capacity<'a>(
    capacity: u32,
    taken: impl IntoIterator<Item = (&'a String, &'a Interval)>,
    wanted: &Interval,
) -> Option<Vec<(String, Interval)>> {
    let overlapping: Vec<(&String, &Interval)> = taken
        .into_iter()
        .filter(|(_, iv)| iv.overlaps(wanted))
        .collect();
    if overlapping.len() < capacity as usize {
        return None; // even all at once they leave room
    }
    // The busiest instant within `wanted` is the start of one of the overlapping entries (or
    // `wanted`'s own start): count there.
    let mut instants: Vec<UtcTime> = overlapping
        .iter()
        .map(|(_, iv)| iv.start().max(wanted.start()))
        .collect();
    instants.sort();
    instants.dedup();
    let mut busiest: Vec<(String, Interval)> = vec![];
    for t in instants {
        let at: Vec<(String, Interval)> = overlapping
            .iter()
            .filter(|(_, iv)| iv.start() <= t && t < iv.end())
            .map(|(id, iv)| ((*id).clone(), **iv))
            .collect();
        if at.len() > busiest.len() {
            busiest = at;
        }
    }
    if busiest.len() < capacity as usize {
        return None;
    }
    busiest.sort_by(|a, b| (a.1.start(), &a.0).cmp(&(b.1.start(), &b.0)));
    Some(busiest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn iv(a: i64, b: i64) -> Interval {
        let base: UtcTime = "2027-01-04T09:00:00Z".parse().unwrap();
        Interval::new(
            base.plus(jiff::SignedDuration::from_mins(a)),
            base.plus(jiff::SignedDuration::from_mins(b)),
        )
        .unwrap()
    }

    #[test]
    fn a_room_holds_one_slot_at_a_time_and_touching_ends_do_not_clash() {
        let taken = HashMap::from([("a".to_owned(), iv(0, 30))]);
        assert_eq!(
            over_capacity(1, &taken, &iv(15, 45)).unwrap(),
            vec![("a".to_owned(), iv(0, 30))]
        );
        assert!(over_capacity(1, &taken, &iv(30, 60)).is_none());
        assert!(over_capacity(1, &taken, &iv(-30, 0)).is_none());
    }

    #[test]
    fn capacity_counts_holders_at_one_instant_not_all_that_overlap() {
        // Two carts: 9:00-9:30 and 9:30-10:00 never hold both at once, so a third 9:00-10:00 fits.
        let taken = HashMap::from([("a".to_owned(), iv(0, 30)), ("b".to_owned(), iv(30, 60))]);
        assert!(over_capacity(2, &taken, &iv(0, 60)).is_none());
        // With 9:15-9:45 as well, 9:15-9:30 holds a and c: a fourth over 9:00-10:00 is one too many.
        let mut more = taken.clone();
        more.insert("c".to_owned(), iv(15, 45));
        let busy = over_capacity(2, &more, &iv(0, 60)).unwrap();
        assert_eq!(
            busy.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
    }

    proptest! {
        /// Against a minute-by-minute count: `over_capacity` refuses exactly when some minute of
        /// `wanted` already has `capacity` holders.
        #[test]
        fn refuses_exactly_when_some_minute_is_full(
            taken in proptest::collection::vec((0i64..120, 1i64..60), 0..8),
            wanted in (0i64..120, 1i64..60),
            capacity in 1u32..4,
        ) {
            let taken: HashMap<String, Interval> = taken
                .iter()
                .enumerate()
                .map(|(i, (s, d))| (format!("e{i}"), iv(*s, s + d)))
                .collect();
            let want = iv(wanted.0, wanted.0 + wanted.1);
            let full = (wanted.0..wanted.0 + wanted.1).any(|m| {
                taken.values().filter(|t| t.overlaps(&iv(m, m + 1))).count() >= capacity as usize
            });
            let refused = over_capacity(capacity, &taken, &want);
            prop_assert_eq!(refused.is_some(), full);
            if let Some(busy) = refused {
                prop_assert_eq!(busy.len(), busy.iter().filter(|(_, t)| t.overlaps(&want)).count());
                prop_assert!(busy.len() >= capacity as usize);
            }
        }
    }
}
