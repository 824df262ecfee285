//! The search index's openings (issue 20, section 3; DESIGN.md section 15), as pure functions: which
//! openings a slot has, where each lives, and what a change of a slot does to them. `publish` will keep
//! them from the stream; nothing here touches AWS.
//!
//! An opening is one open slot under one appointment type it admits (`ANY` when it admits every
//! type), in the partition of that type, the slot's UTC day and a shard of its provider, sorted by
//! start: `OPEN#<type or ANY>#<day>#<shard>` / `<start>#<slotId>`. A search reads, per day of its
//! window, the shards of the type asked for and of `ANY`, so a page costs a bounded number of queries
//! whatever the network's size, and no partition holds one type's whole day.

use jiff::civil::Date;

use super::slot::{Slot, SlotState};
use super::{ProviderId, UtcTime};

/// The shards a type's day is spread over by default.
pub const DEFAULT_SHARDS: u32 = 8;

/// The most shards a deployment may configure.
pub const MAX_SHARDS: u32 = 64;

/// The shard of `provider`'s openings among `shards`: FNV-1a of the provider id's bytes, so the same
/// on every build and platform (std's hasher is seeded per process), modulo `shards`.
pub fn shard(provider: ProviderId, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in provider.uuid().as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(shards.clamp(1, MAX_SHARDS))) as u32
}

/// The appointment type an opening is under: one the slot admits, any (a slot that admits every
/// type), or all (every open slot, whatever it admits: what a search that names no type reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TypeKey {
    All,
    Any,
    Type(uuid::Uuid),
}

impl TypeKey {
    /// The partitions a search reads: a type's and those of the slots that admit any type; without a
    /// type, every open slot's.
    pub fn searched(appointment_type: Option<uuid::Uuid>) -> Vec<TypeKey> {
        match appointment_type {
            Some(t) => vec![TypeKey::Type(t), TypeKey::Any],
            None => vec![TypeKey::All],
        }
    }
}

impl std::fmt::Display for TypeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeKey::All => f.write_str("ALL"),
            TypeKey::Any => f.write_str("ANY"),
            TypeKey::Type(t) => write!(f, "{t}"),
        }
    }
}

/// Where one opening lives: its partition and sort key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpeningKey {
    pub pk: String,
    pub sk: String,
}

/// The partition of `kind`'s openings on UTC `day` in `shard`.
pub fn partition(kind: TypeKey, day: Date, shard: u32) -> String {
    format!("OPEN#{kind}#{day}#{shard}")
}

