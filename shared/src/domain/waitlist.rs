//! The waitlist's rules, without I/O: what an entry asks for, whether a freed seat matches it, and which
//! waiting entry a seat is offered to first (DESIGN.md section 6).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::calendar::ClockTime;
use super::{AppointmentId, Day, EntryId, PatientId, ProviderId, Slot, SlotId, UtcTime};

/// A window of the day a patient would come in, in the provider's zone: `start` inclusive, `end`
/// exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Window {
    pub start: ClockTime,
    pub end: ClockTime,
}

/// What a waiting patient asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Wish {
    pub patient: PatientId,
    pub provider: ProviderId,
    /// In the provider's zone.
    pub date: Date,
    /// Empty: any time that day.
    pub windows: Vec<Window>,
    pub appointment_type: Option<uuid::Uuid>,
    /// The visit's length, if known: a shorter slot is not what it waits for.
    pub minutes: Option<u32>,
    /// 0 to 10; higher is offered first.
    pub priority: u8,
    pub joined_at: UtcTime,
}

/// The entry's lifecycle: `waiting` -> `offered` (a seat is held for it) -> `accepted`, `declined`, or
/// back to `waiting` when the offer lapses (`expired` after `MAX_OFFERS` lapsed offers); `cancelled`
/// from `waiting` or `offered`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EntryStatus {
    Waiting,
    Offered,
    Accepted,
    Declined,
    Expired,
    Cancelled,
}

impl EntryStatus {
    /// Still in the queue (an offered entry holds a seat until it answers or the offer expires).
    pub fn is_active(self) -> bool {
        matches!(self, EntryStatus::Waiting | EntryStatus::Offered)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Waiting => "waiting",
            EntryStatus::Offered => "offered",
            EntryStatus::Accepted => "accepted",
            EntryStatus::Declined => "declined",
            EntryStatus::Expired => "expired",
            EntryStatus::Cancelled => "cancelled",
        }
    }
}

/// A waitlist entry as stored and shown. `notes` are the patient's words: never in logs or events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    pub id: EntryId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_type_id: Option<uuid::Uuid>,
    /// How long the visit lasts (the type's length when it joined, a follow-up's visit's): only a slot
    /// at least this long is offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_minutes: Option<u32>,
    /// In the provider's zone.
    pub preferred_date: Day,
    /// Empty: any time that day.
    #[serde(default)]
    pub preferred_time_slots: Vec<Window>,
    /// 0 to 10; higher is offered first. Set only by staff and admins (default 0).
    pub priority: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub status: EntryStatus,
    /// The seat held for this entry while `offered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_slot_id: Option<SlotId>,
    /// An offer of a visit longer than one slot: every slot of its run (the first is
    /// `offeredSlotId`), a seat of each held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_slot_ids: Vec<SlotId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_start_time: Option<UtcTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_expires_at: Option<UtcTime>,
    /// Offers made so far (each lapsed one counts towards `MAX_OFFERS`).
    #[serde(default)]
    pub offer_count: u32,
    /// Slots already offered to this entry: a lapsed offer is not made again for the same slot.
    #[serde(default)]
    pub offered_slots: Vec<SlotId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_appointment_id: Option<AppointmentId>,
    /// How the visit will be held (an accept without one takes it): a follow-up keeps its visit's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consultation_type: Option<super::ConsultationType>,
    /// The completed visit that asked for this follow-up, for an entry the service made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_of: Option<AppointmentId>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

