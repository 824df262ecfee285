//! Instants and intervals as the table stores them: UTC, whole seconds, RFC 3339 with a fixed width
//! (`2027-03-14T09:30:00Z`), so that string order is time order in sort keys.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Unit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC with whole-second precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(Timestamp);

impl UtcTime {
    pub fn from_timestamp(ts: Timestamp) -> Self {
        let whole = jiff::TimestampRound::new()
            .smallest(Unit::Second)
            .mode(jiff::RoundMode::Trunc);
        Self(ts.round(whole).unwrap_or(ts))
    }

    pub fn timestamp(self) -> Timestamp {
        self.0
    }

    /// The UTC calendar date this instant falls on.
    pub fn utc_date(self) -> Date {
        self.0.to_zoned(jiff::tz::TimeZone::UTC).date()
    }

    /// The first instant of a UTC date (the dates this service takes are [`Day`]s, 2000 to 2099; at the
    /// very ends of jiff's range it saturates instead of failing).
    pub fn start_of(date: Date) -> Self {
        let ts = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(if date.year() < 0 {
                Timestamp::MIN
            } else {
                Timestamp::MAX
            });
        Self(ts)
    }

    pub fn is_whole_minute(self) -> bool {
        self.0.as_second().rem_euclid(60) == 0
    }

    pub fn plus(self, d: SignedDuration) -> Self {
        Self::from_timestamp(
            self.0
                .saturating_add(d)
                .expect("saturating add never fails"),
        )
    }

