//! The actions of an appointment's life and their rules: who may take each, from which statuses, and in
//! which time window. The store turns the same rules into one condition expression; when DynamoDB
//! refuses, [`refusal`] reads the item as it was and names the rule that failed.

use jiff::SignedDuration;

use super::{Appointment, AppointmentStatus, Caller, Role, UtcTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    CheckIn,
    Start,
    Complete,
    NoShow,
    Cancel,
    Reschedule,
    /// Changing notes or the consultation type.
    Edit,
}

/// When check-in is open, relative to the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckInWindow {
    pub opens_before: SignedDuration,
    pub closes_after: SignedDuration,
}

impl Default for CheckInWindow {
    fn default() -> Self {
        CheckInWindow {
            opens_before: SignedDuration::from_mins(30),
            closes_after: SignedDuration::from_mins(15),
        }
    }
}

impl CheckInWindow {
    /// The start times for which check-in is open at `now`: `[now - closes_after, now + opens_before]`.
    pub fn starts_open_at(&self, now: UtcTime) -> (UtcTime, UtcTime) {
        (now.plus(-self.closes_after), now.plus(self.opens_before))
    }
}

/// Whose appointments a caller may take an action on; the store adds it to the condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Any,
    Patient(uuid::Uuid),
    Provider(uuid::Uuid),
    PatientOrProvider(uuid::Uuid),
}

impl Action {
    /// The status the action leads to, if it changes the status.
    pub fn target(self) -> Option<AppointmentStatus> {
        match self {
            Action::CheckIn => Some(AppointmentStatus::Confirmed),
            Action::Start => Some(AppointmentStatus::InProgress),
            Action::Complete => Some(AppointmentStatus::Completed),
            Action::NoShow => Some(AppointmentStatus::NoShow),
            Action::Cancel => Some(AppointmentStatus::Cancelled),
            Action::Reschedule => Some(AppointmentStatus::Rescheduled),
            Action::Edit => None,
        }
    }

    /// Which roles may act: `(the appointment's patient, its provider, staff, admin)`.
    fn allowed(self) -> (bool, bool, bool, bool) {
        match self {
            Action::CheckIn | Action::Cancel | Action::Reschedule | Action::Edit => {
                (true, true, true, true)
            }
            Action::Start | Action::NoShow => (false, true, true, true),
            // Clinical notes and vitals: the treating provider, or an admin.
            Action::Complete => (false, true, false, true),
        }
    }

    /// The caller's reach for this action, or `None` if no appointment could be theirs to act on.
    pub fn scope(self, caller: &Caller) -> Option<Scope> {
        let (patient, provider, staff, admin) = self.allowed();
        if (staff && caller.has(Role::Staff)) || (admin && caller.has(Role::Admin)) {
            return Some(Scope::Any);
        }
        match (
            patient && caller.has(Role::Patient),
            provider && caller.has(Role::Provider),
        ) {
            (true, true) => Some(Scope::PatientOrProvider(caller.id)),
            (true, false) => Some(Scope::Patient(caller.id)),
            (false, true) => Some(Scope::Provider(caller.id)),
            (false, false) => None,
        }
    }
}

impl Scope {
    pub fn covers(self, a: &Appointment) -> bool {
        match self {
            Scope::Any => true,
            Scope::Patient(id) => a.patient_id.uuid() == id,
            Scope::Provider(id) => a.provider_id.uuid() == id,
            Scope::PatientOrProvider(id) => a.patient_id.uuid() == id || a.provider_id.uuid() == id,
        }
    }
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Absent, or not the caller's to see: the same answer, so existence does not leak.
    NotFound,
    Forbidden,
    InvalidTransition {
        from: AppointmentStatus,
        action: Action,
    },
    CheckInWindow {
        opens: UtcTime,
        closes: UtcTime,
    },
    NotOverYet {
        ends: UtcTime,
    },
    /// Cancel or reschedule after the end, by anyone but staff and admin.
    AlreadyOver {
        ended: UtcTime,
    },
}