impl Entry {
    /// A new entry, waiting since `now`, for any time of `date` (set the rest as asked).
    pub fn waiting(patient: PatientId, provider: ProviderId, date: Day, now: UtcTime) -> Entry {
        Entry {
            id: EntryId::new(),
            patient_id: patient,
            provider_id: provider,
            appointment_type_id: None,
            visit_minutes: None,
            preferred_date: date,
            preferred_time_slots: vec![],
            priority: 0,
            notes: None,
            status: EntryStatus::Waiting,
            offered_slot_id: None,
            offered_slot_ids: vec![],
            offered_start_time: None,
            offer_expires_at: None,
            offer_count: 0,
            offered_slots: vec![],
            accepted_appointment_id: None,
            consultation_type: None,
            follow_up_of: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The entry a completed visit's follow-up becomes (DESIGN.md section 16): its patient on its
    /// provider's waitlist for `date`, with its type and consultation type, at `priority`. Its id is
    /// the visit's follow-up id ([`follow_up_entry_id`]), so the follow-up's event names it and a
    /// repeated job makes no second one.
    pub fn follow_up(a: &super::Appointment, date: Day, priority: u8, now: UtcTime) -> Entry {
        let mut e = Entry::waiting(a.patient_id, a.provider_id, date, now);
        e.id = follow_up_entry_id(a.id);
        e.appointment_type_id = a.appointment_type_id;
        e.visit_minutes = Some(
            a.start_time
                .until(a.end_time)
                .as_mins()
                .clamp(0, i64::from(u32::MAX)) as u32,
        );
        e.consultation_type = Some(a.consultation_type);
        e.priority = priority;
        e.follow_up_of = Some(a.id);
        e
    }

    /// What the entry waits for.
    pub fn wish(&self) -> Wish {
        Wish {
            patient: self.patient_id,
            provider: self.provider_id,
            date: self.preferred_date.date(),
            windows: self.preferred_time_slots.clone(),
            appointment_type: self.appointment_type_id,
            minutes: self.visit_minutes,
            priority: self.priority,
            joined_at: self.created_at,
        }
    }

    /// The seats an offer holds: its slot's, or its run's (none when no offer stands).
    pub fn offered_seats(&self) -> Vec<SlotId> {
        self.offered_slot_id
            .map(|first| super::admission::seats(first, &self.offered_slot_ids))
            .unwrap_or_default()
    }

    /// The held seat's slot, while the offer stands at `now`.
    pub fn live_offer(&self, now: UtcTime) -> Option<SlotId> {
        match (self.status, self.offered_slot_id, self.offer_expires_at) {
            (EntryStatus::Offered, Some(slot), Some(until)) if now < until => Some(slot),
            _ => None,
        }
    }

    /// The entry as `who` may see it: the patient's notes only for the patient, the provider, staff
    /// and admins (all of whom may see the entry at all).
    pub fn may_be_seen_by(&self, who: &super::Caller) -> bool {
        who.is_staff() || who.is_patient(self.patient_id) || who.is_provider(self.provider_id)
    }
}

/// The id of the waitlist entry a visit's follow-up becomes: the same for every delivery of the job.
pub fn follow_up_entry_id(appointment: AppointmentId) -> EntryId {
    let name = format!("follow-up/{appointment}");
    EntryId::from_uuid(uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        name.as_bytes(),
    ))
}

/// Which waiting entry a freed seat of `slot` is offered to, with the slots the offer holds (`slot`,
/// or the run a longer visit takes: [`run_for`]): the best by [`rank`] among those still `waiting`
/// that were not offered this slot before and that the seat (or its run) matches.
pub fn next_for<'a, 's>(
    entries: &'a [Entry],
    slot: &'s Slot,
    following: &'s [Slot],
    zone: &TimeZone,
    now: UtcTime,
) -> Option<(&'a Entry, Vec<&'s Slot>)> {
    entries
        .iter()
        .filter(|e| e.status == EntryStatus::Waiting && !e.offered_slots.contains(&slot.id))
        .filter_map(|e| {
            let wish = e.wish();
            let run = run_for(wish.minutes, slot, following, now)?;
            matches_run(&wish, &run, zone).then_some((e, wish, run))
        })
        .min_by_key(|(_, w, _)| rank(w))
        .map(|(e, _, run)| (e, run))
}

/// The order wishes are served in: the highest priority, then the one waiting longest, then the
/// lowest patient id (so the choice never depends on read order).
fn rank(w: &Wish) -> (std::cmp::Reverse<u8>, UtcTime, PatientId) {
    (std::cmp::Reverse(w.priority), w.joined_at, w.patient)
}

/// Why a wish cannot be entered as asked.
pub fn problems(wish: &Wish, today: Date) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![];
    if wish.date < today {
        out.push(("preferredDate", "must be today or later"));
    }
    if wish.windows.len() > 6 {
        out.push(("preferredTimeSlots", "at most 6 windows"));
    }
    if wish.windows.iter().any(|w| w.end <= w.start) {
        out.push(("preferredTimeSlots", "each window must end after it starts"));
    }
    if wish.priority > 10 {
        out.push(("priority", "must be 0 to 10"));
    }
    out
}

/// Whether `slot` (in `zone`, the provider's) is what `wish` waits for: the provider, the local date,
/// the start inside one of the windows (if any), the visit's length, the type admitted by the slot
/// (if one was asked).
pub fn matches(wish: &Wish, slot: &Slot, zone: &TimeZone) -> bool {
    matches_run(wish, &[slot], zone)
}

