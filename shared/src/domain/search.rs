//! Search across providers (issue 20, section 2; DESIGN.md section 15), as pure functions: what the
//! index carries of a provider, what a search asks, and whether a candidate the index offered may be
//! booked now, judged on the items read consistently for it (the index may lag; the answer may not).

use serde::{Deserialize, Serialize};

use super::appointment_type::AppointmentType;
use super::profile::{primary_language, Profile};
use super::settings::Rules;
use super::slot::Slot;
use super::{ConsultationType, ProviderId, UtcTime};

/// What the index carries of a provider on each of their openings, so a search filters there: the
/// primary languages spoken, the telehealth regions, whether new patients are taken, the types
/// offered (empty: every type), and the zone their days (the daily limit) are counted in. A provider
/// without an active profile is not searchable: their slots have no openings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Searchable {
    pub languages: Vec<String>,
    pub regions: Vec<String>,
    /// The specialty codes.
    #[serde(default)]
    pub specialties: Vec<String>,
    pub new_patients: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<uuid::Uuid>,
    pub zone: String,
    /// Whether the provider has a daily limit: only then is a day's booked count read with a page.
    #[serde(default)]
    pub daily_limit: bool,
}

impl Searchable {
    /// The searchable facts of an active profile, with the provider's zone and whether they limit
    /// their days.
    pub fn of(profile: Option<&Profile>, zone: &str, daily_limit: bool) -> Option<Searchable> {
        let p = profile.filter(|p| p.active)?;
        let mut languages: Vec<String> = p.languages.iter().map(|l| primary_language(l)).collect();
        languages.sort();
        languages.dedup();
        Some(Searchable {
            languages,
            regions: p.telehealth_regions.clone(),
            specialties: p.specialties.iter().map(|x| x.code.clone()).collect(),
            new_patients: p.accepting_new_patients,
            offers: p.appointment_type_ids.clone(),
            zone: zone.to_owned(),
            daily_limit,
        })
    }
}

/// What a search asks for, every filter optional and all of them to hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wanted {
    pub appointment_type: Option<uuid::Uuid>,
    pub consultation: Option<ConsultationType>,
    pub location: Option<String>,
    /// A primary language subtag.
    pub language: Option<String>,
    /// An ISO 3166-2 code the provider must be licensed in for telehealth.
    pub region: Option<String>,
    /// A specialty code the provider must have.
    pub specialty: Option<String>,
    /// At most [`MAX_PROVIDERS`] (empty: any).
    pub providers: Vec<ProviderId>,
}

/// The most providers one search may name.
pub const MAX_PROVIDERS: usize = 20;

/// Why a candidate of the index is not answered: what changed since the index was written, or a rule
/// only the consistent read can judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The slot is gone, full, blocked or cancelled, or has started.
    NotOpen,
    /// The slot no longer admits the type.
    TypeRefused,
    /// The slot is shorter than the type asked for.
    TooShort,
    /// Not offered as the consultation type asked for.
    Consultation,
    /// The provider's profile is gone or inactive, or no longer matches a filter.
    Provider,
    /// The provider's minimum notice or horizon refuses it.
    Rules,
    /// The provider's day is at their daily limit.
    DayFull,
    /// The provider takes no new patients and the patient has never been seen by them.
    NewPatient,
}

impl Dropped {
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::NotOpen => "not_open",
            Dropped::TypeRefused => "type_refused",
            Dropped::TooShort => "too_short",
            Dropped::Consultation => "consultation",
            Dropped::Provider => "provider",
            Dropped::Rules => "rules",
            Dropped::DayFull => "day_full",
            Dropped::NewPatient => "new_patient",
        }
    }
}

/// One candidate as read consistently: its slot, its provider's profile and rules, whether its day
/// is full, whether the patient searching has been seen by the provider (`None`: nobody in particular
/// searches, staff browsing).
pub struct Confirming<'a> {
    pub slot: Option<&'a Slot>,
    /// The wanted type's length: a shorter slot is not offered for it.
    pub visit_minutes: Option<u32>,
    pub profile: Option<&'a Profile>,
    pub rules: &'a Rules,
    pub day_full: bool,
    pub seen: Option<bool>,
}