/// The first rule `action` breaks on `appointment` (as read) for `caller` at `now`, if any.
pub fn refusal(
    action: Action,
    caller: &Caller,
    appointment: Option<&Appointment>,
    now: UtcTime,
    window: CheckInWindow,
) -> Option<Refusal> {
    let Some(a) = appointment.filter(|a| caller.may_read(a.patient_id, a.provider_id)) else {
        return Some(Refusal::NotFound);
    };
    if !action.scope(caller).is_some_and(|s| s.covers(a)) {
        return Some(Refusal::Forbidden);
    }
    if let Some(to) = action.target() {
        if !a.status.can_become(to) {
            return Some(Refusal::InvalidTransition {
                from: a.status,
                action,
            });
        }
    }
    match action {
        Action::CheckIn => {
            let (opens, closes) = (
                a.start_time.plus(-window.opens_before),
                a.start_time.plus(window.closes_after),
            );
            (now < opens || now > closes).then_some(Refusal::CheckInWindow { opens, closes })
        }
        Action::NoShow => (now < a.end_time).then_some(Refusal::NotOverYet { ends: a.end_time }),
        // After the end it is for the provider to complete it or mark a no-show (DESIGN.md section 7).
        Action::Cancel | Action::Reschedule => (now >= a.end_time && !caller.is_staff())
            .then_some(Refusal::AlreadyOver { ended: a.end_time }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AppointmentId, ConsultationType, PatientId, ProviderId, SlotId};

    fn appt(status: AppointmentStatus, patient: PatientId, provider: ProviderId) -> Appointment {
        let start: UtcTime = "2027-06-01T09:00:00Z".parse().unwrap();
        let mut a = Appointment::scheduled(
            AppointmentId::new(),
            patient,
            provider,
            SlotId::new(),
            start,
            start.plus(SignedDuration::from_mins(30)),
            ConsultationType::Video,
            start.plus(SignedDuration::from_hours(-48)),
        );
        a.status = status;
        a
    }

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    #[test]
    fn check_in_opens_half_an_hour_before_and_closes_a_quarter_after() {
        let (p, d) = (PatientId::new(), ProviderId::new());
        let patient = Caller {
            id: p.uuid(),
            roles: vec![Role::Patient],
        };
        let a = appt(AppointmentStatus::Scheduled, p, d);
        let w = CheckInWindow::default();
        assert!(matches!(
            refusal(
                Action::CheckIn,
                &patient,
                Some(&a),
                t("2027-06-01T08:29:59Z"),
                w
            ),
            Some(Refusal::CheckInWindow { .. })
        ));
        assert_eq!(
            refusal(
                Action::CheckIn,
                &patient,
                Some(&a),
                t("2027-06-01T08:30:00Z"),
                w
            ),
            None
        );
        assert_eq!(
            refusal(
                Action::CheckIn,
                &patient,
                Some(&a),
                t("2027-06-01T09:15:00Z"),
                w
            ),
            None
        );
        assert!(matches!(
            refusal(
                Action::CheckIn,
                &patient,
                Some(&a),
                t("2027-06-01T09:15:01Z"),
                w
            ),
            Some(Refusal::CheckInWindow { .. })
        ));
        let (lo, hi) = w.starts_open_at(t("2027-06-01T08:30:00Z"));
        assert!(
            lo <= a.start_time && a.start_time <= hi,
            "the store's condition agrees with the rule"
        );
    }

    #[test]
    fn rules_are_checked_in_order_existence_role_transition_time() {
        let (p, d) = (PatientId::new(), ProviderId::new());
        let now = t("2027-06-01T08:50:00Z");
        let w = CheckInWindow::default();
        let stranger = Caller {
            id: uuid::Uuid::new_v4(),
            roles: vec![Role::Patient],
        };
        let patient = Caller {
            id: p.uuid(),
            roles: vec![Role::Patient],
        };
        let provider = Caller {
            id: d.uuid(),
            roles: vec![Role::Provider],
        };
        let staff = Caller {
            id: uuid::Uuid::new_v4(),
            roles: vec![Role::Staff],
        };
        let a = appt(AppointmentStatus::Scheduled, p, d);
        assert_eq!(
            refusal(Action::CheckIn, &patient, None, now, w),
            Some(Refusal::NotFound)
        );
        assert_eq!(
            refusal(Action::CheckIn, &stranger, Some(&a), now, w),
            Some(Refusal::NotFound)
        );
        assert_eq!(
            refusal(Action::Start, &patient, Some(&a), now, w),
            Some(Refusal::Forbidden)
        );
        assert_eq!(
            refusal(Action::Complete, &staff, Some(&a), now, w),
            Some(Refusal::Forbidden)
        );
        assert_eq!(
            refusal(Action::Start, &provider, Some(&a), now, w),
            Some(Refusal::InvalidTransition {
                from: AppointmentStatus::Scheduled,
                action: Action::Start
            })
        );
        assert_eq!(
            refusal(Action::NoShow, &provider, Some(&a), now, w),
            Some(Refusal::NotOverYet { ends: a.end_time })
        );
        assert_eq!(
            refusal(
                Action::NoShow,
                &provider,
                Some(&a),
                t("2027-06-01T09:30:00Z"),
                w
            ),
            None
        );
        let done = appt(AppointmentStatus::Completed, p, d);
        assert!(matches!(
            refusal(Action::Cancel, &patient, Some(&done), now, w),
            Some(Refusal::InvalidTransition { .. })
        ));
        assert_eq!(
            refusal(Action::Edit, &patient, Some(&done), now, w),
            None,
            "editing does not change the status"
        );
    }

    #[test]
    fn scopes_follow_roles() {
        let id = uuid::Uuid::new_v4();
        let both = Caller {
            id,
            roles: vec![Role::Patient, Role::Provider],
        };
        assert_eq!(
            Action::CheckIn.scope(&both),
            Some(Scope::PatientOrProvider(id))
        );
        assert_eq!(Action::Start.scope(&both), Some(Scope::Provider(id)));
        let patient = Caller {
            id,
            roles: vec![Role::Patient],
        };
        assert_eq!(Action::Complete.scope(&patient), None);
        let staff = Caller {
            id,
            roles: vec![Role::Staff],
        };
        assert_eq!(Action::NoShow.scope(&staff), Some(Scope::Any));
        assert_eq!(Action::Complete.scope(&staff), None);
    }
}