/// [`matches`] of the run a longer visit takes (its slots in order): its first slot's provider, date
/// and start, the run's length, every slot admitting the type.
pub fn matches_run(wish: &Wish, run: &[&Slot], zone: &TimeZone) -> bool {
    let (Some(slot), Some(last)) = (run.first(), run.last()) else {
        return false;
    };
    if slot.provider_id != wish.provider {
        return false;
    }
    let local = slot
        .start_time
        .timestamp()
        .to_zoned(zone.clone())
        .datetime();
    if local.date() != wish.date {
        return false;
    }
    let at = ClockTime::hm(local.hour(), local.minute());
    if !wish.windows.is_empty() && !wish.windows.iter().any(|w| w.start <= at && at < w.end) {
        return false;
    }
    let has = slot.start_time.until(last.end_time).as_mins();
    if wish.minutes.is_some_and(|m| i64::from(m) > has) {
        return false;
    }
    run.iter().all(|s| match wish.appointment_type {
        Some(t) => {
            s.allowed_appointment_types.is_empty() || s.allowed_appointment_types.contains(&t)
        }
        None => s.allowed_appointment_types.is_empty(),
    })
}

/// The slots a freed seat of `slot` is offered as to a wish of `minutes`: `slot` alone when the visit
/// fits (or its length is not known), else the run that starts with it ([`super::admission::chain`]
/// over `following`, the provider's next slots by start), each of its later slots open with a seat
/// free at `now`; `None` when no such run covers the visit.
pub fn run_for<'a>(
    minutes: Option<u32>,
    slot: &'a Slot,
    following: &'a [Slot],
    now: UtcTime,
) -> Option<Vec<&'a Slot>> {
    match minutes {
        Some(m) if super::admission::fits(slot, m).is_err() => {
            let run = super::admission::chain(slot, following, m).ok()?;
            run[1..]
                .iter()
                .all(|s| super::admission::bookable(s, now, false).is_ok())
                .then_some(run)
        }
        _ => Some(vec![slot]),
    }
}

/// How an entry's answer or cancellation ends it (or, for a lapse, returns it to the queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Cancel,
    Decline,
    /// The offer's time ran out: the entry waits again, or expires after `max_offers` offers.
    Lapse {
        max_offers: u32,
    },
}

/// Why an ending does not apply to an entry as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotEnded {
    /// The entry has ended already (accepted, declined, expired, cancelled).
    Closed(EntryStatus),
    /// A decline of an offer that lapsed before the answer.
    OfferExpired,
    /// A decline of an entry never offered a seat.
    NoOffer,
}

use EntryStatus as E;

/// The endings of an entry's life: from which status each leads to which. An ending not listed for
/// an active status is refused ([`NotEnded`]); a lapse of an offer past `max_offers` expires the entry
/// instead of returning it to the queue.
const ENDINGS: &[(Kind, EntryStatus, EntryStatus)] = &[
    (Kind::Cancel, E::Waiting, E::Cancelled),
    (Kind::Cancel, E::Offered, E::Cancelled),
    (Kind::Decline, E::Offered, E::Declined),
    (Kind::Lapse, E::Offered, E::Waiting),
];

/// An ending without its parameters: the table's first column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cancel,
    Decline,
    Lapse,
}

impl Ending {
    fn kind(self) -> Kind {
        match self {
            Ending::Cancel => Kind::Cancel,
            Ending::Decline => Kind::Decline,
            Ending::Lapse { .. } => Kind::Lapse,
        }
    }

