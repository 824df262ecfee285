//! An appointment and the rules that depend on it alone.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::{
    AppointmentId, AppointmentStatus, Caller, Interval, PatientId, ProviderId, SlotId, UtcTime,
    Vitals,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConsultationType {
    #[default]
    InPerson,
    Video,
    Phone,
}

impl ConsultationType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsultationType::InPerson => "in_person",
            ConsultationType::Video => "video",
            ConsultationType::Phone => "phone",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Appointment {
    pub id: AppointmentId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    /// Its slot, or the first of the consecutive slots a visit longer than one slot takes.
    pub slot_id: SlotId,
    /// A visit longer than one slot: every slot of its run, in order (the first is `slotId`); absent
    /// for a visit in one slot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slot_ids: Vec<SlotId>,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    pub status: AppointmentStatus,
    pub consultation_type: ConsultationType,
    /// Who booked it (the patient, or staff for them; none for appointments booked before this was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked_by: Option<uuid::Uuid>,
    /// Who made its latest change (a status, notes, a cancellation, a move).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<uuid::Uuid>,
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
    /// While `pending`: when the request is declined if the provider has not answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_deadline: Option<UtcTime>,
    /// A request the provider declined (or nobody answered by its deadline): cancelled, never late.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub declined: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consultation_fee: Option<f64>,
    #[serde(default)]
    pub is_paid: bool,
    /// Booked by staff one seat beyond the slot's seats.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_overbook: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// When billing reported the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<UtcTime>,
    /// When billing reported the refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<UtcTime>,
    /// How many times the appointment was written after its booking (every write adds one): its
    /// iCalendar SEQUENCE.
    #[serde(default)]
    pub version: u64,
    /// The late-cancellation fee, as billing reported it paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_cancellation_fee_payment: Option<FeePayment>,
    /// The no-show fee, as billing reported it paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show_fee_payment: Option<FeePayment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in_time: Option<UtcTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_start_time: Option<UtcTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_end_time: Option<UtcTime>,
    /// Minutes from check-in to the start of the consultation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_room_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vitals: Option<Vitals>,
    #[serde(default)]
    pub follow_up_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_date: Option<jiff::civil::Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescheduled_to: Option<AppointmentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescheduled_from: Option<AppointmentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_appointment_id: Option<AppointmentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_reason: Option<String>,
    /// The recurring series it was booked in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_appointment_id: Option<uuid::Uuid>,
    /// The provider's terms it was booked under (none for appointments booked before settings existed:
    /// the configuration's then apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<super::settings::Terms>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

/// A fee billing reported paid: which payment, how much, when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeePayment {
    pub payment_id: String,
    pub amount: f64,
    pub paid_at: UtcTime,
}

impl Appointment {
    /// A newly booked appointment for one seat of a slot.
    #[allow(clippy::too_many_arguments)]
    pub fn scheduled(
        id: AppointmentId,
        patient_id: PatientId,
        provider_id: ProviderId,
        slot_id: SlotId,
        start_time: UtcTime,
        end_time: UtcTime,
        consultation_type: ConsultationType,
        now: UtcTime,
    ) -> Appointment {
        Appointment {
            id,
            patient_id,
            provider_id,
            slot_id,
            slot_ids: vec![],
            start_time,
            end_time,
            status: AppointmentStatus::Scheduled,
            consultation_type,
            booked_by: None,
            updated_by: None,
            appointment_type_id: None,
            reason_for_visit: None,
            symptoms: vec![],
            chief_complaint: None,
            notes: None,
            private_notes: None,
            cancellation_reason: None,
            cancelled_at: None,
            cancelled_by: None,
            late_cancellation: None,
            confirmation_deadline: None,
            declined: false,
            consultation_fee: None,
            is_paid: false,
            is_overbook: false,
            payment_id: None,
            paid_at: None,
            refunded_at: None,
            version: 0,
            late_cancellation_fee_payment: None,
            no_show_fee_payment: None,
            check_in_time: None,
            actual_start_time: None,
            actual_end_time: None,
            wait_time: None,
            video_room_id: None,
            video_room_url: None,
            vitals: None,
            follow_up_required: false,
            follow_up_date: None,
            follow_up_notes: None,
            rescheduled_to: None,
            rescheduled_from: None,
            previous_appointment_id: None,
            reschedule_reason: None,
            recurring_appointment_id: None,
            terms: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// A new appointment of `patient` in a seat of `slot`, as `kind` (its id and fee) if one was asked:
    /// what a booking, an accepted waitlist offer and each occurrence of a series make, under the
    /// provider's `rules` as its terms.
    pub fn in_slot(
        slot: &super::Slot,
        patient: PatientId,
        consultation: ConsultationType,
        kind: Option<&super::AppointmentType>,
        rules: &super::settings::Rules,
        now: UtcTime,
    ) -> Appointment {
        let mut a = Appointment::scheduled(
            AppointmentId::new(),
            patient,
            slot.provider_id,
            slot.id,
            slot.start_time,
            slot.end_time,
            consultation,
            now,
        );
        a.appointment_type_id = kind.map(|t| t.id);
        a.consultation_fee = kind.map(|t| t.consultation_fee);
        a.terms = Some(rules.terms(slot.start_time));
        // A type that requires confirmation makes a request: the seat taken, pending the provider.
        a.confirmation_deadline =
            kind.and_then(|t| t.confirmation_deadline(now, slot.start_time, rules.notice()));
        if a.confirmation_deadline.is_some() {
            a.status = AppointmentStatus::Pending;
        }
        a
    }

    /// The slots whose seats it takes: its run's, or its one slot.
    pub fn seats(&self) -> Vec<SlotId> {
        super::admission::seats(self.slot_id, &self.slot_ids)
    }

    /// It takes the seats of `run` (the slots of a visit longer than one slot, in order): it ends where
    /// the last ends.
    pub fn over(&mut self, run: &[&super::Slot]) {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            self.start_time = first.start_time;
            self.over_seats(run.iter().map(|s| s.id).collect(), last.end_time);
        }
    }

    /// It takes `seats` (a run's slots, in order, the first its own) and ends at `end`: a run's
    /// booking from the hold that keeps it.
    pub fn over_seats(&mut self, seats: Vec<SlotId>, end: UtcTime) {
        if let (true, Some(first)) = (seats.len() > 1, seats.first()) {
            self.slot_id = *first;
            self.end_time = end;
            self.slot_ids = seats;
        }
    }

    /// For tests of what leaves the service: an in-person appointment on 2030-01-07 14:00-14:30 UTC,
    /// booked 2030-01-01 09:00, with a reason, notes and a symptom that must never leave it.
    #[cfg(test)]
    pub fn example() -> Appointment {
        let mut a = Appointment::scheduled(
            AppointmentId::new(),
            PatientId::new(),
            ProviderId::new(),
            SlotId::new(),
            "2030-01-07T14:00:00Z".parse().expect("a time"),
            "2030-01-07T14:30:00Z".parse().expect("a time"),
            ConsultationType::InPerson,
            "2030-01-01T09:00:00Z".parse().expect("a time"),
        );
        a.reason_for_visit = Some("chest pain".into());
        a.notes = Some("private matters".into());
        a.symptoms = vec!["dizziness".into()];
        a
    }

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
