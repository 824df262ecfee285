//! The life of an appointment in one place: [`RULES`], one row per action, says what status it leads
//! to, who may take it, when and what it records (the event its change publishes is
//! `events::DomainEvent::status_reached`'s). [`transition`]
//! turns a row into a typed [`Transition`] the store writes as one conditional update (the same rules
//! as its condition); when DynamoDB refuses, [`refusal`] reads the item as it was and names the rule
//! that failed. Cancel and reschedule are transactions of their own, under the same rows.

use jiff::SignedDuration;

use super::{
    Appointment, AppointmentId, AppointmentStatus, Caller, ConsultationType, Role, UtcTime, Vitals,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The provider accepts a pending request.
    Confirm,
    /// The provider turns a pending request down (its seat freed, as a cancellation).
    Decline,
    CheckIn,
    Start,
    Complete,
    NoShow,
    Cancel,
    Reschedule,
    /// Changing notes or the consultation type.
    Edit,
}

/// Who may take an action: the appointment's patient, its provider, staff, admins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Who {
    pub patient: bool,
    pub provider: bool,
    pub staff: bool,
    pub admin: bool,
}

const EVERYONE: Who = Who {
    patient: true,
    provider: true,
    staff: true,
    admin: true,
};
const CLINIC: Who = Who {
    patient: false,
    provider: true,
    staff: true,
    admin: true,
};
/// Clinical notes and vitals: the treating provider, or an admin.
const CLINICIAN: Who = Who {
    patient: false,
    provider: true,
    staff: false,
    admin: true,
};

/// When an action may be taken, relative to the appointment's times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Anytime,
    /// Within the check-in window around the start.
    CheckInWindow,
    /// Once the end has passed.
    AfterEnd,
    /// Before the end; after it, only staff and admins.
    BeforeEndUnlessStaff,
}

/// What an action records besides the status (the times it stamps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    CheckInTime,
    ActualStartTime,
    ActualEndTime,
}

/// One action's rules.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub action: Action,
    /// The statuses it may start from: with `to`, the edges of the appointment's life (anything not
    /// listed is refused; completed, cancelled, no-show and rescheduled are final).
    pub from: &'static [AppointmentStatus],
    /// The status it leads to, if it changes the status.
    pub to: Option<AppointmentStatus>,
    pub who: Who,
    pub when: When,
    pub stamps: &'static [Stamp],
    /// How a refusal of it is worded: "a completed appointment cannot be {verb}".
    pub verb: &'static str,
}

use AppointmentStatus as S;

/// Every action of an appointment's life.
pub const RULES: &[Rule] = &[
    Rule {
        action: Action::CheckIn,
        from: &[S::Scheduled],
        to: Some(S::Confirmed),
        who: EVERYONE,
        when: When::CheckInWindow,
        stamps: &[Stamp::CheckInTime],
        verb: "checked in",
    },
    Rule {
        action: Action::Start,
        from: &[S::Confirmed],
        to: Some(S::InProgress),
        who: CLINIC,
        when: When::Anytime,
        stamps: &[Stamp::ActualStartTime],
        verb: "started",
    },
    Rule {
        action: Action::Complete,
        from: &[S::InProgress],
        to: Some(S::Completed),
        who: CLINICIAN,
        when: When::Anytime,
        stamps: &[Stamp::ActualEndTime],
        verb: "completed",
    },
    Rule {
        action: Action::NoShow,
        from: &[S::Scheduled, S::Confirmed],
        to: Some(S::NoShow),
        who: CLINIC,
        when: When::AfterEnd,
        stamps: &[],
        verb: "marked as a no-show",
    },
    Rule {
        action: Action::Cancel,
        // A patient withdraws a pending request by cancelling it (never late).
        from: &[S::Pending, S::Scheduled, S::Confirmed],
        to: Some(S::Cancelled),
        who: EVERYONE,
        when: When::BeforeEndUnlessStaff,
        stamps: &[],
        verb: "cancelled",
    },
    Rule {
        action: Action::Reschedule,
        from: &[S::Scheduled, S::Confirmed],
        to: Some(S::Rescheduled),
        who: EVERYONE,
        when: When::BeforeEndUnlessStaff,
        stamps: &[],
        verb: "rescheduled",
    },
    Rule {
        action: Action::Edit,
        from: &S::ALL,
        to: None,
        who: EVERYONE,
        when: When::Anytime,
        stamps: &[],
        verb: "edited",
    },
    // After Cancel: `PATCH {"status": "cancelled"}` is a cancellation, not a decline.
    Rule {
        action: Action::Confirm,
        from: &[S::Pending],
        to: Some(S::Scheduled),
        who: CLINIC,
        when: When::Anytime,
        stamps: &[],
        verb: "confirmed",
    },
    Rule {
        action: Action::Decline,
        from: &[S::Pending],
        to: Some(S::Cancelled),
        who: CLINIC,
        when: When::Anytime,
        stamps: &[],
        verb: "declined",
    },
];

