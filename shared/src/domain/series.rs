//! Recurring series, without I/O: which local dates a series falls on, and the instant of each
//! occurrence at the first one's wall-clock time in the provider's zone (so a weekly 09:00 stays 09:00
//! across a DST change).

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Span;
use serde::{Deserialize, Serialize};

use super::UtcTime;

/// At most this many occurrences: 2 writes each, plus the patient's guard, the type's check and the
/// series item, fit one transaction (26 x 3 + 4 = 82 of DynamoDB's 100 actions:
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html; each
/// occurrence is its seat, its appointment and its provider's day count; 32 would fill 100 with a type
/// check and an idempotency record).
pub const MAX_OCCURRENCES: usize = 26;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Frequency {
    Weekly,
    Biweekly,
    /// The same day of the month (the last day of a shorter month).
    Monthly,
}

/// Why a series has no dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeriesDates {
    #[error("a series has at most 26 occurrences")]
    TooMany,
    /// `until` lies before the second occurrence: a series is at least two.
    #[error("until must allow at least two occurrences from the first slot's date")]
    TooFew,
}

/// The local dates of a series from `first`: `count` of them, or every one up to and including `until`;
/// from 2 to [`MAX_OCCURRENCES`] of them.
pub fn dates(
    first: Date,
    frequency: Frequency,
    count: Option<usize>,
    until: Option<Date>,
) -> Result<Vec<Date>, SeriesDates> {
    let step = |i: i64| match frequency {
        Frequency::Weekly => first.checked_add(Span::new().days(7 * i)),
        Frequency::Biweekly => first.checked_add(Span::new().days(14 * i)),
        Frequency::Monthly => first.checked_add(Span::new().months(i)),
    };
    let enough = |out: Vec<Date>| {
        if out.len() < 2 {
            Err(SeriesDates::TooFew)
        } else {
            Ok(out)
        }
    };
    let mut out = vec![];
    for i in 0..=MAX_OCCURRENCES as i64 {
        let Ok(d) = step(i) else { break };
        match (count, until) {
            (Some(n), _) if out.len() == n => return enough(out),
            (None, Some(u)) if d > u => return enough(out),
            _ => {}
        }
        if out.len() == MAX_OCCURRENCES {
            return Err(SeriesDates::TooMany);
        }
        out.push(d);
    }
    Err(SeriesDates::TooMany)
}

/// The instant `date` at `time` in `zone`, or `None` if that local time does not exist that day (a DST
/// gap: no generated slot starts there either).
pub fn at(date: Date, time: Time, zone: &TimeZone) -> Option<UtcTime> {
    let local = date.to_datetime(time);
    let zoned = zone
        .to_ambiguous_zoned(local)
        .unambiguous()
        .or_else(|_| zone.to_ambiguous_zoned(local).earlier())
        .ok()?;
    // A gap's "earlier" is not the asked wall-clock time: no slot starts there.
    (zoned.datetime() == local).then(|| UtcTime::from_timestamp(zoned.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn a_weekly_nine_o_clock_stays_nine_o_clock_across_the_change() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let days = dates(d("2030-02-26"), Frequency::Weekly, Some(6), None).unwrap();
        assert_eq!(days.len(), 6);
        let utc: Vec<String> = days
            .iter()
            .map(|day| {
                at(*day, Time::constant(9, 0, 0, 0), &ny)
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            utc,
            [
                "2030-02-26T14:00:00Z",
                "2030-03-05T14:00:00Z",
                "2030-03-12T13:00:00Z",
                "2030-03-19T13:00:00Z",
                "2030-03-26T13:00:00Z",
                "2030-04-02T13:00:00Z"
            ]
        );
        assert_eq!(
            at(d("2030-03-10"), Time::constant(2, 30, 0, 0), &ny),
            None,
            "the gap"
        );
    }

    #[test]
    fn series_end_by_count_or_date_and_never_pass_the_limit() {
        let first = d("2030-01-31");
        assert_eq!(
            dates(first, Frequency::Monthly, Some(3), None).unwrap(),
            [d("2030-01-31"), d("2030-02-28"), d("2030-03-31")]
        );
        assert_eq!(
            dates(first, Frequency::Biweekly, None, Some(d("2030-03-14"))).unwrap(),
            [
                d("2030-01-31"),
                d("2030-02-14"),
                d("2030-02-28"),
                d("2030-03-14")
            ]
        );
        assert_eq!(
            dates(first, Frequency::Weekly, Some(26), None)
                .unwrap()
                .len(),
            26
        );
        assert_eq!(
            dates(first, Frequency::Weekly, None, Some(d("2031-01-01"))),
            Err(SeriesDates::TooMany)
        );
        assert_eq!(
            dates(first, Frequency::Weekly, Some(27), None),
            Err(SeriesDates::TooMany)
        );
    }

    #[test]
    fn an_until_before_the_second_occurrence_is_too_few() {
        let first = d("2030-01-31");
        for until in ["2030-01-30", "2030-01-31", "2030-02-06"] {
            assert_eq!(
                dates(first, Frequency::Weekly, None, Some(d(until))),
                Err(SeriesDates::TooFew),
                "{until}"
            );
        }
        assert_eq!(
            dates(first, Frequency::Weekly, None, Some(d("2030-02-07"))).map(|d| d.len()),
            Ok(2)
        );
    }
}
