//! Appointment types: what a visit is (a name, a length, a fee, how it may be held).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ConsultationType, UtcTime};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentType {
    pub id: Uuid,
    pub name: String,
    pub duration_minutes: u32,
    pub consultation_fee: f64,
    /// The ways it may be held; a booking must pick one of them.
    pub consultation_types: Vec<ConsultationType>,
    pub is_active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its bookings are requests (`pending`) until the provider confirms them.
    #[serde(default)]
    pub requires_confirmation: bool,
    /// How long a request waits for the provider's answer (1 to 168 hours, default 24), never past the
    /// start less the provider's minimum notice; unanswered by then, it is declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_deadline_hours: Option<u32>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
    /// Grows by one with every change: the optimistic check of a PATCH (types stored before it have 0).
    #[serde(default)]
    pub version: u64,
}

impl AppointmentType {
    /// A new active type of `minutes`, held in the ways `kinds` (the first the default), without fee,
    /// description or confirmation (set those as asked).
    pub fn new(name: &str, minutes: u32, kinds: Vec<ConsultationType>, now: UtcTime) -> Self {
        AppointmentType {
            id: Uuid::new_v4(),
            name: name.trim().to_owned(),
            duration_minutes: minutes,
            consultation_fee: 0.0,
            consultation_types: distinct(&kinds),
            is_active: true,
            description: None,
            requires_confirmation: false,
            confirmation_deadline_hours: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// `kinds` without repeats, in the order given (the first is a booking's default).
pub fn distinct(kinds: &[ConsultationType]) -> Vec<ConsultationType> {
    let mut out: Vec<ConsultationType> = vec![];
    for k in kinds {
        if !out.contains(k) {
            out.push(*k);
        }
    }
    out
}

/// A request's wait for the provider's answer when its type says nothing.
pub const CONFIRMATION_DEADLINE_HOURS: u32 = 24;

impl AppointmentType {
    /// When a request of this type booked at `now` for `start` is declined unanswered: the type's
    /// hours after `now`, never past `start` less `notice` (the provider's minimum notice). `None` for
    /// a type whose bookings need no confirmation.
    pub fn confirmation_deadline(
        &self,
        now: UtcTime,
        start: UtcTime,
        notice: jiff::SignedDuration,
    ) -> Option<UtcTime> {
        if !self.requires_confirmation {
            return None;
        }
        let hours = self
            .confirmation_deadline_hours
            .unwrap_or(CONFIRMATION_DEADLINE_HOURS);
        let asked = now.plus(jiff::SignedDuration::from_hours(hours.into()));
        Some(asked.min(start.plus(-notice)).max(now))
    }

    /// `(field, message)` for every value out of range.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = vec![];
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            out.push(("name", "must be 1 to 100 characters"));
        }
        if !(5..=480).contains(&self.duration_minutes) {
            out.push(("durationMinutes", "must be 5 to 480"));
        }
        if !super::money::is_amount(self.consultation_fee, 100_000.0) {
            out.push((
                "consultationFee",
                "must be 0 to 100000 with at most two decimals",
            ));
        }
        if self.consultation_types.is_empty() {
            out.push((
                "consultationTypes",
                "must name at least one of in_person, video, phone",
            ));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1000)
        {
            out.push(("description", "must be at most 1000 characters"));
        }
        if self
            .confirmation_deadline_hours
            .is_some_and(|h| !(1..=168).contains(&h))
        {
            out.push(("confirmationDeadlineHours", "must be 1 to 168"));
        }
        if super::text::has_forbidden(&self.name) {
            out.push(("name", super::text::FORBIDDEN));
        }
        if self
            .description
            .as_deref()
            .is_some_and(super::text::has_forbidden)
        {
            out.push(("description", super::text::FORBIDDEN));
        }
        out
    }

    /// How a booking of this type is held: the one asked for if the type offers it.
    pub fn consultation(&self, asked: Option<ConsultationType>) -> Option<ConsultationType> {
        match asked {
            Some(c) => self.consultation_types.contains(&c).then_some(c),
            None => self.consultation_types.first().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_waits_its_hours_but_never_past_the_start_less_the_notice() {
        let at = |s: &str| -> UtcTime { s.parse().unwrap() };
        let now = at("2030-01-01T09:00:00Z");
        let notice = jiff::SignedDuration::from_hours(2);
        let mut kind = t();
        assert_eq!(
            kind.confirmation_deadline(now, at("2030-01-05T09:00:00Z"), notice),
            None
        );
        kind.requires_confirmation = true;
        // 24 hours by default, the type's when it says.
        assert_eq!(
            kind.confirmation_deadline(now, at("2030-01-05T09:00:00Z"), notice),
            Some(at("2030-01-02T09:00:00Z"))
        );
        kind.confirmation_deadline_hours = Some(4);
        assert_eq!(
            kind.confirmation_deadline(now, at("2030-01-05T09:00:00Z"), notice),
            Some(at("2030-01-01T13:00:00Z"))
        );
        // A visit sooner than that: the answer is due by the start less the provider's notice.
        assert_eq!(
            kind.confirmation_deadline(now, at("2030-01-01T12:00:00Z"), notice),
            Some(at("2030-01-01T10:00:00Z"))
        );
        kind.confirmation_deadline_hours = Some(0);
        assert!(kind
            .problems()
            .iter()
            .any(|(f, _)| *f == "confirmationDeadlineHours"));
    }

    fn t() -> AppointmentType {
        AppointmentType {
            id: Uuid::new_v4(),
            name: "Follow-up".into(),
            duration_minutes: 20,
            consultation_fee: 45.5,
            consultation_types: vec![ConsultationType::Video, ConsultationType::Phone],
            is_active: true,
            description: None,
            requires_confirmation: false,
            confirmation_deadline_hours: None,
            created_at: "2027-01-01T00:00:00Z".parse().unwrap(),
            updated_at: "2027-01-01T00:00:00Z".parse().unwrap(),
            version: 1,
        }
    }

    #[test]
    fn a_type_offers_only_its_consultation_types() {
        assert_eq!(t().consultation(None), Some(ConsultationType::Video));
        assert_eq!(
            t().consultation(Some(ConsultationType::Phone)),
            Some(ConsultationType::Phone)
        );
        assert_eq!(t().consultation(Some(ConsultationType::InPerson)), None);
    }

    #[test]
    fn out_of_range_values_are_named() {
        assert!(t().problems().is_empty());
        let bad = AppointmentType {
            name: " ".into(),
            duration_minutes: 2,
            consultation_fee: 10.005,
            consultation_types: vec![],
            ..t()
        };
        let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "name",
                "durationMinutes",
                "consultationFee",
                "consultationTypes"
            ]
        );
    }
}