/// The statuses in which an appointment's consultation type may still change (notes may change in any).
const BEFORE_THE_VISIT: &[AppointmentStatus] = &[S::Pending, S::Scheduled, S::Confirmed];

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
    pub fn rule(self) -> &'static Rule {
        RULES
            .iter()
            .find(|r| r.action == self)
            .expect("every action has a rule")
    }

    /// The status the action leads to, if it changes the status.
    pub fn target(self) -> Option<AppointmentStatus> {
        self.rule().to
    }

    /// The action that leads to `status` (what `PATCH {"status": ...}` means), if any.
    pub fn leading_to(status: AppointmentStatus) -> Option<Action> {
        RULES
            .iter()
            .find(|r| r.to == Some(status))
            .map(|r| r.action)
    }

    /// The statuses the action may start from.
    pub fn from(self) -> Vec<AppointmentStatus> {
        self.rule().from.to_vec()
    }

    /// The caller's reach for this action, or `None` if no appointment could be theirs to act on.
    pub fn scope(self, caller: &Caller) -> Option<Scope> {
        let who = self.rule().who;
        if (who.staff && caller.has(Role::Staff)) || (who.admin && caller.has(Role::Admin)) {
            return Some(Scope::Any);
        }
        match (
            who.patient && caller.has(Role::Patient),
            who.provider && caller.has(Role::Provider),
        ) {
            (true, true) => Some(Scope::PatientOrProvider(caller.id)),
            (true, false) => Some(Scope::Patient(caller.id)),
            (false, true) => Some(Scope::Provider(caller.id)),
            (false, false) => None,
        }
    }
}