    /// The status `entry` (as read) moves to, `Ok(None)` when there is nothing to write (a repeated
    /// cancel; a lapse of an offer answered or ended since), or why it cannot end so.
    pub fn of(self, entry: &Entry) -> Result<Option<EntryStatus>, NotEnded> {
        let row = ENDINGS
            .iter()
            .find(|(kind, from, _)| *kind == self.kind() && *from == entry.status);
        match (row, self) {
            (Some((_, _, E::Waiting)), Ending::Lapse { max_offers })
                if entry.offer_count >= max_offers =>
            {
                Ok(Some(E::Expired))
            }
            (Some((_, _, to)), _) => Ok(Some(*to)),
            (None, Ending::Cancel) if entry.status == E::Cancelled => Ok(None),
            (None, _) if !entry.status.is_active() => Err(NotEnded::Closed(entry.status)),
            (None, Ending::Lapse { .. }) => Ok(None),
            (None, Ending::Decline) if entry.offer_count > 0 => Err(NotEnded::OfferExpired),
            (None, _) => Err(NotEnded::NoOffer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wish a freed seat of `slot` goes to first, as [`next_for`] ranks them.
    fn first<'a>(waiting: &'a [Wish], slot: &Slot, zone: &TimeZone) -> Option<&'a Wish> {
        waiting
            .iter()
            .filter(|w| matches(w, slot, zone))
            .min_by_key(|w| rank(w))
    }

    #[test]
    fn an_entry_ends_only_along_its_table() {
        let at = |status: EntryStatus, offers: u32| {
            let mut e = Entry::waiting(
                PatientId::new(),
                ProviderId::new(),
                "2031-03-04".parse().unwrap(),
                "2031-03-01T09:00:00Z".parse().unwrap(),
            );
            e.status = status;
            e.offer_count = offers;
            e
        };
        let lapse = Ending::Lapse { max_offers: 3 };
        use EntryStatus::*;
        let cases = [
            (Ending::Cancel, at(Waiting, 0), Ok(Some(Cancelled))),
            (Ending::Cancel, at(Offered, 1), Ok(Some(Cancelled))),
            (Ending::Cancel, at(Cancelled, 0), Ok(None)),
            (
                Ending::Cancel,
                at(Accepted, 1),
                Err(NotEnded::Closed(Accepted)),
            ),
            (Ending::Decline, at(Offered, 1), Ok(Some(Declined))),
            (Ending::Decline, at(Waiting, 1), Err(NotEnded::OfferExpired)),
            (Ending::Decline, at(Waiting, 0), Err(NotEnded::NoOffer)),
            (
                Ending::Decline,
                at(Expired, 3),
                Err(NotEnded::Closed(Expired)),
            ),
            (lapse, at(Offered, 1), Ok(Some(Waiting))),
            (lapse, at(Offered, 3), Ok(Some(Expired))),
            (lapse, at(Waiting, 1), Ok(None)),
            (lapse, at(Declined, 1), Err(NotEnded::Closed(Declined))),
        ];
        for (how, entry, want) in cases {
            assert_eq!(how.of(&entry), want, "{how:?} of {:?}", entry.status);
        }
    }
    use crate::domain::{Interval, SlotId};
    use jiff::SignedDuration;
    use proptest::prelude::*;

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    fn slot(provider: ProviderId, start: &str) -> Slot {
        let start = t(start);
        Slot::open(
            SlotId::new(),
            provider,
            Interval::new(start, start.plus(SignedDuration::from_mins(30))).unwrap(),
            1,
            t("2030-01-01T00:00:00Z"),
        )
    }

    fn wish(provider: ProviderId, date: &str, priority: u8, joined: &str) -> Wish {
        Wish {
            patient: PatientId::new(),
            provider,
            date: date.parse().unwrap(),
            windows: vec![],
            appointment_type: None,
            minutes: None,
            priority,
            joined_at: t(joined),
        }
    }

    fn window(a: (i8, i8), b: (i8, i8)) -> Window {
        Window {
            start: ClockTime::hm(a.0, a.1),
            end: ClockTime::hm(b.0, b.1),
        }
    }

    #[test]
    fn a_long_visit_is_offered_the_free_run_that_starts_with_the_seat() {
        let now: UtcTime = "2030-03-01T09:00:00Z".parse().unwrap();
        let provider = ProviderId::new();
        let twenty = |at: &str| {
            let start: UtcTime = format!("2030-03-04T{at}:00Z").parse().unwrap();
            let end = start.plus(jiff::SignedDuration::from_mins(20));
            Slot::open(
                SlotId::new(),
                provider,
                super::super::Interval::new(start, end).unwrap(),
                1,
                now,
            )
        };
        let seat = twenty("09:00");
        let mut after = vec![twenty("09:20"), twenty("09:40"), twenty("10:00")];
        let date: Day = "2030-03-04".parse().unwrap();
        let mut long = Entry::waiting(PatientId::new(), provider, date, now);
        long.visit_minutes = Some(60);
        let mut short = Entry::waiting(PatientId::new(), provider, date, now);
        short.created_at = now.plus(jiff::SignedDuration::from_mins(1));
        let entries = vec![long.clone(), short.clone()];
        let ids = |run: &[&Slot]| run.iter().map(|s| s.id).collect::<Vec<_>>();
        let (e, run) = next_for(&entries, &seat, &after, &TimeZone::UTC, now).unwrap();
        assert_eq!(
            (e.id, ids(&run)),
            (long.id, vec![seat.id, after[0].id, after[1].id])
        );
        // A taken slot inside the run: the long entry is skipped, the seat goes to the next.
        after[1].current_bookings = 1;
        let (e, run) = next_for(&entries, &seat, &after, &TimeZone::UTC, now).unwrap();
        assert_eq!((e.id, ids(&run)), (short.id, vec![seat.id]));
        assert_eq!(run_for(Some(60), &seat, &after, now), None);
        assert_eq!(
            run_for(Some(20), &seat, &after, now).map(|r| r.len()),
            Some(1)
        );
    }

    #[test]
    fn a_seat_matches_the_local_date_the_windows_and_the_type() {
        let p = ProviderId::new();
        let ny = TimeZone::get("America/New_York").unwrap();
        // 2030-03-05 01:30 UTC is 2030-03-04 20:30 in New York.
        let s = slot(p, "2030-03-05T01:30:00Z");
        let mut w = wish(p, "2030-03-04", 0, "2030-03-01T00:00:00Z");
        assert!(matches(&w, &s, &ny));
        assert!(!matches(&w, &s, &TimeZone::UTC), "in UTC it is the 5th");
        w.windows = vec![window((9, 0), (12, 0))];
        assert!(!matches(&w, &s, &ny));
        w.windows.push(window((20, 0), (21, 0)));
        assert!(matches(&w, &s, &ny));
        // A window ends where it says: a 20:30 start is outside [20:00, 20:30).
        w.windows = vec![window((20, 0), (20, 30))];
        assert!(!matches(&w, &s, &ny));
        let other = ProviderId::new();
        assert!(!matches(
            &wish(other, "2030-03-04", 0, "2030-03-01T00:00:00Z"),
            &s,
            &ny
        ));
        let mut typed = s.clone();
        typed.allowed_appointment_types = vec![uuid::Uuid::new_v4()];
        assert!(!matches(
            &wish(p, "2030-03-04", 0, "2030-03-01T00:00:00Z"),
            &typed,
            &ny
        ));
        let mut wants = wish(p, "2030-03-04", 0, "2030-03-01T00:00:00Z");
        wants.appointment_type = Some(typed.allowed_appointment_types[0]);
        assert!(matches(&wants, &typed, &ny));
        // A visit longer than the slot is not what the wish waits for.
        let minutes = typed.interval().duration().as_mins() as u32;
        wants.minutes = Some(minutes);
        assert!(matches(&wants, &typed, &ny));
        wants.minutes = Some(minutes + 1);
        assert!(!matches(&wants, &typed, &ny));
    }

    #[test]
    fn bad_wishes_are_named() {
        let p = ProviderId::new();
        let mut w = wish(p, "2030-03-03", 11, "2030-03-01T00:00:00Z");
        w.windows = vec![window((10, 0), (9, 0))];
        let fields: Vec<&str> = problems(&w, "2030-03-04".parse().unwrap())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["preferredDate", "preferredTimeSlots", "priority"]);
    }

