//! A provider's settings: their time zone, the rules of booking them (minimum notice, how far ahead,
//! how many appointments a day) and the terms an appointment is booked under (late-cancellation hours
//! and fee, no-show fee, when check-in opens, when reminders fire).
//!
//! What a provider never set follows the deployment's configuration, which is today's behaviour: no
//! notice, no horizon, no daily limit, `LATE_CANCELLATION_HOURS`, `CHECK_IN_OPENS_MINUTES`,
//! `REMINDER_OFFSETS` and the configured fees. Booking copies the terms onto the appointment
//! ([`Terms`]), so a later change of settings does not rewrite what a patient agreed to, and cancel,
//! check-in and `publish` need no read of the settings.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::reminders::Offset;
use super::{UtcTime, ZoneName};

/// The bounds of each setting, checked by [`Settings::problems`].
pub const MAX_NOTICE_MINUTES: u32 = 60 * 24 * 30;
pub const MAX_ADVANCE_DAYS: u32 = 730;
pub const MAX_PER_DAY: u32 = 1000;
pub const MAX_LATE_CANCELLATION_HOURS: u32 = 24 * 30;
pub const MAX_CHECK_IN_OPENS_MINUTES: u32 = 24 * 60;
pub const MAX_REMINDERS: usize = 5;
pub const MAX_FEE: f64 = 100_000.0;

/// What a provider set, as stored and as `PUT` takes it: every field optional, an absent or null one
/// follows the configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    /// IANA zone of the provider's days (else the zone of their last bulk generation, else UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// A slot can be booked only this many minutes or more before it starts (0 to 43200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 43200))]
    pub minimum_notice_minutes: Option<u32>,
    /// A slot can be booked only on the provider's today and the next this-many local days (1 to 730).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 730))]
    pub max_advance_days: Option<u32>,
    /// At most this many appointments on one local day of the provider (1 to 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_appointments_per_day: Option<u32>,
    /// A cancellation closer than this to the start is late (0 to 720).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 720))]
    pub late_cancellation_hours: Option<u32>,
    /// Check-in opens this many minutes before the start (0 to 1440).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1440))]
    pub check_in_opens_minutes: Option<u32>,
    /// When reminders fire before the start, such as `24h` or `30m` (at most 5; `[]`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, max_items = 5))]
    pub reminder_offsets: Option<Vec<Offset>>,
    /// Asked of billing for a late cancellation (0: none; at most 100000, cents at most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100000))]
    pub late_cancellation_fee: Option<f64>,
    /// Asked of billing for a no-show (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100000))]
    pub no_show_fee: Option<f64>,
}

/// What applies where a provider set nothing: the deployment's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    pub late_cancellation_hours: u32,
    pub check_in_opens_minutes: u32,
    pub reminder_offsets: Vec<Offset>,
    pub late_cancellation_fee: f64,
    pub no_show_fee: f64,
}

/// Every setting in force: what the provider set, else the default. `GET` shows it; booking applies it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rules {
    pub time_zone: String,
    pub minimum_notice_minutes: u32,
    /// Null: no horizon.
    pub max_advance_days: Option<u32>,
    /// Null: no limit.
    pub max_appointments_per_day: Option<u32>,
    pub late_cancellation_hours: u32,
    pub check_in_opens_minutes: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub reminder_offsets: Vec<Offset>,
    pub late_cancellation_fee: f64,
    pub no_show_fee: f64,
}

/// The terms an appointment was booked under, copied from its provider's rules at booking: the local
/// day it counts against, and what cancel, check-in, reminders and billing apply to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Terms {
    /// The provider's local date of the start: the day of `maxAppointmentsPerDay`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub day: Date,
    pub late_cancellation_hours: u32,
    pub check_in_opens_at: UtcTime,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub reminder_offsets: Vec<Offset>,
    pub late_cancellation_fee: f64,
    pub no_show_fee: f64,
}

/// A booking rule a slot breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("the provider takes bookings only {minutes} minutes or more before the start")]
    TooLate { minutes: u32 },
    #[error("the provider takes bookings only up to {days} days ahead (until {last_day})")]
    TooFarAhead { days: u32, last_day: Date },
    #[error("{day} is full: the provider takes at most {limit} appointment(s) a day")]
    DailyLimit { limit: u32, day: Date },
}

