//! Reminders: how long before the start each fires, and which of them an appointment still gets.

use std::fmt;
use std::str::FromStr;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::{AppointmentId, UtcTime};

/// How long before the start a reminder fires: `24h`, `2h`, `30m` (1 minute to 7 days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Offset {
    minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a reminder offset is a whole number of hours or minutes from 1m to 168h, such as 24h or 30m"
)]
pub struct InvalidOffset;

impl Offset {
    pub fn minutes(m: i64) -> Result<Offset, InvalidOffset> {
        (1..=7 * 24 * 60)
            .contains(&m)
            .then_some(Offset { minutes: m })
            .ok_or(InvalidOffset)
    }

    pub fn duration(self) -> SignedDuration {
        SignedDuration::from_mins(self.minutes)
    }
}

impl FromStr for Offset {
    type Err = InvalidOffset;

    fn from_str(s: &str) -> Result<Offset, InvalidOffset> {
        // `strip_suffix`, not a byte split: a split inside a multi-byte character panics.
        let s = s.trim();
        let (number, unit) = match (s.strip_suffix('h'), s.strip_suffix('m')) {
            (Some(n), _) => (n, "h"),
            (_, Some(n)) => (n, "m"),
            _ => return Err(InvalidOffset),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 5 {
            return Err(InvalidOffset);
        }
        let n: i64 = number.parse().map_err(|_| InvalidOffset)?;
        match unit {
            "h" => Offset::minutes(n * 60),
            "m" => Offset::minutes(n),
            _ => Err(InvalidOffset),
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minutes % 60 == 0 {
            write!(f, "{}h", self.minutes / 60)
        } else {
            write!(f, "{}m", self.minutes)
        }
    }
}

impl TryFrom<String> for Offset {
    type Error = InvalidOffset;
    fn try_from(s: String) -> Result<Offset, InvalidOffset> {
        s.parse()
    }
}

impl From<Offset> for String {
    fn from(o: Offset) -> String {
        o.to_string()
    }
}

/// A list such as `24h,2h,30m`: each once, longest first, at most 5.
pub fn parse_offsets(list: &str) -> Result<Vec<Offset>, InvalidOffset> {
    let mut out: Vec<Offset> = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| b.cmp(a));
    out.dedup();
    if out.len() > 5 {
        return Err(InvalidOffset);
    }
    Ok(out)
}

/// The EventBridge Scheduler name of a reminder (1 to 64 of `[0-9a-zA-Z-_.]`).
pub fn schedule_name(appointment: AppointmentId, offset: Offset) -> String {
    format!("reminder-{appointment}-{offset}")
}

/// The reminders an appointment starting at `start` still gets at `now`: each fires at
/// `start - offset`, and only those at least `lead` ahead are scheduled.
pub fn due(
    start: UtcTime,
    offsets: &[Offset],
    now: UtcTime,
    lead: SignedDuration,
) -> Vec<(Offset, UtcTime)> {
    offsets
        .iter()
        .map(|o| (*o, start.plus(-o.duration())))
        .filter(|(_, at)| *at >= now.plus(lead))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    #[test]
    fn offsets_read_and_write_as_hours_or_minutes() {
        let list = parse_offsets("30m, 24h,2h,2h").unwrap();
        let text: Vec<String> = list.iter().map(Offset::to_string).collect();
        assert_eq!(text, ["24h", "2h", "30m"]);
        assert_eq!("90m".parse::<Offset>().unwrap().to_string(), "90m");
        assert_eq!("120m".parse::<Offset>().unwrap().to_string(), "2h");
        for bad in [
            "", "0m", "h", "24", "1d", "-5m", "169h", "+3h", "2.5h", "999999h",
        ] {
            assert!(bad.parse::<Offset>().is_err(), "{bad}");
        }
        assert!(parse_offsets("1m,2m,3m,4m,5m,6m").is_err());
    }

    #[test]
    fn only_reminders_at_least_the_lead_ahead_are_scheduled() {
        let offsets = parse_offsets("24h,2h,30m").unwrap();
        let start = t("2030-01-02T10:00:00Z");
        let minute = SignedDuration::from_mins(1);
        // 1h before the start: only the 30-minute reminder is ahead.
        assert_eq!(
            due(start, &offsets, t("2030-01-02T09:00:00Z"), minute),
            [(offsets[2], t("2030-01-02T09:30:00Z"))]
        );
        // 30m59s before: its time is under a minute away.
        assert!(due(start, &offsets, t("2030-01-02T09:29:01Z"), minute).is_empty());
        assert_eq!(
            due(start, &offsets, t("2030-01-01T00:00:00Z"), minute).len(),
            3
        );
    }

    #[test]
    fn schedule_names_fit_the_scheduler() {
        let name = schedule_name(AppointmentId::new(), "168h".parse().unwrap());
        assert!(name.len() <= 64);
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    }

    proptest! {
        #[test]
        fn an_offset_round_trips_through_its_text(m in 1i64..=10080) {
            let o = Offset::minutes(m).unwrap();
            prop_assert_eq!(o.to_string().parse::<Offset>().unwrap(), o);
        }
    }
}