    proptest! {
        /// The seat goes to a matching wish, and no matching wish outranks it: higher priority first,
        /// then the one waiting longest.
        #[test]
        fn the_first_is_the_best_match(
            wishes in prop::collection::vec((0u8..=10, 0i64..1000, any::<bool>()), 0..12),
        ) {
            let p = ProviderId::new();
            let s = slot(p, "2030-03-04T10:00:00Z");
            let queue: Vec<Wish> = wishes
                .iter()
                .map(|(priority, joined, same_day)| {
                    let mut w = wish(p, if *same_day { "2030-03-04" } else { "2030-03-05" }, *priority, "2030-03-01T00:00:00Z");
                    w.joined_at = w.joined_at.plus(SignedDuration::from_mins(*joined));
                    w
                })
                .collect();
            let chosen = first(&queue, &s, &TimeZone::UTC);
            let matching: Vec<&Wish> = queue.iter().filter(|w| matches(w, &s, &TimeZone::UTC)).collect();
            prop_assert_eq!(chosen.is_some(), !matching.is_empty());
            if let Some(c) = chosen {
                prop_assert!(matches(c, &s, &TimeZone::UTC));
                for w in matching {
                    prop_assert!(
                        w.priority < c.priority || (w.priority == c.priority && w.joined_at >= c.joined_at)
                    );
                }
            }
        }
    }
}
