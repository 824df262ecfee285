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
    /// The type lasts longer than the slot (a visit over consecutive slots is not booked yet).
    #[error("the appointment type lasts {needs} minutes and this slot {has}: book it in a slot at least as long")]
    SlotTooShort { needs: u32, has: i64 },
}

fn list(ids: &[uuid::Uuid]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

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
    if !kind.is_active {
        return Err(Inadmissible::TypeInactive);
    }
    if !slot.allowed_appointment_types.is_empty()
        && !slot.allowed_appointment_types.contains(&kind.id)
    {
        return Err(Inadmissible::TypeNotAllowed);
    }
    fits(slot, kind.duration_minutes)?;
    kind.consultation(asked)
        .ok_or(Inadmissible::ConsultationNotOffered)
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
        AppointmentType {
            id: uuid::Uuid::new_v4(),
            name: "Checkup".into(),
            duration_minutes: 30,
            consultation_fee: 0.0,
            consultation_types: offered,
            is_active: active,
            description: None,
            requires_confirmation: false,
            confirmation_deadline_hours: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
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
