//! Statuses and the one table of allowed appointment transitions.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AppointmentStatus {
    /// A request for a type that requires confirmation: the seat and the patient's time are taken,
    /// no reminders yet, until the provider confirms (`scheduled`) or declines (`cancelled`), or the
    /// deadline passes (declined).
    Pending,
    Scheduled,
    Confirmed,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
    Rescheduled,
}

use AppointmentStatus::*;

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 8] = [
        Pending,
        Scheduled,
        Confirmed,
        InProgress,
        Completed,
        Cancelled,
        NoShow,
        Rescheduled,
    ];

    /// Counted as an appointment that was to take place: all but the cancelled and the rescheduled
    /// (whose replacement counts instead). Reports and the day schedule count these.
    pub fn was_due(self) -> bool {
        !matches!(self, Cancelled | Rescheduled)
    }

    /// Holds a seat and the patient's time.
    pub fn is_active(self) -> bool {
        matches!(self, Pending | Scheduled | Confirmed | InProgress)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Pending => "pending",
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
