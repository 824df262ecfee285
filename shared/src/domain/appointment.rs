//! An appointment and the rules that depend on it alone.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::{
    AppointmentId, AppointmentStatus, Caller, Interval, PatientId, ProviderId, SlotId, UtcTime,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsultationType {
    #[default]
    InPerson,
    Video,
    Phone,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Appointment {
    pub id: AppointmentId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub slot_id: SlotId,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    pub status: AppointmentStatus,
    pub consultation_type: ConsultationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_type_id: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_for_visit: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chief_complaint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<UtcTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_cancellation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consultation_fee: Option<f64>,
    #[serde(default)]
    pub is_paid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

impl Appointment {
    pub fn interval(&self) -> Interval {
        Interval::new(self.start_time, self.end_time)
            .expect("a stored appointment ends after it starts")
    }

    /// The appointment as `viewer` may see it: private notes reach only the owning provider and admins.
    pub fn as_seen_by(mut self, viewer: &Caller) -> Self {
        if !viewer.may_read_private_notes(self.provider_id) {
            self.private_notes = None;
        }
        self
    }
}

/// A cancellation less than `window` before the start is late (clinics may charge for it).
pub fn is_late_cancellation(now: UtcTime, start: UtcTime, window: SignedDuration) -> bool {
    now.until(start) < window
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelling_inside_the_window_is_late_and_outside_it_is_not() {
        let start: UtcTime = "2027-01-02T09:00:00Z".parse().unwrap();
        let day = SignedDuration::from_hours(24);
        assert!(!is_late_cancellation(
            "2027-01-01T09:00:00Z".parse().unwrap(),
            start,
            day
        ));
        assert!(is_late_cancellation(
            "2027-01-01T09:00:01Z".parse().unwrap(),
            start,
            day
        ));
        assert!(
            is_late_cancellation("2027-01-02T10:00:00Z".parse().unwrap(), start, day),
            "after the start"
        );
    }
}