    pub fn until(self, later: UtcTime) -> SignedDuration {
        later.0.duration_since(self.0)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.strftime("%Y-%m-%dT%H:%M:%SZ"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an RFC 3339 date-time with an offset, such as 2027-03-14T09:30:00Z, in the years 2000 to 2099")]
pub struct InvalidTime;

/// The years this service takes (DESIGN.md section 8): nothing computed from them can overflow.
pub const YEARS: std::ops::RangeInclusive<i16> = 2000..=2099;

/// A calendar date as clients send it (`2027-03-14`), in the years 2000 to 2099.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(Date);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a date such as 2027-03-14, in the years 2000 to 2099")]
pub struct InvalidDay;

impl Day {
    pub fn date(self) -> Date {
        self.0
    }

    /// The first instant of this day in UTC.
    pub fn start(self) -> UtcTime {
        UtcTime::start_of(self.0)
    }

    /// The first instant after this UTC day.
    pub fn end(self) -> UtcTime {
        UtcTime::start_of(self.0.tomorrow().unwrap_or(self.0))
    }
}

impl FromStr for Day {
    type Err = InvalidDay;

    fn from_str(s: &str) -> Result<Self, InvalidDay> {
        let d: Date = s.parse().map_err(|_| InvalidDay)?;
        if s.len() != 10 || !YEARS.contains(&d.year()) {
            return Err(InvalidDay);
        }
        Ok(Self(d))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for UtcTime {
    type Err = InvalidTime;

    /// Any RFC 3339 offset is accepted (`-05:00`, `Z`); the value is kept in UTC.
    fn from_str(s: &str) -> Result<Self, InvalidTime> {
        let ts: Timestamp = s.parse().map_err(|_| InvalidTime)?;
        let year = ts.to_zoned(jiff::tz::TimeZone::UTC).year();
        if ts.subsec_nanosecond() != 0 || !YEARS.contains(&year) {
            return Err(InvalidTime);
        }
        Ok(Self(ts))
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A half-open period `[start, end)` with `start < end`; the only way to build one checks that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawInterval", into = "RawInterval")]
pub struct Interval {
    start: UtcTime,
    end: UtcTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("endTime must be after startTime")]
pub struct EmptyInterval;

impl Interval {
    pub fn new(start: UtcTime, end: UtcTime) -> Result<Self, EmptyInterval> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(EmptyInterval)
        }
    }

    pub fn start(&self) -> UtcTime {
        self.start
    }

    pub fn end(&self) -> UtcTime {
        self.end
    }

    pub fn duration(&self) -> SignedDuration {
        self.start.until(self.end)
    }

    /// Half-open: back-to-back intervals (one ends when the next starts) do not overlap.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Every UTC date the interval occupies, in order. Two intervals that overlap share at least one of
    /// these dates, which is what makes per-day guards sufficient for overlap checks.
    pub fn utc_dates(&self) -> Vec<Date> {
        let last = self.end.plus(SignedDuration::from_secs(-1)).utc_date();
        let mut dates = vec![self.start.utc_date()];
        while let Some(next) = dates
            .last()
            .and_then(|d| d.tomorrow().ok())
            .filter(|d| *d <= last)
        {
            dates.push(next);
        }
        dates
    }
}

#[derive(Serialize, Deserialize)]
struct RawInterval {
    start: UtcTime,
    end: UtcTime,
}

impl TryFrom<RawInterval> for Interval {
    type Error = EmptyInterval;
    fn try_from(raw: RawInterval) -> Result<Self, EmptyInterval> {
        Interval::new(raw.start, raw.end)
    }
}

impl From<Interval> for RawInterval {
    fn from(iv: Interval) -> Self {
        RawInterval {
            start: iv.start,
            end: iv.end,
        }
    }
}

/// An IANA time zone a clinic can be in, by its canonical name: `europe/berlin` is read as
/// `Europe/Berlin`. Only geographic zones (`Area/Location` in the tz database's areas) and `UTC` (the
/// default of a provider who set none): `Factory`, `Etc/GMT+5`, `EST5EDT` and the like name no place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZoneName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a geographic IANA time zone such as America/New_York")]
pub struct InvalidZone;

/// The areas of the tz database whose zones are places (https://data.iana.org/time-zones/theory.html).
const AREAS: [&str; 10] = [
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
];

impl ZoneName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.0).unwrap_or(TimeZone::UTC)
    }
}

impl FromStr for ZoneName {
    type Err = InvalidZone;

    fn from_str(s: &str) -> Result<ZoneName, InvalidZone> {
        if s.is_empty() || s.len() > 64 || !s.is_ascii() {
            return Err(InvalidZone);
        }
        // The database's own spelling: its lookup ignores case, its list keeps the canonical one.
        let name = jiff::tz::db()
            .available()
            .find(|n| n.as_str().eq_ignore_ascii_case(s))
            .map(|n| n.as_str().to_owned())
            .ok_or(InvalidZone)?;
        let area = name.split('/').next().unwrap_or_default();
        let place = name.contains('/') && AREAS.contains(&area);
        if !(place || name == "UTC") || TimeZone::get(&name).is_err() {
            return Err(InvalidZone);
        }
        Ok(ZoneName(name))
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// "Now", injected so that time rules are testable. `System` reads the real clock on every call;
/// `Manual` is a clock a test sets and moves (epoch seconds). The one way any layer reads the time.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn now(&self) -> UtcTime {
        match self {
            Clock::System => UtcTime::from_timestamp(jiff::Timestamp::now()),
            Clock::Manual(secs) => UtcTime::from_timestamp(
                jiff::Timestamp::from_second(secs.load(Ordering::SeqCst)).unwrap_or_default(),
            ),
        }
    }

    /// A manual clock at `t`.
    pub fn manual(t: UtcTime) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(t.timestamp().as_second())))
    }

    /// Moves a manual clock to `t`; other clocks do not move.
    pub fn set(&self, t: UtcTime) {
        if let Clock::Manual(secs) = self {
            secs.store(t.timestamp().as_second(), Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    #[test]
    fn times_are_stored_in_utc_with_a_fixed_width() {
        assert_eq!(
            t("2027-03-14T09:30:00-04:00").to_string(),
            "2027-03-14T13:30:00Z"
        );
        assert_eq!(
            t("2027-01-02T03:04:05Z").to_string(),
            "2027-01-02T03:04:05Z"
        );
        assert_eq!(
            serde_json::to_string(&t("2027-01-02T00:00:00+00:00")).unwrap(),
            "\"2027-01-02T00:00:00Z\""
        );
    }

    #[test]
    fn times_without_an_offset_or_with_fractions_are_refused() {
        for bad in [
            "2027-03-14T09:30:00",
            "2027-03-14",
            "tomorrow",
            "2027-03-14T09:30:00.5Z",
            "",
        ] {
            assert_eq!(bad.parse::<UtcTime>(), Err(InvalidTime), "{bad:?}");
        }
    }

    #[test]
    fn an_interval_must_end_after_it_starts() {
        assert_eq!(
            Interval::new(t("2027-01-01T10:00:00Z"), t("2027-01-01T10:00:00Z")),
            Err(EmptyInterval)
        );
        assert_eq!(
            Interval::new(t("2027-01-01T10:00:00Z"), t("2027-01-01T09:00:00Z")),
            Err(EmptyInterval)
        );
        let iv: Result<Interval, _> = serde_json::from_str(
            r#"{"start":"2027-01-01T10:00:00Z","end":"2027-01-01T09:00:00Z"}"#,
        );
        assert!(iv.is_err());
    }

    #[test]
    fn back_to_back_intervals_do_not_overlap() {
        let a = Interval::new(t("2027-01-01T09:00:00Z"), t("2027-01-01T09:30:00Z")).unwrap();
        let b = Interval::new(t("2027-01-01T09:30:00Z"), t("2027-01-01T10:00:00Z")).unwrap();
        let c = Interval::new(t("2027-01-01T09:29:00Z"), t("2027-01-01T09:31:00Z")).unwrap();
        assert!(!a.overlaps(&b) && !b.overlaps(&a));
        assert!(a.overlaps(&c) && c.overlaps(&b) && b.overlaps(&c));
    }

    #[test]
    fn an_interval_over_midnight_occupies_both_dates_and_one_ending_at_midnight_only_one() {
        let over = Interval::new(t("2027-01-01T23:30:00Z"), t("2027-01-02T00:30:00Z")).unwrap();
        assert_eq!(over.utc_dates().len(), 2);
        let to_midnight =
            Interval::new(t("2027-01-01T23:30:00Z"), t("2027-01-02T00:00:00Z")).unwrap();
        assert_eq!(to_midnight.utc_dates(), vec![jiff::civil::date(2027, 1, 1)]);
    }

    fn interval() -> impl Strategy<Value = Interval> {
        (0i64..10_000, 1i64..3_000).prop_map(|(start, len)| {
            let base = t("2027-01-01T00:00:00Z");
            let s = base.plus(SignedDuration::from_mins(start));
            Interval::new(s, s.plus(SignedDuration::from_mins(len))).unwrap()
        })
    }

    proptest! {
        #[test]
        fn overlapping_intervals_always_share_a_utc_date(a in interval(), b in interval()) {
            prop_assert_eq!(a.overlaps(&b), b.overlaps(&a));
            if a.overlaps(&b) {
                let bd = b.utc_dates();
                prop_assert!(a.utc_dates().iter().any(|d| bd.contains(d)));
            }
        }

        #[test]
        fn overlap_matches_a_minute_by_minute_check(a in interval(), b in interval()) {
            let minutes = |iv: &Interval| {
                let base = t("2027-01-01T00:00:00Z");
                (base.until(iv.start()).as_mins()..base.until(iv.end()).as_mins()).collect::<std::collections::HashSet<_>>()
            };
            prop_assert_eq!(a.overlaps(&b), !minutes(&a).is_disjoint(&minutes(&b)));
        }
    }

    #[test]
    fn zones_are_read_case_insensitively_and_named_canonically_and_only_places() {
        for (typed, canonical) in [
            ("europe/berlin", "Europe/Berlin"),
            ("AMERICA/NEW_YORK", "America/New_York"),
            (
                "America/Argentina/Buenos_Aires",
                "America/Argentina/Buenos_Aires",
            ),
            ("utc", "UTC"),
        ] {
            assert_eq!(typed.parse::<ZoneName>().unwrap().as_str(), canonical);
        }
        for never in [
            "Factory",
            "Etc/GMT+5",
            "EST5EDT",
            "GMT",
            "Nowhere/City",
            "",
            "Europe/Berlin ",
        ] {
            assert!(never.parse::<ZoneName>().is_err(), "{never}");
        }
    }
}