impl Action {
    /// Whether `caller`'s write of this action must also hold "the appointment has not ended" (its
    /// condition, against a read made just before the end).
    pub fn only_before_end(self, caller: &Caller) -> bool {
        self.rule().when == When::BeforeEndUnlessStaff && !caller.is_staff()
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

/// A value an action writes besides the status, typed; the store names its attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum Set {
    CheckInTime(UtcTime),
    ActualStartTime(UtcTime),
    ActualEndTime(UtcTime),
    /// Minutes from check-in to start.
    WaitTime(i64),
    VideoRoom {
        id: String,
        url: String,
    },
    Notes(String),
    PrivateNotes(String),
    Vitals(Vitals),
    FollowUpRequired(bool),
    FollowUpDate(jiff::civil::Date),
    FollowUpNotes(String),
    ConsultationType(ConsultationType),
}

/// One conditional change of one appointment: everything the rules require of the item as it is, and
/// what to write.
#[derive(Clone, Debug)]
pub struct Transition {
    pub action: Action,
    pub id: AppointmentId,
    /// Who makes the change: the appointment's `updatedBy`.
    pub by: uuid::Uuid,
    pub scope: Scope,
    /// The statuses it may be in.
    pub from: Vec<AppointmentStatus>,
    pub to: Option<AppointmentStatus>,
    /// The start must lie in this range (check-in).
    pub start_between: Option<(UtcTime, UtcTime)>,
    /// The end must be at or before this instant (no-show).
    pub ended_by: Option<UtcTime>,
    pub sets: Vec<Set>,
    pub now: UtcTime,
}

impl Transition {
    /// Adds a value to write; a new consultation type narrows the change to appointments not yet seen.
    pub fn set(&mut self, value: Set) {
        if matches!(value, Set::ConsultationType(_)) {
            self.from.retain(|s| BEFORE_THE_VISIT.contains(s));
        }
        self.sets.push(value);
    }
}

/// The change `action` makes to appointment `id` for `caller` at `now`, with every rule of its row as a
/// condition; `None` when the caller's role may never take it.
pub fn transition(
    action: Action,
    caller: &Caller,
    id: AppointmentId,
    now: UtcTime,
    window: CheckInWindow,
) -> Option<Transition> {
    let rule = action.rule();
    let scope = action.scope(caller)?;
    let mut t = Transition {
        action,
        id,
        by: caller.id,
        scope,
        from: action.from(),
        to: rule.to,
        start_between: None,
        ended_by: None,
        sets: vec![],
        now,
    };
    match rule.when {
        When::CheckInWindow => t.start_between = Some(window.starts_open_at(now)),
        When::AfterEnd => t.ended_by = Some(now),
        When::Anytime | When::BeforeEndUnlessStaff => {}
    }
    for stamp in rule.stamps {
        t.set(match stamp {
            Stamp::CheckInTime => Set::CheckInTime(now),
            Stamp::ActualStartTime => Set::ActualStartTime(now),
            Stamp::ActualEndTime => Set::ActualEndTime(now),
        });
    }
    Some(t)
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

/// `appointment` (as read) when `caller` may take `action` on it at `now`, else the first rule it
/// breaks.
pub fn permitted(
    action: Action,
    caller: &Caller,
    appointment: Option<Appointment>,
    now: UtcTime,
    window: CheckInWindow,
) -> Result<Appointment, Refusal> {
    match refusal(action, caller, appointment.as_ref(), now, window) {
        Some(r) => Err(r),
        None => appointment.ok_or(Refusal::NotFound),
    }
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
    if !action.from().contains(&a.status) {
        return Some(Refusal::InvalidTransition {
            from: a.status,
            action,
        });
    }
    match action.rule().when {
        When::CheckInWindow => {
            let opens = a.terms.as_ref().map_or_else(
                || a.start_time.plus(-window.opens_before),
                |t| t.check_in_opens_at,
            );
            let closes = a.start_time.plus(window.closes_after);
            (now < opens || now > closes).then_some(Refusal::CheckInWindow { opens, closes })
        }
        When::AfterEnd => (now < a.end_time).then_some(Refusal::NotOverYet { ends: a.end_time }),
        // After the end it is for the provider to complete it or mark a no-show (DESIGN.md section 7).
        When::BeforeEndUnlessStaff => (now >= a.end_time && !caller.is_staff())
            .then_some(Refusal::AlreadyOver { ended: a.end_time }),
        When::Anytime => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether an action leads from `from` to `next`, by [`RULES`].
    fn can_become(from: AppointmentStatus, next: AppointmentStatus) -> bool {
        RULES
            .iter()
            .any(|r| r.to == Some(next) && r.from.contains(&from))
    }

    /// The statuses from which `next` may be reached, by [`RULES`].
    fn sources_of(next: AppointmentStatus) -> Vec<AppointmentStatus> {
        RULES
            .iter()
            .filter(|r| r.to == Some(next))
            .flat_map(|r| r.from.iter().copied())
            .collect()
    }

    #[test]
    fn the_reference_transition_table() {
        let allowed = [
            // A request (issue 21): confirmed, declined or withdrawn.
            (S::Pending, S::Scheduled),
            (S::Pending, S::Cancelled),
            (S::Scheduled, S::Confirmed),
            (S::Scheduled, S::Cancelled),
            (S::Scheduled, S::Rescheduled),
            (S::Scheduled, S::NoShow),
            (S::Confirmed, S::InProgress),
            (S::Confirmed, S::Cancelled),
            (S::Confirmed, S::NoShow),
            (S::Confirmed, S::Rescheduled),
            (S::InProgress, S::Completed),
        ];
        for from in AppointmentStatus::ALL {
            for to in AppointmentStatus::ALL {
                assert_eq!(
                    can_become(from, to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn final_statuses_have_no_way_out_and_cancel_comes_only_from_active_ones() {
        for s in [S::Completed, S::Cancelled, S::NoShow, S::Rescheduled] {
            assert!(
                AppointmentStatus::ALL.iter().all(|to| !can_become(s, *to)),
                "{s:?}"
            );
            assert!(!s.is_active());
        }
        let mut cancelled_from = sources_of(S::Cancelled);
        cancelled_from.sort_by_key(|s| s.as_str());
        cancelled_from.dedup();
        assert_eq!(cancelled_from, vec![S::Confirmed, S::Pending, S::Scheduled]);
        assert!(cancelled_from.iter().all(|s| s.is_active()));
    }

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

    #[test]
    fn every_action_has_one_row_and_every_target_is_reachable() {
        for a in [
            Action::Confirm,
            Action::CheckIn,
            Action::Start,
            Action::Complete,
            Action::NoShow,
            Action::Cancel,
            Action::Reschedule,
            Action::Edit,
        ] {
            assert_eq!(RULES.iter().filter(|r| r.action == a).count(), 1, "{a:?}");
            if let Some(to) = a.target() {
                assert!(!a.from().is_empty(), "{a:?} starts somewhere");
                assert_eq!(Action::leading_to(to), Some(a));
            }
        }
    }
}