impl Broken {
    /// The reason a series names for a date this rule refuses.
    pub fn code(self) -> &'static str {
        match self {
            Broken::TooLate { .. } => "too_late_to_book",
            Broken::TooFarAhead { .. } => "too_far_ahead",
            Broken::DailyLimit { .. } => "daily_limit_reached",
        }
    }
}

impl Settings {
    /// Each field out of bounds, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        let mut bound = |field: &'static str, value: Option<u32>, lo: u32, hi: u32| {
            if value.is_some_and(|v| !(lo..=hi).contains(&v)) {
                out.push((field, format!("from {lo} to {hi}")));
            }
        };
        bound(
            "minimumNoticeMinutes",
            self.minimum_notice_minutes,
            0,
            MAX_NOTICE_MINUTES,
        );
        bound("maxAdvanceDays", self.max_advance_days, 1, MAX_ADVANCE_DAYS);
        bound(
            "maxAppointmentsPerDay",
            self.max_appointments_per_day,
            1,
            MAX_PER_DAY,
        );
        bound(
            "lateCancellationHours",
            self.late_cancellation_hours,
            0,
            MAX_LATE_CANCELLATION_HOURS,
        );
        bound(
            "checkInOpensMinutes",
            self.check_in_opens_minutes,
            0,
            MAX_CHECK_IN_OPENS_MINUTES,
        );
        if let Some(Err(e)) = self.time_zone.as_deref().map(str::parse::<ZoneName>) {
            out.push(("timeZone", e.to_string()));
        }
        if let Some(offsets) = &self.reminder_offsets {
            let mut distinct = offsets.clone();
            distinct.sort();
            distinct.dedup();
            if distinct.len() != offsets.len() || offsets.len() > MAX_REMINDERS {
                out.push((
                    "reminderOffsets",
                    format!("at most {MAX_REMINDERS} offsets, each once"),
                ));
            }
        }
        for (field, fee) in [
            ("lateCancellationFee", self.late_cancellation_fee),
            ("noShowFee", self.no_show_fee),
        ] {
            if fee.is_some_and(|f| !is_amount(f)) {
                out.push((
                    field,
                    format!("an amount from 0 to {MAX_FEE}, in cents at most"),
                ));
            }
        }
        out
    }

    /// These settings with the time zone's canonical name (`europe/berlin` as `Europe/Berlin`), as
    /// they are stored and answered; for settings whose [`Settings::problems`] are none.
    pub fn canonical(mut self) -> Settings {
        if let Some(Ok(zone)) = self.time_zone.as_deref().map(str::parse::<ZoneName>) {
            self.time_zone = Some(zone.to_string());
        }
        self
    }

    /// The rules in force: what was set, else `defaults`; the zone from the settings, else `known` (the
    /// zone of the provider's last bulk generation), else UTC.
    pub fn rules(&self, known: Option<&str>, defaults: &Defaults) -> Rules {
        let zone = self
            .time_zone
            .as_deref()
            .or(known)
            .filter(|z| TimeZone::get(z).is_ok())
            .unwrap_or("UTC");
        let mut offsets = self
            .reminder_offsets
            .clone()
            .unwrap_or_else(|| defaults.reminder_offsets.clone());
        offsets.sort_by(|a, b| b.cmp(a));
        Rules {
            time_zone: zone.to_owned(),
            minimum_notice_minutes: self.minimum_notice_minutes.unwrap_or(0),
            max_advance_days: self.max_advance_days,
            max_appointments_per_day: self.max_appointments_per_day,
            late_cancellation_hours: self
                .late_cancellation_hours
                .unwrap_or(defaults.late_cancellation_hours),
            check_in_opens_minutes: self
                .check_in_opens_minutes
                .unwrap_or(defaults.check_in_opens_minutes),
            reminder_offsets: offsets,
            late_cancellation_fee: self
                .late_cancellation_fee
                .unwrap_or(defaults.late_cancellation_fee),
            no_show_fee: self.no_show_fee.unwrap_or(defaults.no_show_fee),
        }
    }
}

/// A fee: finite, 0 to [`MAX_FEE`], whole cents.
fn is_amount(f: f64) -> bool {
    super::money::is_amount(f, MAX_FEE)
}

