//! Bulk slot generation from working hours, in the provider's IANA time zone, stored in UTC.
//!
//! Each session is walked in local civil time, a step of `slot + break` at a time. A start that does not
//! exist (the hour skipped in spring) yields no slot; a start that exists twice (the hour repeated in
//! autumn) is taken once, at its first occurrence, so the repeated hour is not doubled. A slot's end is
//! its start plus its length in real time, so no slot is stretched or squeezed by a transition.

use std::collections::BTreeSet;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span};
use serde::{Deserialize, Deserializer};

use super::{Interval, UtcTime};

/// A wall-clock time of day, written `HH:MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(Time);

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bad = || serde::de::Error::custom("must be a time of day HH:MM, such as 08:30");
        let (h, m) = s
            .split_once(':')
            .filter(|(h, m)| {
                h.len() == 2
                    && m.len() == 2
                    && h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
            })
            .ok_or_else(bad)?;
        let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Time::new(h, m, 0, 0).map(ClockTime).map_err(|_| bad())
    }
}

impl serde::Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02}:{:02}", self.0.hour(), self.0.minute()))
    }
}

impl ClockTime {
    pub fn hm(h: i8, m: i8) -> ClockTime {
        ClockTime(Time::new(h, m, 0, 0).expect("a valid time"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub start: ClockTime,
    pub end: ClockTime,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayHours {
    pub morning: Option<Session>,
    pub afternoon: Option<Session>,
    #[serde(default)]
    pub is_off: bool,
}

impl DayHours {
    pub fn sessions(&self) -> Vec<Session> {
        if self.is_off {
            return vec![];
        }
        self.morning.into_iter().chain(self.afternoon).collect()
    }
}

/// Hours per weekday; a day that is absent is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkingHours {
    pub monday: Option<DayHours>,
    pub tuesday: Option<DayHours>,
    pub wednesday: Option<DayHours>,
    pub thursday: Option<DayHours>,
    pub friday: Option<DayHours>,
    pub saturday: Option<DayHours>,
    pub sunday: Option<DayHours>,
}

impl WorkingHours {
    pub fn on(&self, day: Weekday) -> DayHours {
        let hours = match day {
            Weekday::Monday => self.monday,
            Weekday::Tuesday => self.tuesday,
            Weekday::Wednesday => self.wednesday,
            Weekday::Thursday => self.thursday,
            Weekday::Friday => self.friday,
            Weekday::Saturday => self.saturday,
            Weekday::Sunday => self.sunday,
        };
        hours.unwrap_or(DayHours {
            is_off: true,
            ..Default::default()
        })
    }

    /// `(field, message)` for sessions that end before they start or overlap each other.
    pub fn problems(&self) -> Vec<(String, &'static str)> {
        let days = [
            ("monday", self.monday),
            ("tuesday", self.tuesday),
            ("wednesday", self.wednesday),
            ("thursday", self.thursday),
            ("friday", self.friday),
            ("saturday", self.saturday),
            ("sunday", self.sunday),
        ];
        let mut out = vec![];
        for (name, hours) in days {
            let Some(h) = hours else { continue };
            for (part, s) in [("morning", h.morning), ("afternoon", h.afternoon)] {
                if s.is_some_and(|s| s.end <= s.start) {
                    out.push((
                        format!("workingHours.{name}.{part}"),
                        "end must be after start",
                    ));
                }
            }
            if let (Some(m), Some(a)) = (h.morning, h.afternoon) {
                if a.start < m.end {
                    out.push((
                        format!("workingHours.{name}.afternoon"),
                        "must start after the morning ends",
                    ));
                }
            }
        }
        if days
            .iter()
            .all(|(_, h)| h.is_none_or(|h| h.sessions().is_empty()))
        {
            out.push(("workingHours".into(), "at least one day needs a session"));
        }
        out
    }
}

/// What to generate: validated by the caller (dates in order, lengths positive).
#[derive(Clone, Debug)]
pub struct Plan {
    pub time_zone: TimeZone,
    pub start_date: Date,
    pub end_date: Date,
    pub hours: WorkingHours,
    pub slot: SignedDuration,
    pub break_time: SignedDuration,
    pub exclude: BTreeSet<Date>,
}

/// A generated slot: the provider's local date it belongs to, and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    pub local_date: Date,
    pub interval: Interval,
}

fn in_gap(tz: &TimeZone, dt: DateTime) -> bool {
    matches!(
        tz.to_ambiguous_zoned(dt).offset(),
        jiff::tz::AmbiguousOffset::Gap { .. }
    )
}

fn instant(tz: &TimeZone, dt: DateTime) -> Option<UtcTime> {
    if in_gap(tz, dt) {
        return None;
    }
    // In a fold the earlier offset is the first occurrence.
    tz.to_ambiguous_zoned(dt)
        .earlier()
        .ok()
        .map(|z| UtcTime::from_timestamp(z.timestamp()))
}

/// Whether a slot ending at local `end` ends inside a gap. Ending exactly where a gap begins is ending
/// at the transition itself, which is fine: the slot's end is exclusive.
fn ends_in_gap(tz: &TimeZone, end: DateTime) -> bool {
    in_gap(tz, end)
        && end
            .checked_sub(SignedDuration::from_nanos(1))
            .is_ok_and(|before| in_gap(tz, before))
}

/// Every slot of the plan, in time order. Candidates start every `slot + break` of local time from
/// each session's start; a candidate is skipped when its local start or end falls in a gap, or when, read
/// as instants, it would begin before the previous slot's end (plus the break, inside one session). So no
/// two slots overlap whatever the zone's jumps (Lord Howe moves by 30 minutes) and lengths.
pub fn generate(plan: &Plan) -> Vec<Planned> {
    let step = Span::new().minutes((plan.slot + plan.break_time).as_mins());
    let length = Span::new().minutes(plan.slot.as_mins());
    let mut out: Vec<Planned> = vec![];
    let mut date = plan.start_date;
    while date <= plan.end_date {
        if !plan.exclude.contains(&date) {
            for session in plan.hours.on(date.weekday()).sessions() {
                let session_end = date.to_datetime(session.end.0);
                // The session's end in real time: a nonexistent end (in a gap) is its later reading.
                let Ok(end_limit) = plan.time_zone.to_ambiguous_zoned(session_end).later() else {
                    continue;
                };
                let end_limit = UtcTime::from_timestamp(end_limit.timestamp());
                // The earliest instant the session's next slot may start: after the previous slot (of
                // any session), and after the break as well within this session.
                let mut free_from = out.last().map(|p| p.interval.end());
                let mut civil = date.to_datetime(session.start.0);
                while civil < session_end {
                    let start = instant(&plan.time_zone, civil);
                    let local_end = civil.checked_add(length).ok();
                    if let (Some(start), Some(local_end)) = (start, local_end) {
                        let end = start.plus(plan.slot);
                        if end > end_limit {
                            break;
                        }
                        let clear = free_from.is_none_or(|t| start >= t);
                        if clear && !ends_in_gap(&plan.time_zone, local_end) {
                            out.push(Planned {
                                local_date: date,
                                interval: Interval::new(start, end).expect("a slot has a length"),
                            });
                            free_from = Some(end.plus(plan.break_time));
                        }
                    }
                    let Ok(next) = civil.checked_add(step) else {
                        break;
                    };
                    civil = next;
                }
            }
        }
        let Ok(next) = date.tomorrow() else { break };
        date = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(
        morning: Option<(i8, i8, i8, i8)>,
        afternoon: Option<(i8, i8, i8, i8)>,
    ) -> Option<DayHours> {
        let s = |(a, b, c, d): (i8, i8, i8, i8)| Session {
            start: ClockTime::hm(a, b),
            end: ClockTime::hm(c, d),
        };
        Some(DayHours {
            morning: morning.map(s),
            afternoon: afternoon.map(s),
            is_off: false,
        })
    }

    fn every_day(hours: Option<DayHours>) -> WorkingHours {
        WorkingHours {
            monday: hours,
            tuesday: hours,
            wednesday: hours,
            thursday: hours,
            friday: hours,
            saturday: hours,
            sunday: hours,
        }
    }

    fn plan(tz: &str, from: Date, to: Date, hours: WorkingHours, slot: i64, brk: i64) -> Plan {
        Plan {
            time_zone: TimeZone::get(tz).unwrap(),
            start_date: from,
            end_date: to,
            hours,
            slot: SignedDuration::from_mins(slot),
            break_time: SignedDuration::from_mins(brk),
            exclude: BTreeSet::new(),
        }
    }

    fn starts(p: &Plan) -> Vec<String> {
        generate(p)
            .iter()
            .map(|s| s.interval.start().to_string())
            .collect()
    }

    #[test]
    fn new_york_spring_forward_yields_nothing_in_the_missing_hour() {
        let d = jiff::civil::date(2027, 3, 14);
        let p = plan(
            "America/New_York",
            d,
            d,
            every_day(day(Some((2, 0, 3, 0)), None)),
            30,
            0,
        );
        assert!(
            generate(&p).is_empty(),
            "02:00-03:00 does not exist on 2027-03-14"
        );
        let p = plan(
            "America/New_York",
            d,
            d,
            every_day(day(Some((1, 0, 4, 0)), None)),
            30,
            0,
        );
        // 01:00 and 01:30 EST, then 03:00 and 03:30 EDT.
        assert_eq!(
            starts(&p),
            [
                "2027-03-14T06:00:00Z",
                "2027-03-14T06:30:00Z",
                "2027-03-14T07:00:00Z",
                "2027-03-14T07:30:00Z"
            ]
        );
    }

    #[test]
    fn new_york_fall_back_does_not_double_the_repeated_hour() {
        let d = jiff::civil::date(2027, 11, 7);
        let p = plan(
            "America/New_York",
            d,
            d,
            every_day(day(Some((1, 0, 3, 0)), None)),
            30,
            0,
        );
        // 01:00 and 01:30 EDT (first pass only), then 02:00 and 02:30 EST.
        assert_eq!(
            starts(&p),
            [
                "2027-11-07T05:00:00Z",
                "2027-11-07T05:30:00Z",
                "2027-11-07T07:00:00Z",
                "2027-11-07T07:30:00Z"
            ]
        );
        assert!(generate(&p)
            .iter()
            .all(|s| s.interval.duration() == SignedDuration::from_mins(30)));
    }

    /// Found by the property test (issue 8): two overlapping slots where the clock jumps.
    #[test]
    fn slots_do_not_overlap_where_new_york_and_lord_howe_jump() {
        let ny = jiff::civil::date(2030, 3, 10);
        let p = plan(
            "America/New_York",
            ny,
            ny,
            every_day(day(Some((0, 0, 5, 0)), None)),
            28,
            10,
        );
        // 01:54 EST (06:54Z) would end at 02:22, which does not exist; before the fix it was kept and
        // overlapped 03:10 EDT (07:10Z), which now follows the 01:16 EST slot.
        assert_eq!(
            starts(&p),
            [
                "2030-03-10T05:00:00Z",
                "2030-03-10T05:38:00Z",
                "2030-03-10T06:16:00Z",
                "2030-03-10T07:10:00Z",
                "2030-03-10T07:48:00Z",
                "2030-03-10T08:26:00Z"
            ]
        );
        let lh = jiff::civil::date(2030, 10, 6);
        for (slot, brk) in [(28, 10), (30, 0), (45, 5)] {
            let p = plan(
                "Australia/Lord_Howe",
                lh,
                lh,
                every_day(day(Some((0, 0, 6, 0)), None)),
                slot,
                brk,
            );
            let slots = generate(&p);
            assert!(slots.len() > 3);
            for w in slots.windows(2) {
                assert!(
                    w[0].interval.end().plus(SignedDuration::from_mins(brk))
                        <= w[1].interval.start(),
                    "{slot}/{brk}: {:?} then {:?}",
                    w[0].interval,
                    w[1].interval
                );
            }
        }
    }

    #[test]
    fn london_spring_forward_and_fall_back() {
        let d = jiff::civil::date(2027, 3, 28);
        let p = plan(
            "Europe/London",
            d,
            d,
            every_day(day(Some((0, 30, 2, 30)), None)),
            30,
            0,
        );
        // 00:30 GMT; 01:00 and 01:30 do not exist; 02:00 BST.
        assert_eq!(starts(&p), ["2027-03-28T00:30:00Z", "2027-03-28T01:00:00Z"]);
        let d = jiff::civil::date(2027, 10, 31);
        let p = plan(
            "Europe/London",
            d,
            d,
            every_day(day(Some((0, 30, 2, 30)), None)),
            30,
            0,
        );
        // 00:30 and 01:00, 01:30 BST (first pass), 02:00 GMT.
        assert_eq!(
            starts(&p),
            [
                "2027-10-30T23:30:00Z",
                "2027-10-31T00:00:00Z",
                "2027-10-31T00:30:00Z",
                "2027-10-31T02:00:00Z"
            ]
        );
    }

    #[test]
    fn a_clinic_week_with_breaks_a_day_off_and_an_excluded_date() {
        let mut hours = every_day(day(Some((9, 0, 12, 0)), Some((13, 0, 17, 0))));
        hours.saturday = Some(DayHours {
            is_off: true,
            ..Default::default()
        });
        hours.sunday = None;
        let mut p = plan(
            "Europe/Berlin",
            jiff::civil::date(2027, 6, 7),
            jiff::civil::date(2027, 6, 13),
            hours,
            30,
            10,
        );
        p.exclude.insert(jiff::civil::date(2027, 6, 9));
        let slots = generate(&p);
        // 4 working days x (morning 09:00, 09:40, 10:20, 11:00 = 4; afternoon 13:00 .. 16:20 = 6).
        assert_eq!(slots.len(), 4 * 10);
        assert_eq!(
            slots[0].interval.start().to_string(),
            "2027-06-07T07:00:00Z"
        );
        assert!(slots
            .iter()
            .all(|s| s.local_date != jiff::civil::date(2027, 6, 9)));
    }

    #[test]
    fn working_hours_that_make_no_sense_are_named() {
        let mut h = every_day(day(Some((12, 0, 9, 0)), Some((8, 0, 10, 0))));
        h.tuesday = None;
        let fields: Vec<String> = h.problems().into_iter().map(|(f, _)| f).collect();
        assert!(fields.contains(&"workingHours.monday.morning".to_owned()));
        assert!(fields.contains(&"workingHours.monday.afternoon".to_owned()));
        assert_eq!(WorkingHours::default().problems()[0].0, "workingHours");
        assert!(serde_json::from_str::<ClockTime>("\"9:00\"").is_err());
        assert!(serde_json::from_str::<ClockTime>("\"24:00\"").is_err());
        assert_eq!(
            serde_json::from_str::<ClockTime>("\"08:30\"").unwrap(),
            ClockTime::hm(8, 30)
        );
    }

    fn zones() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "UTC",
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/Santiago",
        ])
    }

