//! Statuses and the one table of allowed appointment transitions.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
    Rescheduled,
}

use AppointmentStatus::*;

/// Every allowed edge of the appointment life cycle; anything not listed is refused.
const TRANSITIONS: &[(AppointmentStatus, &[AppointmentStatus])] = &[
    (Scheduled, &[Confirmed, Cancelled, Rescheduled, NoShow]),
    (Confirmed, &[InProgress, Cancelled, NoShow, Rescheduled]),
    (InProgress, &[Completed]),
    (Completed, &[]),
    (Cancelled, &[]),
    (NoShow, &[]),
    (Rescheduled, &[]),
];

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 7] = [
        Scheduled,
        Confirmed,
        InProgress,
        Completed,
        Cancelled,
        NoShow,
        Rescheduled,
    ];

    pub fn can_become(self, next: AppointmentStatus) -> bool {
        TRANSITIONS
            .iter()
            .any(|(from, to)| *from == self && to.contains(&next))
    }

    /// The statuses from which `next` may be reached: the condition a conditional write puts on the item.
    pub fn sources_of(next: AppointmentStatus) -> Vec<AppointmentStatus> {
        TRANSITIONS
            .iter()
            .filter(|(_, to)| to.contains(&next))
            .map(|(from, _)| *from)
            .collect()
    }

    /// Counted as an appointment that was to take place: all but the cancelled and the rescheduled
    /// (whose replacement counts instead). Reports and the day schedule count these.
    pub fn was_due(self) -> bool {
        !matches!(self, Cancelled | Rescheduled)
    }

    /// Holds a seat and the patient's time.
    pub fn is_active(self) -> bool {
        matches!(self, Scheduled | Confirmed | InProgress)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheduled => "scheduled",
            Confirmed => "confirmed",
            InProgress => "in_progress",
            Completed => "completed",
            Cancelled => "cancelled",
            NoShow => "no_show",
            Rescheduled => "rescheduled",
        }
    }
}

/// What is stored for a slot. `booked` is never stored: it is derived from the seat counter
/// (see [`crate::domain::SlotState`]), so bookings and cancellations commute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    Available,
    Blocked,
    Cancelled,
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Available => "available",
            SlotStatus::Blocked => "blocked",
            SlotStatus::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_transition_table() {
        let allowed = [
            (Scheduled, Confirmed),
            (Scheduled, Cancelled),
            (Scheduled, Rescheduled),
            (Scheduled, NoShow),
            (Confirmed, InProgress),
            (Confirmed, Cancelled),
            (Confirmed, NoShow),
            (Confirmed, Rescheduled),
            (InProgress, Completed),
        ];
        for from in AppointmentStatus::ALL {
            for to in AppointmentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn final_statuses_have_no_way_out_and_cancel_comes_only_from_active_ones() {
        for s in [Completed, Cancelled, NoShow, Rescheduled] {
            assert!(
                AppointmentStatus::ALL.iter().all(|to| !s.can_become(*to)),
                "{s:?}"
            );
            assert!(!s.is_active());
        }
        assert_eq!(
            AppointmentStatus::sources_of(Cancelled),
            vec![Scheduled, Confirmed]
        );
    }

    #[test]
    fn statuses_are_snake_case_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&InProgress).unwrap(),
            "\"in_progress\""
        );
        assert_eq!(serde_json::to_string(&NoShow).unwrap(), "\"no_show\"");
        for s in AppointmentStatus::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