impl Rules {
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    /// The provider's local date of `t`.
    pub fn day_of(&self, t: UtcTime) -> Date {
        t.timestamp().to_zoned(self.zone()).date()
    }

    /// Whether a slot starting at `start` may be booked at `now` by notice and horizon (the daily
    /// limit is the store's: it needs the day's count).
    /// The provider's minimum notice.
    pub fn notice(&self) -> SignedDuration {
        SignedDuration::from_mins(self.minimum_notice_minutes.into())
    }

    pub fn admits(&self, start: UtcTime, now: UtcTime) -> Result<(), Broken> {
        let notice = SignedDuration::from_mins(self.minimum_notice_minutes.into());
        if now.until(start) < notice {
            return Err(Broken::TooLate {
                minutes: self.minimum_notice_minutes,
            });
        }
        if let Some(days) = self.max_advance_days {
            let last_day = self
                .day_of(now)
                .checked_add(jiff::Span::new().days(i64::from(days)))
                .unwrap_or(Date::MAX);
            if self.day_of(start) > last_day {
                return Err(Broken::TooFarAhead { days, last_day });
            }
        }
        Ok(())
    }

    /// The terms an appointment starting at `start` is booked under.
    pub fn terms(&self, start: UtcTime) -> Terms {
        Terms {
            day: self.day_of(start),
            late_cancellation_hours: self.late_cancellation_hours,
            check_in_opens_at: start.plus(-SignedDuration::from_mins(
                self.check_in_opens_minutes.into(),
            )),
            reminder_offsets: self.reminder_offsets.clone(),
            late_cancellation_fee: self.late_cancellation_fee,
            no_show_fee: self.no_show_fee,
        }
    }
}