/// The consultation types `slot` may be booked as: the wanted type's, or, with no type asked, every
/// active type's it admits (`types`: the active types).
pub fn consultation_types(
    slot: &Slot,
    wanted: Option<&AppointmentType>,
    types: &[AppointmentType],
) -> Vec<ConsultationType> {
    let admitted = |t: &&AppointmentType| {
        slot.allowed_appointment_types.is_empty() || slot.allowed_appointment_types.contains(&t.id)
    };
    let mut out: Vec<ConsultationType> = match wanted {
        Some(t) => t.consultation_types.clone(),
        None => types
            .iter()
            .filter(admitted)
            .flat_map(|t| t.consultation_types.iter().copied())
            .collect(),
    };
    let order = |c: &ConsultationType| c.as_str();
    out.sort_by_key(order);
    out.dedup();
    out
}

impl Wanted {
    /// Whether the candidate may be booked at `now` as asked; `offered`: the consultation types it may
    /// be booked as ([`consultation_types`]).
    pub fn admits(
        &self,
        c: &Confirming<'_>,
        offered: &[ConsultationType],
        now: UtcTime,
    ) -> Result<(), Dropped> {
        let slot = c
            .slot
            .filter(|s| s.is_bookable_at(now))
            .ok_or(Dropped::NotOpen)?;
        if let Some(t) = self.appointment_type {
            if !(slot.allowed_appointment_types.is_empty()
                || slot.allowed_appointment_types.contains(&t))
            {
                return Err(Dropped::TypeRefused);
            }
        }
        if c.visit_minutes
            .is_some_and(|m| super::admission::fits(slot, m).is_err())
        {
            return Err(Dropped::TooShort);
        }
        if offered.is_empty() || self.consultation.is_some_and(|k| !offered.contains(&k)) {
            return Err(Dropped::Consultation);
        }
        if self
            .location
            .as_ref()
            .is_some_and(|l| slot.location_id.as_ref() != Some(l))
        {
            return Err(Dropped::Provider);
        }
        let profile = c.profile.filter(|p| p.active).ok_or(Dropped::Provider)?;
        let offers = |t: uuid::Uuid| {
            profile.appointment_type_ids.is_empty() || profile.appointment_type_ids.contains(&t)
        };
        if self.appointment_type.is_some_and(|t| !offers(t))
            || self.language.as_ref().is_some_and(|l| !profile.speaks(l))
            || self
                .region
                .as_ref()
                .is_some_and(|r| !profile.telehealth_regions.contains(r))
            || self
                .specialty
                .as_ref()
                .is_some_and(|c| !profile.specialties.iter().any(|s| &s.code == c))
            || (!self.providers.is_empty() && !self.providers.contains(&slot.provider_id))
        {
            return Err(Dropped::Provider);
        }
        c.rules
            .admits(slot.start_time, now)
            .map_err(|_| Dropped::Rules)?;
        if c.day_full {
            return Err(Dropped::DayFull);
        }
        if !profile.accepting_new_patients && c.seen == Some(false) {
            return Err(Dropped::NewPatient);
        }
        Ok(())
    }
}

/// The most a search window spans: 14 days (a page reads at most the shards of one day per day).
pub const MAX_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(14 * 24);

/// One end of a search window as a client writes it: a local date in the searcher's zone (the whole
/// day), or an instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Edge {
    Date(super::time::Day),
    At(UtcTime),
}

impl std::str::FromStr for Edge {
    type Err = ();
    fn from_str(s: &str) -> Result<Edge, ()> {
        if s.len() == 10 {
            return s.parse().map(Edge::Date).map_err(|_| ());
        }
        s.parse().map(Edge::At).map_err(|_| ())
    }
}

/// The message of an edge that does not parse.
pub const EDGE: &str =
    "must be a date (2027-03-14, in timeZone) or an RFC 3339 date-time, in the years 2000 to 2099";

fn local_start(date: jiff::civil::Date, zone: &jiff::tz::TimeZone) -> Option<UtcTime> {
    date.to_zoned(zone.clone())
        .ok()
        .map(|z| UtcTime::from_timestamp(z.timestamp()))
}

