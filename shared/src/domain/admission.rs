//! Who gets a seat: whether a slot can be booked now, and whether it admits an appointment type in a
//! consultation type. Booking, rescheduling and (later) the waitlist ask the same two questions; the
//! store asks them of the slot it read and again of the slot a failed condition returns.

use super::{AppointmentType, ConsultationType, Slot, SlotStatus, UtcTime};

/// Why a seat cannot be given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Inadmissible {
    #[error("every seat of this slot is taken")]
    SlotFull,
    #[error("the slot cannot be booked: {0}")]
    SlotUnavailable(&'static str),
    #[error("the appointment type is no longer offered")]
    TypeInactive,
    #[error("this slot does not allow that appointment type")]
    TypeNotAllowed,
    /// A booking without a type, in a slot that admits only these.
    #[error("this slot takes only appointments of these types (give appointmentTypeId): {}", list(.0))]
    TypeRequired(Vec<uuid::Uuid>),
    #[error("the appointment type is not offered as that consultation type")]
    ConsultationNotOffered,
    /// The type lasts longer than the slot, and than the run of consecutive slots that follows it.
    #[error("the appointment type lasts {needs} minutes and this slot {has} (with at most {MAX_RUN} consecutive slots of the provider at the same place, this one first): book it where it fits")]
    SlotTooShort { needs: u32, has: i64 },
    /// A slot of the run a long visit needs cannot be given.
    #[error("slot {0} of the run this visit needs: {1}")]
    InRun(super::SlotId, Box<Inadmissible>),
}