impl Terms {
    pub fn late_cancellation_window(&self) -> SignedDuration {
        SignedDuration::from_hours(self.late_cancellation_hours.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn defaults() -> Defaults {
        Defaults {
            late_cancellation_hours: 24,
            check_in_opens_minutes: 30,
            reminder_offsets: crate::domain::reminders::parse_offsets("24h,2h,30m").unwrap(),
            late_cancellation_fee: 0.0,
            no_show_fee: 0.0,
        }
    }

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_set_is_todays_behaviour() {
        let r = Settings::default().rules(None, &defaults());
        assert_eq!(r.time_zone, "UTC");
        assert_eq!(r.minimum_notice_minutes, 0);
        assert_eq!(r.max_advance_days, None);
        assert_eq!(r.max_appointments_per_day, None);
        assert_eq!(r.late_cancellation_hours, 24);
        assert_eq!(r.check_in_opens_minutes, 30);
        assert_eq!(r.reminder_offsets.len(), 3);
        let now = t("2027-01-01T09:00:00Z");
        assert_eq!(
            r.admits(now.plus(SignedDuration::from_secs(1)), now),
            Ok(())
        );
        assert_eq!(r.admits(t("2036-01-01T09:00:00Z"), now), Ok(()));
        // The zone of the last bulk generation counts until the settings name one.
        let known = Settings::default().rules(Some("Europe/Paris"), &defaults());
        assert_eq!(known.time_zone, "Europe/Paris");
        let set = Settings {
            time_zone: Some("Asia/Tokyo".into()),
            ..Settings::default()
        };
        assert_eq!(
            set.rules(Some("Europe/Paris"), &defaults()).time_zone,
            "Asia/Tokyo"
        );
    }

    #[test]
    fn notice_is_minutes_before_the_start_and_the_horizon_is_local_days() {
        let s = Settings {
            time_zone: Some("America/New_York".into()),
            minimum_notice_minutes: Some(120),
            max_advance_days: Some(1),
            ..Settings::default()
        };
        let r = s.rules(None, &defaults());
        // 20:00 in New York on 1 January is 01:00 UTC on the 2nd.
        let now = t("2027-01-02T01:00:00Z");
        assert_eq!(r.admits(t("2027-01-02T03:00:00Z"), now), Ok(()));
        assert_eq!(
            r.admits(t("2027-01-02T02:59:59Z"), now),
            Err(Broken::TooLate { minutes: 120 })
        );
        // Tomorrow in New York (the 2nd) ends at 05:00 UTC on the 3rd.
        assert_eq!(r.admits(t("2027-01-03T04:59:00Z"), now), Ok(()));
        assert!(matches!(
            r.admits(t("2027-01-03T05:00:00Z"), now),
            Err(Broken::TooFarAhead { days: 1, last_day }) if last_day.to_string() == "2027-01-02"
        ));
        assert_eq!(
            r.day_of(t("2027-01-03T04:59:00Z")).to_string(),
            "2027-01-02"
        );
    }

    #[test]
    fn terms_copy_the_rules_for_one_start() {
        let s = Settings {
            time_zone: Some("Europe/Paris".into()),
            late_cancellation_hours: Some(48),
            check_in_opens_minutes: Some(10),
            reminder_offsets: Some(vec![]),
            no_show_fee: Some(25.5),
            ..Settings::default()
        };
        let terms = s.rules(None, &defaults()).terms(t("2027-03-01T23:30:00Z"));
        assert_eq!(terms.day.to_string(), "2027-03-02");
        assert_eq!(terms.check_in_opens_at, t("2027-03-01T23:20:00Z"));
        assert_eq!(
            terms.late_cancellation_window(),
            SignedDuration::from_hours(48)
        );
        assert!(terms.reminder_offsets.is_empty());
        assert_eq!(
            (terms.late_cancellation_fee, terms.no_show_fee),
            (0.0, 25.5)
        );
    }

    #[test]
    fn out_of_bounds_settings_name_their_fields() {
        let bad: Settings = serde_json::from_value(serde_json::json!({
            "timeZone": "Mars/Olympus",
            "minimumNoticeMinutes": 43201,
            "maxAdvanceDays": 0,
            "maxAppointmentsPerDay": 0,
            "lateCancellationHours": 721,
            "checkInOpensMinutes": 1441,
            "reminderOffsets": ["1h", "60m"],
            "lateCancellationFee": 1.005,
            "noShowFee": -1
        }))
        .unwrap();
        let mut fields: Vec<&str> = bad.problems().into_iter().map(|(f, _)| f).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "checkInOpensMinutes",
                "lateCancellationFee",
                "lateCancellationHours",
                "maxAdvanceDays",
                "maxAppointmentsPerDay",
                "minimumNoticeMinutes",
                "noShowFee",
                "reminderOffsets",
                "timeZone"
            ]
        );
        let good: Settings = serde_json::from_value(serde_json::json!({
            "timeZone": "Australia/Lord_Howe",
            "minimumNoticeMinutes": 0,
            "maxAdvanceDays": 730,
            "maxAppointmentsPerDay": 1,
            "reminderOffsets": ["168h", "1m"],
            "lateCancellationFee": 19.99,
            "noShowFee": 0
        }))
        .unwrap();
        assert_eq!(good.problems(), vec![]);
        assert!(serde_json::from_value::<Settings>(serde_json::json!({"fee": 1})).is_err());
        assert!(serde_json::from_value::<Settings>(
            serde_json::json!({"reminderOffsets": ["soon"]})
        )
        .is_err());
    }

    proptest! {
        /// Whatever the zone and the times, a start the rules admit is at least the notice ahead and
        /// on a local day within the horizon; one they refuse breaks one of the two.
        #[test]
        fn admission_is_exactly_notice_and_horizon(
            zone in prop::sample::select(vec!["UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati", "America/St_Johns"]),
            notice in 0u32..3000,
            days in prop::option::of(1u32..40),
            now_s in 1_800_000_000i64..1_900_000_000,
            ahead in -3600i64..(45 * 86_400),
        ) {
            let r = Settings {
                time_zone: Some(zone.into()),
                minimum_notice_minutes: Some(notice),
                max_advance_days: days,
                ..Settings::default()
            }
            .rules(None, &defaults());
            let now = UtcTime::from_timestamp(jiff::Timestamp::from_second(now_s).unwrap());
            let start = now.plus(SignedDuration::from_secs(ahead));
            let early = ahead < i64::from(notice) * 60;
            let far = days.is_some_and(|d| {
                let span = r.day_of(now).until(r.day_of(start)).unwrap();
                span.get_days() > d as i32
            });
            match r.admits(start, now) {
                Ok(()) => prop_assert!(!early && !far),
                Err(Broken::TooLate { .. }) => prop_assert!(early),
                Err(Broken::TooFarAhead { .. }) => prop_assert!(!early && far),
                Err(Broken::DailyLimit { .. }) => prop_assert!(false),
            }
        }
    }
}