/// The window `[from, to)` a search asks for: `from` now when left out, `to` 14 days after `from`
/// when left out; a date starts at its local midnight in `zone`, and a `to` date ends with its day.
/// `Err((field, message))` when it is empty or longer than 14 days.
pub fn window(
    from: Option<Edge>,
    to: Option<Edge>,
    zone: &jiff::tz::TimeZone,
    now: UtcTime,
) -> Result<(UtcTime, UtcTime), (&'static str, &'static str)> {
    const BAD: (&str, &str) = ("from", "is not a date in timeZone");
    let from = match from {
        None => now,
        Some(Edge::At(t)) => t,
        Some(Edge::Date(d)) => local_start(d.date(), zone).ok_or(BAD)?,
    };
    let to = match to {
        None => from.plus(MAX_WINDOW),
        Some(Edge::At(t)) => t,
        Some(Edge::Date(d)) => {
            let next = d.date().tomorrow().map_err(|_| ("to", "is out of range"))?;
            local_start(next, zone).ok_or(("to", "is not a date in timeZone"))?
        }
    };
    if to <= from {
        return Err(("to", "must be after from"));
    }
    if from.until(to) > MAX_WINDOW {
        return Err(("to", "the window may span at most 14 days"));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::Settings;
    use crate::domain::{Interval, SlotId};

    fn now() -> UtcTime {
        "2030-01-01T08:00:00Z".parse().unwrap()
    }

    fn slot(start: &str) -> Slot {
        let start: UtcTime = start.parse().unwrap();
        let mut s = Slot::open(
            SlotId::new(),
            ProviderId::new(),
            Interval::new(start, start.plus(jiff::SignedDuration::from_mins(30))).unwrap(),
            1,
            now(),
        );
        s.location_id = Some("north".into());
        s
    }

    fn profile() -> Profile {
        Profile {
            display_name: "Dr. Ana Ruiz".into(),
            specialties: vec![],
            languages: vec!["es-MX".into(), "en".into()],
            telehealth_regions: vec!["US-CA".into()],
            location_ids: vec![],
            appointment_type_ids: vec![],
            accepting_new_patients: true,
            active: true,
        }
    }

    fn rules(notice_minutes: u32) -> Rules {
        let settings = Settings {
            minimum_notice_minutes: Some(notice_minutes),
            ..Settings::default()
        };
        settings.rules(
            Some("America/Los_Angeles"),
            &crate::config::Config::default_provider_settings(),
        )
    }

    #[test]
    fn a_candidate_is_answered_only_when_every_filter_and_rule_holds_on_fresh_items() {
        let s = slot("2030-01-01T12:00:00Z");
        let p = profile();
        let r = rules(60);
        let video = [ConsultationType::Video];
        let ok = Confirming {
            slot: Some(&s),
            visit_minutes: None,
            profile: Some(&p),
            rules: &r,
            day_full: false,
            seen: Some(false),
        };
        let wanted = Wanted {
            consultation: Some(ConsultationType::Video),
            language: Some("es".into()),
            region: Some("US-CA".into()),
            location: Some("north".into()),
            ..Wanted::default()
        };
        assert_eq!(wanted.admits(&ok, &video, now()), Ok(()));

        let mut full = s.clone();
        full.current_bookings = 1;
        let c = Confirming {
            slot: Some(&full),
            ..ok
        };
        assert_eq!(wanted.admits(&c, &video, now()), Err(Dropped::NotOpen));
        let c = Confirming { slot: None, ..ok };
        assert_eq!(wanted.admits(&c, &video, now()), Err(Dropped::NotOpen));
        let minutes = s.interval().duration().as_mins() as u32;
        for (m, want) in [(minutes, Ok(())), (minutes + 1, Err(Dropped::TooShort))] {
            let c = Confirming {
                visit_minutes: Some(m),
                ..ok
            };
            assert_eq!(wanted.admits(&c, &video, now()), want, "a {m}-minute visit");
        }
        assert_eq!(
            wanted.admits(&ok, &[ConsultationType::InPerson], now()),
            Err(Dropped::Consultation)
        );
        for other in [
            Wanted {
                region: Some("US-NY".into()),
                ..wanted.clone()
            },
            Wanted {
                language: Some("fr".into()),
                ..wanted.clone()
            },
            Wanted {
                location: Some("south".into()),
                ..wanted.clone()
            },
            Wanted {
                providers: vec![ProviderId::new()],
                ..wanted.clone()
            },
        ] {
            assert_eq!(other.admits(&ok, &video, now()), Err(Dropped::Provider));
        }
        let mut gone = p.clone();
        gone.active = false;
        let c = Confirming {
            profile: Some(&gone),
            ..ok
        };
        assert_eq!(wanted.admits(&c, &video, now()), Err(Dropped::Provider));
        // Four hours ahead, a notice of five hours refuses it.
        let strict = rules(300);
        let c = Confirming {
            rules: &strict,
            ..ok
        };
        assert_eq!(wanted.admits(&c, &video, now()), Err(Dropped::Rules));
        let c = Confirming {
            day_full: true,
            ..ok
        };
        assert_eq!(wanted.admits(&c, &video, now()), Err(Dropped::DayFull));
        let mut closed = p.clone();
        closed.accepting_new_patients = false;
        let c = Confirming {
            profile: Some(&closed),
            ..ok
        };
        assert_eq!(wanted.admits(&c, &video, now()), Err(Dropped::NewPatient));
        let c = Confirming {
            profile: Some(&closed),
            seen: Some(true),
            ..ok
        };
        assert_eq!(wanted.admits(&c, &video, now()), Ok(()));
        let c = Confirming {
            profile: Some(&closed),
            seen: None,
            ..ok
        };
        assert_eq!(wanted.admits(&c, &video, now()), Ok(()));
    }

    #[test]
    fn a_type_must_be_admitted_by_the_slot_and_offered_by_the_provider() {
        let t = uuid::Uuid::new_v4();
        let mut s = slot("2030-01-01T12:00:00Z");
        s.allowed_appointment_types = vec![uuid::Uuid::new_v4()];
        let mut p = profile();
        let r = rules(0);
        let wanted = Wanted {
            appointment_type: Some(t),
            ..Wanted::default()
        };
        let any = [ConsultationType::InPerson];
        let judge = |s: &Slot, p: &Profile| {
            let c = Confirming {
                slot: Some(s),
                visit_minutes: None,
                profile: Some(p),
                rules: &r,
                day_full: false,
                seen: None,
            };
            wanted.admits(&c, &any, now())
        };
        assert_eq!(judge(&s, &p), Err(Dropped::TypeRefused));
        s.allowed_appointment_types.push(t);
        p.appointment_type_ids = vec![uuid::Uuid::new_v4()];
        assert_eq!(judge(&s, &p), Err(Dropped::Provider));
        p.appointment_type_ids.push(t);
        assert_eq!(judge(&s, &p), Ok(()));
    }

    #[test]
    fn a_window_of_local_dates_is_read_in_the_searchers_zone_and_at_most_14_days() {
        let la = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
        let edge = |s: &str| Some(s.parse::<Edge>().unwrap());
        let (from, to) = window(edge("2030-03-09"), edge("2030-03-10"), &la, now()).unwrap();
        assert_eq!(from.to_string(), "2030-03-09T08:00:00Z");
        // The day clocks spring forward is 23 hours long.
        assert_eq!(to.to_string(), "2030-03-11T07:00:00Z");
        let (from, to) = window(None, None, &la, now()).unwrap();
        assert_eq!((from, from.until(to)), (now(), MAX_WINDOW));
        assert_eq!(
            window(edge("2030-03-01"), edge("2030-03-15"), &la, now()),
            Err(("to", "the window may span at most 14 days"))
        );
        assert!(window(edge("2030-03-01"), edge("2030-03-14"), &la, now()).is_ok());
        assert_eq!(
            window(
                edge("2030-03-02T00:00:00Z"),
                edge("2030-03-01T00:00:00Z"),
                &la,
                now()
            ),
            Err(("to", "must be after from"))
        );
        assert!("2030-3-1".parse::<Edge>().is_err());
    }

    proptest::proptest! {
        /// No string makes an edge's parser or the window panic.
        #[test]
        fn edges_parse_any_string_without_panicking(a in ".{0,40}", b in "[0-9TZ:+-]{0,30}") {
            let utc = jiff::tz::TimeZone::UTC;
            let _ = window(a.parse().ok(), b.parse().ok(), &utc, now());
        }
    }

    #[test]
    fn an_inactive_profile_is_not_searchable_and_languages_are_primary_subtags() {
        let mut p = profile();
        let s = Searchable::of(Some(&p), "America/Los_Angeles", false).unwrap();
        assert_eq!(s.languages, vec!["en".to_owned(), "es".to_owned()]);
        assert!(s.new_patients);
        p.active = false;
        assert!(Searchable::of(Some(&p), "UTC", false).is_none());
        assert!(Searchable::of(None, "UTC", false).is_none());
    }
}