fn list(ids: &[uuid::Uuid]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The most slots one visit takes. Each is one more write in the transaction that books (or holds,
/// or moves) it, which DynamoDB caps at 100 actions
/// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html); a
/// reschedule writes both runs. A longer visit needs longer slots.
pub const MAX_RUN: usize = 12;

/// Whether `slot`, as stored, has a seat to give at `now` (`overbook`: one beyond `maxBookings`).
pub fn bookable(slot: &Slot, now: UtcTime, overbook: bool) -> Result<(), Inadmissible> {
    match slot.status {
        SlotStatus::Blocked => Err(Inadmissible::SlotUnavailable("the slot is blocked")),
        SlotStatus::Cancelled => Err(Inadmissible::SlotUnavailable("the slot is cancelled")),
        SlotStatus::Available if slot.start_time <= now => Err(Inadmissible::SlotUnavailable(
            "the slot has already started",
        )),
        SlotStatus::Available
            if slot.current_bookings >= slot.max_bookings + u32::from(overbook) =>
        {
            Err(Inadmissible::SlotFull)
        }
        SlotStatus::Available => Ok(()),
    }
}

/// The consultation type a booking of `kind` (or of no type) gets in `slot`, if the slot admits the
/// type and the type offers what was `asked` (nothing asked: the type's first).
pub fn admit(
    slot: &Slot,
    kind: Option<&AppointmentType>,
    asked: Option<ConsultationType>,
) -> Result<ConsultationType, Inadmissible> {
    let Some(kind) = kind else {
        return if slot.allowed_appointment_types.is_empty() {
            Ok(asked.unwrap_or_default())
        } else {
            Err(Inadmissible::TypeRequired(
                slot.allowed_appointment_types.clone(),
            ))
        };
    };
    let admitted = admit_kind(slot, kind, asked);
    if matches!(
        admitted,
        Err(Inadmissible::TypeInactive | Inadmissible::TypeNotAllowed)
    ) {
        return admitted;
    }
    fits(slot, kind.duration_minutes)?;
    admitted
}

/// [`admit`] of a run already held for one patient (a waitlist offer's): the type (or no type)
/// admitted by each of its slots in one consultation type, the first's. One slot: [`admit`].
pub fn admit_run(
    run: &[&Slot],
    kind: Option<&AppointmentType>,
    asked: Option<ConsultationType>,
) -> Result<ConsultationType, Inadmissible> {
    let Some((first, rest)) = run.split_first() else {
        return Err(Inadmissible::SlotUnavailable("an offer of no slot"));
    };
    let each = |s: &Slot, asked| match kind {
        Some(k) => admit_kind(s, k, asked),
        None => admit(s, None, asked),
    };
    if rest.is_empty() {
        return admit(first, kind, asked);
    }
    let consultation = each(first, asked)?;
    for s in rest {
        each(s, Some(consultation)).map_err(|e| Inadmissible::InRun(s.id, Box::new(e)))?;
    }
    Ok(consultation)
}

/// [`admit`] of a type without its length: it is the run's, not the slot's.
fn admit_kind(
    slot: &Slot,
    kind: &AppointmentType,
    asked: Option<ConsultationType>,
) -> Result<ConsultationType, Inadmissible> {
    if !kind.is_active {
        return Err(Inadmissible::TypeInactive);
    }
    if !slot.allowed_appointment_types.is_empty()
        && !slot.allowed_appointment_types.contains(&kind.id)
    {
        return Err(Inadmissible::TypeNotAllowed);
    }
    kind.consultation(asked)
        .ok_or(Inadmissible::ConsultationNotOffered)
}

/// The slots a visit of `kind` takes when it starts in `first` (issue 22, section 3): `first` alone
/// when the visit fits in it ([`admit`]'s answer); else `first` and, from `following` (the provider's
/// slots that start after it, by start), those that each start where the last ends, at the same
/// location with the same rooms and equipment, until the visit is covered. Every slot of the run must
/// be bookable at `now` and admit the type in one consultation type (the first's); the one that does
/// not is named. `first` itself is checked by the caller (bookable, or held).
pub fn run<'a>(
    first: &'a Slot,
    following: &'a [Slot],
    kind: Option<&AppointmentType>,
    asked: Option<ConsultationType>,
    now: UtcTime,
    overbook: bool,
) -> Result<(ConsultationType, Vec<&'a Slot>), Inadmissible> {
    let Some(k) = kind.filter(|k| fits(first, k.duration_minutes).is_err()) else {
        return admit(first, kind, asked).map(|c| (c, vec![first]));
    };
    let consultation = admit_kind(first, k, asked)?;
    let chain = chain(first, following, k.duration_minutes)?;
    for s in &chain[1..] {
        let inside = |e: Inadmissible| Inadmissible::InRun(s.id, Box::new(e));
        bookable(s, now, overbook).map_err(inside)?;
        admit_kind(s, k, Some(consultation)).map_err(inside)?;
    }
    Ok((consultation, chain))
}

/// `first` and the slots of `following` (by start; those that start before `first` ends are passed
/// over) that each start where the last ends, at the same
/// place (provider, location, rooms and equipment), until `minutes` from `first`'s start are covered
/// (at most [`MAX_RUN`] slots); `SlotTooShort` when they do not reach that far. Whether each can be
/// booked is the caller's question.
pub fn chain<'a>(
    first: &'a Slot,
    following: &'a [Slot],
    minutes: u32,
) -> Result<Vec<&'a Slot>, Inadmissible> {
    let needs = first
        .start_time
        .plus(jiff::SignedDuration::from_mins(i64::from(minutes)));
    let place = |s: &Slot| {
        let mut ids: Vec<uuid::Uuid> = s.resources.iter().map(|r| r.id).collect();
        ids.sort();
        (s.provider_id, s.location_id.clone(), ids)
    };
    let mut chain = vec![first];
    // `following` may begin before `first` ends (a search reads one list for several starts): the
    // run goes on from the slots that start at or after its end.
    for s in following
        .iter()
        .skip_while(|s| s.start_time < first.end_time)
    {
        let last = chain[chain.len() - 1];
        if last.end_time >= needs
            || chain.len() == MAX_RUN
            || s.start_time != last.end_time
            || place(s) != place(first)
        {
            break;
        }
        chain.push(s);
    }
    let end = chain[chain.len() - 1].end_time;
    if end < needs {
        return Err(Inadmissible::SlotTooShort {
            needs: minutes,
            has: first.start_time.until(end).as_mins(),
        });
    }
    Ok(chain)
}

/// The time a run of slots (as [`run`] answers it) covers: from its first start to its last end.
pub fn span(run: &[&Slot]) -> Option<super::Interval> {
    super::Interval::new(run.first()?.start_time, run.last()?.end_time).ok()
}

/// The seats a booking or a hold keeps: its first slot's alone, or those of its run (`run`, in
/// order, when it has more than one slot).
pub fn seats(first: super::SlotId, run: &[super::SlotId]) -> Vec<super::SlotId> {
    if run.is_empty() {
        vec![first]
    } else {
        run.to_vec()
    }
}