/// The UTC day an instant falls on.
pub fn utc_day(t: UtcTime) -> Date {
    t.timestamp().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// The openings `slot` has while it has a seat to offer: one per type it admits (`ANY` if it admits
/// every one), and one under `ALL`; none while it is full, blocked or cancelled. Whether it has started is the search's
/// question (an opening of a past slot is never answered, and expires with its day).
pub fn openings(slot: &Slot, shards: u32) -> Vec<OpeningKey> {
    if slot.state() != SlotState::Available {
        return vec![];
    }
    let kinds: Vec<TypeKey> = if slot.allowed_appointment_types.is_empty() {
        vec![TypeKey::Any]
    } else {
        let mut kinds: Vec<TypeKey> = slot
            .allowed_appointment_types
            .iter()
            .copied()
            .map(TypeKey::Type)
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    };
    let kinds = std::iter::once(TypeKey::All).chain(kinds);
    let (day, shard) = (utc_day(slot.start_time), shard(slot.provider_id, shards));
    let sk = format!("{}#{}", slot.start_time, slot.id);
    kinds
        .map(|kind| OpeningKey {
            pk: partition(kind, day, shard),
            sk: sk.clone(),
        })
        .collect()
}

/// What a change of a slot does to its openings: those to (re)write (every current one, so each
/// carries the seats left now) and those to delete (the ones it had and has no more).
pub fn reopening(
    before: Option<&Slot>,
    after: Option<&Slot>,
    shards: u32,
) -> (Vec<OpeningKey>, Vec<OpeningKey>) {
    let old = before.map(|s| openings(s, shards)).unwrap_or_default();
    let new = after.map(|s| openings(s, shards)).unwrap_or_default();
    let gone = old.into_iter().filter(|k| !new.contains(k)).collect();
    (new, gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Interval, SlotId, SlotStatus};
    use proptest::prelude::*;

    fn slot(start: &str, seats: u32, taken: u32) -> Slot {
        let start: UtcTime = start.parse().unwrap();
        let mut s = Slot::open(
            SlotId::new(),
            ProviderId::new(),
            Interval::new(start, start.plus(jiff::SignedDuration::from_mins(30))).unwrap(),
            seats,
            "2030-01-01T00:00:00Z".parse().unwrap(),
        );
        s.current_bookings = taken;
        s
    }

    #[test]
    fn an_open_slot_has_an_opening_per_type_it_admits_and_a_full_one_none() {
        let mut s = slot("2030-03-04T23:30:00Z", 2, 1);
        let keys = openings(&s, 8);
        assert_eq!(keys.len(), 2);
        let shard = shard(s.provider_id, 8);
        assert_eq!(keys[0].pk, format!("OPEN#ALL#2030-03-04#{shard}"));
        assert_eq!(keys[1].pk, format!("OPEN#ANY#2030-03-04#{shard}"));
        assert_eq!(keys[1].sk, format!("2030-03-04T23:30:00Z#{}", s.id));

        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        s.allowed_appointment_types = vec![b, a, b];
        let pks: Vec<String> = openings(&s, 8).into_iter().map(|k| k.pk).collect();
        assert_eq!(pks.len(), 3);
        assert!(pks.iter().all(|p| !p.contains("ANY")));
        assert!(pks[0].starts_with("OPEN#ALL#"));

        // Its last seat taken, blocked or cancelled: no opening, and a change to that deletes them.
        let mut full = s.clone();
        full.current_bookings = 2;
        let (put, gone) = reopening(Some(&s), Some(&full), 8);
        assert!(put.is_empty());
        assert_eq!(gone.len(), 3);
        let mut blocked = s.clone();
        blocked.status = SlotStatus::Blocked;
        assert!(openings(&blocked, 8).is_empty());
        // A seat freed writes them again; a change that keeps them rewrites them, deletes nothing.
        let (put, gone) = reopening(Some(&full), Some(&s), 8);
        assert_eq!((put.len(), gone.len()), (3, 0));
        let (put, gone) = reopening(Some(&s), Some(&s), 8);
        assert_eq!((put.len(), gone.len()), (3, 0));
    }

    #[test]
    fn a_moved_slot_leaves_its_old_day() {
        let before = slot("2030-03-04T10:00:00Z", 1, 0);
        let mut after = before.clone();
        after.start_time = "2030-03-05T10:00:00Z".parse().unwrap();
        let (put, gone) = reopening(Some(&before), Some(&after), 4);
        assert!(put[0].pk.contains("#2030-03-05#"));
        assert!(gone[0].pk.contains("#2030-03-04#"));
    }

    proptest! {
        /// The shard is within range and the same for the same provider, whatever the count asked.
        #[test]
        fn shards_are_stable_and_in_range(bytes in any::<[u8; 16]>(), shards in 0u32..200) {
            let provider = ProviderId::from_uuid(uuid::Uuid::from_bytes(bytes));
            let s = shard(provider, shards);
            prop_assert!(s < shards.clamp(1, MAX_SHARDS));
            prop_assert_eq!(s, shard(provider, shards));
        }
    }

    #[test]
    fn providers_spread_over_the_shards() {
        let mut counts = [0u32; 8];
        for _ in 0..8000 {
            counts[shard(ProviderId::new(), 8) as usize] += 1;
        }
        // 1,000 each on average; a hash that clumps would leave a shard far off.
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }
}