    fn session() -> impl Strategy<Value = (i8, i8, i8, i8)> {
        (0i8..23, 0i8..4, 1i8..6).prop_map(|(h, q, len)| (h, q * 15, (h + len).min(23), q * 15))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn generated_slots_never_overlap_and_respect_hours_days_and_spacing(
            tz in zones(),
            start_day in 0i64..730,
            days in 0i64..40,
            morning in session(),
            slot in 5i64..120,
            brk in 0i64..30,
            off in prop::collection::btree_set(0usize..7, 0..3),
            excluded in prop::collection::btree_set(0i64..40, 0..5),
        ) {
            prop_assume!(morning.2 > morning.0 || (morning.2 == morning.0 && morning.3 > morning.1));
            let from = jiff::civil::date(2027, 1, 1).checked_add(Span::new().days(start_day)).unwrap();
            let to = from.checked_add(Span::new().days(days)).unwrap();
            let mut hours = every_day(day(Some(morning), None));
            let weekdays = [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday, Weekday::Saturday, Weekday::Sunday];
            for i in &off {
                let off_day = Some(DayHours { is_off: true, ..Default::default() });
                match weekdays[*i] {
                    Weekday::Monday => hours.monday = off_day,
                    Weekday::Tuesday => hours.tuesday = off_day,
                    Weekday::Wednesday => hours.wednesday = off_day,
                    Weekday::Thursday => hours.thursday = off_day,
                    Weekday::Friday => hours.friday = off_day,
                    Weekday::Saturday => hours.saturday = off_day,
                    Weekday::Sunday => hours.sunday = off_day,
                }
            }
            let mut p = plan(tz, from, to, hours, slot, brk);
            p.exclude = excluded.iter().map(|d| from.checked_add(Span::new().days(*d)).unwrap()).collect();
            let slots = generate(&p);
            let zone = TimeZone::get(tz).unwrap();
            let step = SignedDuration::from_mins(slot + brk);
            for (i, s) in slots.iter().enumerate() {
                prop_assert_eq!(s.interval.duration(), SignedDuration::from_mins(slot));
                prop_assert!(!p.exclude.contains(&s.local_date));
                prop_assert!(!off.iter().any(|i| weekdays[*i] == s.local_date.weekday()));
                prop_assert!(s.local_date >= from && s.local_date <= to);
                // Inside the session, read in real time.
                let local_start = s.interval.start().timestamp().to_zoned(zone.clone()).datetime();
                prop_assert_eq!(local_start.date(), s.local_date);
                prop_assert!(local_start.time() >= Time::new(morning.0, morning.1, 0, 0).unwrap());
                let session_end = zone.to_ambiguous_zoned(s.local_date.at(morning.2, morning.3, 0, 0)).later().unwrap();
                prop_assert!(s.interval.end().timestamp() <= session_end.timestamp());
                if let Some(next) = slots.get(i + 1) {
                    prop_assert!(s.interval.end() <= next.interval.start(), "no overlap");
                    if next.local_date == s.local_date {
                        prop_assert!(
                            s.interval.end().plus(SignedDuration::from_mins(brk)) <= next.interval.start(),
                            "the break holds in real time"
                        );
                    }
                    if next.local_date == s.local_date {
                        // Consecutive in local time by a whole number of steps (one, unless a
                        // transition removed the starts in between).
                        let local_next = next.interval.start().timestamp().to_zoned(zone.clone()).datetime();
                        let gap = local_next.duration_since(local_start);
                        prop_assert!(gap >= step && gap.as_mins() % step.as_mins() == 0, "{} -> {}", local_start, local_next);
                    }
                }
            }
        }
    }
}