/// Whether a visit of `minutes` fits in `slot` (issue 22: a type's length is checked against the slot).
pub fn fits(slot: &Slot, minutes: u32) -> Result<(), Inadmissible> {
    let has = slot.interval().duration().as_mins();
    if i64::from(minutes) > has {
        return Err(Inadmissible::SlotTooShort {
            needs: minutes,
            has,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Interval, ProviderId, SlotId};
    use jiff::SignedDuration;
    use proptest::prelude::*;

    const KINDS: [ConsultationType; 3] = [
        ConsultationType::InPerson,
        ConsultationType::Video,
        ConsultationType::Phone,
    ];

    fn slot(status: SlotStatus, taken: u32, seats: u32, starts_in_mins: i64) -> Slot {
        let now: UtcTime = "2030-01-01T09:00:00Z".parse().unwrap();
        let start = now.plus(SignedDuration::from_mins(starts_in_mins));
        let mut s = Slot::open(
            SlotId::new(),
            ProviderId::new(),
            Interval::new(start, start.plus(SignedDuration::from_mins(30))).unwrap(),
            seats,
            now,
        );
        s.status = status;
        s.current_bookings = taken;
        s
    }

    fn kind(active: bool, offered: Vec<ConsultationType>) -> AppointmentType {
        let now: UtcTime = "2030-01-01T09:00:00Z".parse().unwrap();
        let mut k = AppointmentType::new("Checkup", 30, offered, now);
        k.is_active = active;
        k
    }

    /// A 20-minute one-seat slot of `provider` starting `at` minutes after 09:00.
    fn twenty(provider: ProviderId, at: i64) -> Slot {
        let nine: UtcTime = "2030-01-01T09:00:00Z".parse().unwrap();
        let start = nine.plus(SignedDuration::from_mins(at));
        Slot::open(
            SlotId::new(),
            provider,
            Interval::new(start, start.plus(SignedDuration::from_mins(20))).unwrap(),
            1,
            nine,
        )
    }

    #[test]
    fn a_long_visit_takes_the_consecutive_slots_that_cover_it_and_names_one_it_cannot_have() {
        let now: UtcTime = "2030-01-01T08:00:00Z".parse().unwrap();
        let p = ProviderId::new();
        let mut hour = kind(true, vec![ConsultationType::InPerson]);
        hour.duration_minutes = 50;
        let first = twenty(p, 0);
        let after = vec![twenty(p, 20), twenty(p, 40), twenty(p, 60)];
        let (c, run) = run(&first, &after, Some(&hour), None, now, false).unwrap();
        assert_eq!(c, ConsultationType::InPerson);
        let ids: Vec<SlotId> = run.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [first.id, after[0].id, after[1].id],
            "three cover 50 minutes"
        );
        // A type that fits takes its slot alone.
        hour.duration_minutes = 20;
        assert_eq!(run_len(&first, &after, &hour, now), Ok(1));
        hour.duration_minutes = 50;
        // A gap, another place, or other rooms end the run: too short.
        let gap = vec![twenty(p, 25), twenty(p, 45)];
        let short = Err(Inadmissible::SlotTooShort { needs: 50, has: 20 });
        assert_eq!(run_len(&first, &gap, &hour, now), short);
        let mut elsewhere = after.clone();
        elsewhere[0].location_id = Some("annex".into());
        assert_eq!(run_len(&first, &elsewhere, &hour, now), short);
        let mut roomed = after.clone();
        roomed[0].resources = vec![crate::domain::resource::SlotResource {
            id: uuid::Uuid::new_v4(),
            name: "Exam 2B".into(),
            kind: crate::domain::resource::ResourceKind::Room,
        }];
        assert_eq!(run_len(&first, &roomed, &hour, now), short);
        // A full slot inside the run is named.
        let mut full = after.clone();
        full[1].current_bookings = 1;
        assert_eq!(
            run_len(&first, &full, &hour, now),
            Err(Inadmissible::InRun(
                full[1].id,
                Box::new(Inadmissible::SlotFull)
            ))
        );
        let mut typed = after.clone();
        typed[0].allowed_appointment_types = vec![uuid::Uuid::new_v4()];
        assert_eq!(
            run_len(&first, &typed, &hour, now),
            Err(Inadmissible::InRun(
                typed[0].id,
                Box::new(Inadmissible::TypeNotAllowed)
            ))
        );
    }

    #[test]
    fn a_run_is_found_in_a_list_that_begins_before_its_first_slot() {
        let now: UtcTime = "2030-01-01T08:00:00Z".parse().unwrap();
        let p = ProviderId::new();
        let mut hour = kind(true, vec![ConsultationType::InPerson]);
        hour.duration_minutes = 60;
        // One list of the provider's day, read once for every start: 09:00 to 10:40.
        let day: Vec<Slot> = (0..6).map(|i| twenty(p, 20 * i)).collect();
        let (_, run) = run(&day[2], &day, Some(&hour), None, now, false).unwrap();
        let ids: Vec<SlotId> = run.iter().map(|s| s.id).collect();
        assert_eq!(ids, [day[2].id, day[3].id, day[4].id]);
        assert_eq!(
            run_len(&day[4], &day, &hour, now),
            Err(Inadmissible::SlotTooShort { needs: 60, has: 40 })
        );
    }

    #[test]
    fn a_run_is_never_longer_than_max_run_slots() {
        let now: UtcTime = "2030-01-01T08:00:00Z".parse().unwrap();
        let p = ProviderId::new();
        let first = twenty(p, 0);
        let after: Vec<Slot> = (1..20).map(|i| twenty(p, 20 * i)).collect();
        let mut k = kind(true, vec![ConsultationType::InPerson]);
        k.duration_minutes = 20 * MAX_RUN as u32;
        assert_eq!(run_len(&first, &after, &k, now), Ok(MAX_RUN));
        k.duration_minutes += 1;
        assert_eq!(
            run_len(&first, &after, &k, now),
            Err(Inadmissible::SlotTooShort {
                needs: k.duration_minutes,
                has: 20 * MAX_RUN as i64
            })
        );
    }

    fn run_len(
        first: &Slot,
        after: &[Slot],
        k: &AppointmentType,
        now: UtcTime,
    ) -> Result<usize, Inadmissible> {
        run(first, after, Some(k), None, now, false).map(|(_, r)| r.len())
    }

    fn status() -> impl Strategy<Value = SlotStatus> {
        prop::sample::select(vec![
            SlotStatus::Available,
            SlotStatus::Blocked,
            SlotStatus::Cancelled,
        ])
    }

    proptest! {
        /// A seat is given exactly when the slot is open, has not started and has a seat left, one
        /// more for an overbook.
        #[test]
        fn a_seat_is_given_only_by_an_open_future_slot_with_one_left(
            st in status(), seats in 1u32..100, taken in 0u32..102, starts in -60i64..60, overbook: bool,
        ) {
            let s = slot(st, taken, seats, starts);
            let now: UtcTime = "2030-01-01T09:00:00Z".parse().unwrap();
            let expected = st == SlotStatus::Available && starts > 0 && taken < seats + u32::from(overbook);
            prop_assert_eq!(bookable(&s, now, overbook).is_ok(), expected);
            if bookable(&s, now, false).is_ok() {
                prop_assert!(bookable(&s, now, true).is_ok(), "an overbook is never refused where a booking is not");
            }
        }

        /// Whatever is asked, an admitted booking is held in a way its type offers, and never for an
        /// inactive type or a type the slot does not list.
        #[test]
        fn what_is_admitted_is_what_the_type_offers_and_the_slot_lists(
            active: bool,
            offered in prop::sample::subsequence(KINDS.to_vec(), 0..=3),
            asked in prop::option::of(prop::sample::select(KINDS.to_vec())),
            listed: bool,
            restricted: bool,
        ) {
            let k = kind(active, offered.clone());
            let mut s = slot(SlotStatus::Available, 0, 1, 30);
            if restricted {
                s.allowed_appointment_types = vec![if listed { k.id } else { uuid::Uuid::new_v4() }];
            }
            match admit(&s, Some(&k), asked) {
                Ok(c) => {
                    prop_assert!(active && offered.contains(&c));
                    prop_assert!(!restricted || listed);
                    prop_assert!(asked.is_none_or(|a| a == c));
                }
                Err(Inadmissible::TypeInactive) => prop_assert!(!active),
                Err(Inadmissible::TypeNotAllowed) => prop_assert!(active && restricted && !listed),
                Err(Inadmissible::ConsultationNotOffered) => {
                    prop_assert!(asked.is_some_and(|a| !offered.contains(&a)) || offered.is_empty());
                }
                Err(other) => prop_assert!(false, "{other:?}"),
            }
            // A type as long as the slot fits; one a minute longer does not, whatever else holds.
            let mut long = k.clone();
            long.duration_minutes = 31;
            if active && (!restricted || listed) {
                prop_assert_eq!(
                    admit(&s, Some(&long), asked),
                    Err(Inadmissible::SlotTooShort { needs: 31, has: 30 })
                );
            }
            // No type: only a slot that lists no types admits it; one that lists some names them.
            prop_assert_eq!(admit(&s, None, asked).is_ok(), !restricted);
            if restricted {
                prop_assert_eq!(
                    admit(&s, None, asked),
                    Err(Inadmissible::TypeRequired(s.allowed_appointment_types.clone()))
                );
            }
        }
    }
}
