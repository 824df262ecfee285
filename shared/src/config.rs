//! Environment -> typed configuration, read once at cold start. The local stack builds the same struct
//! from the `Environment.Variables` that template.yaml gives each function.

use jiff::SignedDuration;

use crate::domain::lifecycle::CheckInWindow;

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: Option<String>,
    pub event_bus_name: Option<String>,
    pub jobs_queue_url: Option<String>,
    /// Where `publish` parks the records it can never send (`PARKED_QUEUE_URL`).
    pub parked_queue_url: Option<String>,
    /// The audit bucket (`AUDIT_BUCKET`), for the functions that read the audit trail.
    pub audit_bucket: Option<String>,
    /// What list cursors are sealed under (`CURSOR_KEY`, the stack's generated secret).
    pub cursor_key: Option<Secret>,
    /// The JWT claim that lists the caller's roles.
    pub roles_claim: String,
    /// A cancellation closer than this to the start is marked `lateCancellation`.
    pub late_cancellation_window: SignedDuration,
    pub check_in: CheckInWindow,
    /// Video rooms are `<video_base_url>/<room id>`.
    pub video_base_url: String,
    /// A patient may hold at most this many appointments that have not ended (1 to 1000).
    pub max_active_per_patient: usize,
    /// How long before the start reminders fire (`REMINDER_OFFSETS`, default `24h,2h,30m`).
    pub reminder_offsets: Vec<crate::domain::reminders::Offset>,
    /// A reminder or an offer's expiry is scheduled only if it fires at least this far ahead
    /// (`REMINDER_MIN_LEAD_SECONDS`, default 60): Scheduler fires within the minute of `at()`. A sooner
    /// offer expiry is a delayed job on the queue instead.
    pub reminder_lead: SignedDuration,
    /// What `publish` needs to create schedules: their group, the role Scheduler assumes, the jobs
    /// queue they send to and its dead-letter queue.
    pub schedules: Option<Schedules>,
    /// What a late cancellation and a no-show cost (`LATE_CANCELLATION_FEE`, `NO_SHOW_FEE`; 0: none).
    pub fees: Fees,
    /// How long a waitlist offer holds its seat (`OFFER_TTL_SECONDS`, 1 to 86400, default 1800).
    pub offer_ttl: SignedDuration,
    /// How long `POST /holds` keeps a seat (`HOLD_TTL_SECONDS`, 60 to 1800, default 600).
    pub hold_ttl: SignedDuration,
    /// The priority of the waitlist entry a follow-up with a date becomes (`FOLLOW_UP_PRIORITY`, 0 to
    /// 10, default 5): ahead of patients who joined by themselves (0).
    pub follow_up_priority: u8,
    /// A patient's live holds at most (`MAX_HOLDS_PER_PATIENT`, 1 to 20, default 3).
    pub max_holds_per_patient: usize,
    /// Unanswered offers after which a waitlist entry expires (`MAX_OFFERS`, 1 to 20, default 3).
    pub max_offers: u32,
    /// Whether every DynamoDB request asks for its consumed capacity and counts it into the metrics
    /// (`RETURN_CONSUMED_CAPACITY`: `TOTAL` or `NONE`, default `NONE`): [`crate::store::capacity`].
    pub return_consumed_capacity: bool,
    /// The shards a type's day of the search index is spread over (`SEARCH_SHARDS`, 1 to 64, 8 by
    /// default): `publish` writes and search reads with the same count.
    pub search_shards: u32,
    /// Webhook deliveries (`deliver`, and the endpoints' checks of their URLs).
    pub webhooks: Webhooks,
    /// The SMART Scheduling Links feed (`write-slot-feed`, `GET /fhir/$bulk-publish`).
    pub slot_feed: SlotFeed,
    /// Manage links (`publish` makes them, `/manage/{token}` opens them).
    pub manage: ManageLinks,
}

/// Manage links: the keys they are made and opened with, and where they point.
#[derive(Clone, Debug)]
pub struct ManageLinks {
    /// `MANAGE_LINK_KEY` (the stack's generated secret, at least 32 characters) and, while a rotation
    /// settles, `MANAGE_LINK_PREVIOUS_KEY`.
    pub keys: Option<crate::domain::manage::Keys>,
    /// What a link starts with (`MANAGE_BASE_URL`): `<base>/manage/<token>`.
    pub base_url: Option<String>,
}

impl ManageLinks {
    /// The link of `appointment`, good until `expires`, if links are configured.
    pub fn url(
        &self,
        appointment: crate::domain::AppointmentId,
        expires: crate::domain::UtcTime,
    ) -> Option<String> {
        let (keys, base) = (self.keys.as_ref()?, self.base_url.as_ref()?);
        Some(format!(
            "{}/manage/{}",
            base.trim_end_matches('/'),
            keys.token(appointment, expires)
        ))
    }
}

/// The SMART Scheduling Links feed.
#[derive(Clone, Debug)]
pub struct SlotFeed {
    /// The feed bucket (`FEED_BUCKET`).
    pub bucket: Option<String>,
    /// Each Slot's deep link (`SLOT_FEED_BOOKING_URL`, with `{slotId}`; default
    /// `https://booking.clinic.invalid/slots/{slotId}`) and booking phone (`SLOT_FEED_BOOKING_PHONE`).
    pub booking: crate::domain::smart::Booking,
    /// How far ahead slots are published (`SLOT_FEED_DAYS`, 1 to 60, default 14).
    pub days: u32,
}

/// How webhooks are delivered.
#[derive(Clone, Debug)]
pub struct Webhooks {
    /// The deliveries queue, where `deliver` puts later attempts (`WEBHOOK_QUEUE_URL`).
    pub queue_url: Option<String>,
    /// The pauses between attempts (`WEBHOOK_RETRY_SECONDS`, default 5,300,1800,7200,18000,36000,36000).
    pub retries: crate::domain::webhook::RetrySchedule,
    /// Failed deliveries in a row that disable an endpoint (`WEBHOOK_DISABLE_AFTER`, 1 to 100, default 5).
    pub disable_after: u32,
    /// Where deliveries may go: public https only, unless `WEBHOOK_ALLOW_LOOPBACK=true` (the local
    /// stack's setting; template.yaml never sets it) also allows http to this machine.
    pub reach: crate::domain::webhook::Reach,
}

/// The fees billing is asked for; 0 asks for none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fees {
    pub late_cancellation: f64,
    pub no_show: f64,
}

/// Where reminder and offer schedules go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedules {
    pub group: String,
    pub role_arn: String,
    pub target_arn: String,
    pub dead_letter_arn: String,
}

/// A secret from the environment: shown by nothing that logs (its `Debug` hides it).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The fewest characters a cursor key may have: the stack generates 64.
const CURSOR_KEY_MIN: usize = 32;

impl Config {
    /// The cursor key, required of every HTTP function: a missing or short one stops the cold start.
    pub fn cursor_key(&self) -> Result<&str, ConfigError> {
        match &self.cursor_key {
            None => Err(ConfigError::Missing("CURSOR_KEY")),
            Some(k) if k.expose().len() < CURSOR_KEY_MIN => Err(ConfigError::Invalid(
                "CURSOR_KEY",
                format!("at least {CURSOR_KEY_MIN} characters"),
            )),
            Some(k) => Ok(k.expose()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
}

/// Every environment variable [`Config::from_lookup`] reads (a test checks the list against what it
/// asks for): what a function's environment may hold, and what `local/env.json` must give each function
/// that template.yaml declares it for.
pub const VARIABLES: &[&str] = &[
    "AUDIT_BUCKET",
    "CHECK_IN_CLOSES_MINUTES",
    "CHECK_IN_OPENS_MINUTES",
    "CURSOR_KEY",
    "EVENT_BUS_NAME",
    "FEED_BUCKET",
    "FOLLOW_UP_PRIORITY",
    "HOLD_TTL_SECONDS",
    "JOBS_DLQ_ARN",
    "JOBS_QUEUE_ARN",
    "JOBS_QUEUE_URL",
    "LATE_CANCELLATION_FEE",
    "LATE_CANCELLATION_HOURS",
    "MANAGE_BASE_URL",
    "MANAGE_LINK_KEY",
    "MANAGE_LINK_PREVIOUS_KEY",
    "MAX_ACTIVE_APPOINTMENTS_PER_PATIENT",
    "MAX_HOLDS_PER_PATIENT",
    "MAX_OFFERS",
    "NO_SHOW_FEE",
    "OFFER_TTL_SECONDS",
    "PARKED_QUEUE_URL",
    "REMINDER_MIN_LEAD_SECONDS",
    "REMINDER_OFFSETS",
    "RETURN_CONSUMED_CAPACITY",
    "ROLES_CLAIM",
    "SCHEDULER_ROLE_ARN",
    "SCHEDULE_GROUP",
    "SEARCH_SHARDS",
    "SLOT_FEED_BOOKING_PHONE",
    "SLOT_FEED_BOOKING_URL",
    "SLOT_FEED_DAYS",
    "TABLE_NAME",
    "VIDEO_BASE_URL",
    "WEBHOOK_ALLOW_LOOPBACK",
    "WEBHOOK_DISABLE_AFTER",
    "WEBHOOK_QUEUE_URL",
    "WEBHOOK_RETRY_SECONDS",
];

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let whole = |name: &'static str, default: u16| match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u16>()
                .map_err(|_| ConfigError::Invalid(name, "a whole number".into())),
        };
        let hours = whole("LATE_CANCELLATION_HOURS", 24)?;
        let check_in = CheckInWindow {
            opens_before: SignedDuration::from_mins(whole("CHECK_IN_OPENS_MINUTES", 30)?.into()),
            closes_after: SignedDuration::from_mins(whole("CHECK_IN_CLOSES_MINUTES", 15)?.into()),
        };
        let max_active = whole("MAX_ACTIVE_APPOINTMENTS_PER_PATIENT", 100)?;
        if !(1..=1000).contains(&max_active) {
            return Err(ConfigError::Invalid(
                "MAX_ACTIVE_APPOINTMENTS_PER_PATIENT",
                "1 to 1000".into(),
            ));
        }
        let reminder_offsets = crate::domain::reminders::parse_offsets(
            &get("REMINDER_OFFSETS").unwrap_or_else(|| "24h,2h,30m".to_owned()),
        )
        .map_err(|e| ConfigError::Invalid("REMINDER_OFFSETS", e.to_string()))?;
        let lead = whole("REMINDER_MIN_LEAD_SECONDS", 60)?;
        let fee = |name: &'static str| -> Result<f64, ConfigError> {
            match get(name) {
                None => Ok(0.0),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && (0.0..=100_000.0).contains(f))
                    .ok_or(ConfigError::Invalid(
                        name,
                        "an amount from 0 to 100000".into(),
                    )),
            }
        };
        let fees = Fees {
            late_cancellation: fee("LATE_CANCELLATION_FEE")?,
            no_show: fee("NO_SHOW_FEE")?,
        };
        let offer_ttl = match get("OFFER_TTL_SECONDS") {
            None => 1800,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|s| (1..=86_400).contains(s))
                .ok_or(ConfigError::Invalid(
                    "OFFER_TTL_SECONDS",
                    "1 to 86400".into(),
                ))?,
        };
        let hold_ttl = whole("HOLD_TTL_SECONDS", 600)?;
        if !(60..=1800).contains(&hold_ttl) {
            return Err(ConfigError::Invalid(
                "HOLD_TTL_SECONDS",
                "60 to 1800".into(),
            ));
        }
        let max_holds = whole("MAX_HOLDS_PER_PATIENT", 3)?;
        if !(1..=20).contains(&max_holds) {
            return Err(ConfigError::Invalid(
                "MAX_HOLDS_PER_PATIENT",
                "1 to 20".into(),
            ));
        }
        let follow_up_priority = whole("FOLLOW_UP_PRIORITY", 5)?;
        if follow_up_priority > 10 {
            return Err(ConfigError::Invalid("FOLLOW_UP_PRIORITY", "0 to 10".into()));
        }
        let max_offers = whole("MAX_OFFERS", 3)?;
        if !(1..=20).contains(&max_offers) {
            return Err(ConfigError::Invalid("MAX_OFFERS", "1 to 20".into()));
        }
        let schedules = match (
            get("SCHEDULE_GROUP"),
            get("SCHEDULER_ROLE_ARN"),
            get("JOBS_QUEUE_ARN"),
            get("JOBS_DLQ_ARN"),
        ) {
            (Some(group), Some(role_arn), Some(target_arn), Some(dead_letter_arn)) => {
                Some(Schedules {
                    group,
                    role_arn,
                    target_arn,
                    dead_letter_arn,
                })
            }
            _ => None,
        };
        let return_consumed_capacity = match get("RETURN_CONSUMED_CAPACITY").as_deref() {
            None | Some("NONE") => false,
            Some("TOTAL") => true,
            Some(_) => {
                return Err(ConfigError::Invalid(
                    "RETURN_CONSUMED_CAPACITY",
                    "TOTAL or NONE".into(),
                ))
            }
        };
        let search_shards = match get("SEARCH_SHARDS") {
            None => crate::domain::opening::DEFAULT_SHARDS,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=crate::domain::opening::MAX_SHARDS).contains(n))
                .ok_or(ConfigError::Invalid("SEARCH_SHARDS", "1 to 64".into()))?,
        };
        let retries = match get("WEBHOOK_RETRY_SECONDS") {
            None => Default::default(),
            Some(v) => v
                .parse()
                .map_err(|e: &str| ConfigError::Invalid("WEBHOOK_RETRY_SECONDS", e.into()))?,
        };
        let disable_after = whole("WEBHOOK_DISABLE_AFTER", 5)?;
        if !(1..=100).contains(&disable_after) {
            return Err(ConfigError::Invalid(
                "WEBHOOK_DISABLE_AFTER",
                "1 to 100".into(),
            ));
        }
        let reach = match get("WEBHOOK_ALLOW_LOOPBACK").as_deref() {
            None | Some("false") => crate::domain::webhook::Reach::Public,
            Some("true") => crate::domain::webhook::Reach::AlsoLoopback,
            Some(_) => {
                return Err(ConfigError::Invalid(
                    "WEBHOOK_ALLOW_LOOPBACK",
                    "true or false".into(),
                ))
            }
        };
        let webhooks = Webhooks {
            queue_url: get("WEBHOOK_QUEUE_URL"),
            retries,
            disable_after: disable_after.into(),
            reach,
        };
        let booking = crate::domain::smart::Booking::new(
            get("SLOT_FEED_BOOKING_URL")
                .unwrap_or_else(|| "https://booking.clinic.invalid/slots/{slotId}".to_owned()),
            get("SLOT_FEED_BOOKING_PHONE"),
        )
        .map_err(|e| ConfigError::Invalid("SLOT_FEED_BOOKING_URL", e.into()))?;
        let days = whole("SLOT_FEED_DAYS", 14)?;
        if !(1..=60).contains(&days) {
            return Err(ConfigError::Invalid("SLOT_FEED_DAYS", "1 to 60".into()));
        }
        let slot_feed = SlotFeed {
            bucket: get("FEED_BUCKET"),
            booking,
            days: days.into(),
        };
        let key = get("MANAGE_LINK_KEY");
        if key.as_ref().is_some_and(|k| k.len() < CURSOR_KEY_MIN) {
            return Err(ConfigError::Invalid(
                "MANAGE_LINK_KEY",
                format!("at least {CURSOR_KEY_MIN} characters"),
            ));
        }
        let previous = get("MANAGE_LINK_PREVIOUS_KEY");
        let manage = ManageLinks {
            keys: key.map(|k| crate::domain::manage::Keys::new(&k, previous.as_deref())),
            base_url: get("MANAGE_BASE_URL").filter(|u| !u.is_empty()),
        };
        Ok(Config {
            webhooks,
            slot_feed,
            manage,
            table_name: get("TABLE_NAME"),
            event_bus_name: get("EVENT_BUS_NAME"),
            jobs_queue_url: get("JOBS_QUEUE_URL"),
            parked_queue_url: get("PARKED_QUEUE_URL"),
            audit_bucket: get("AUDIT_BUCKET"),
            cursor_key: get("CURSOR_KEY").map(Secret),
            search_shards,
            roles_claim: get("ROLES_CLAIM").unwrap_or_else(|| "cognito:groups".to_owned()),
            late_cancellation_window: SignedDuration::from_hours(hours.into()),
            check_in,
            video_base_url: get("VIDEO_BASE_URL")
                .unwrap_or_else(|| "https://video.clinic.invalid/rooms".to_owned()),
            max_active_per_patient: max_active.into(),
            reminder_offsets,
            reminder_lead: SignedDuration::from_secs(lead.into()),
            schedules,
            fees,
            offer_ttl: SignedDuration::from_secs(offer_ttl.into()),
            max_offers: max_offers.into(),
            hold_ttl: SignedDuration::from_secs(hold_ttl.into()),
            max_holds_per_patient: max_holds.into(),
            follow_up_priority: follow_up_priority as u8,
            return_consumed_capacity,
        })
    }

    /// What applies to a provider who set nothing: this configuration's terms.
    pub fn provider_defaults(&self) -> crate::domain::settings::Defaults {
        crate::domain::settings::Defaults {
            late_cancellation_hours: u32::try_from(self.late_cancellation_window.as_hours())
                .unwrap_or(24),
            check_in_opens_minutes: u32::try_from(self.check_in.opens_before.as_mins())
                .unwrap_or(30),
            reminder_offsets: self.reminder_offsets.clone(),
            late_cancellation_fee: self.fees.late_cancellation,
            no_show_fee: self.fees.no_show,
        }
    }

    /// The defaults of an unconfigured deployment.
    pub fn default_provider_settings() -> crate::domain::settings::Defaults {
        Config::from_lookup(|_| None)
            .expect("the defaults are valid")
            .provider_defaults()
    }

    pub fn require(value: &Option<String>, name: &'static str) -> Result<String, ConfigError> {
        value
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_lists_every_name_the_configuration_reads() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let _ = Config::from_lookup(|k| {
            asked.borrow_mut().insert(k.to_owned());
            None
        });
        let listed: std::collections::BTreeSet<String> =
            VARIABLES.iter().map(|v| (*v).to_owned()).collect();
        assert_eq!(asked.into_inner(), listed);
    }

    #[test]
    fn defaults_apply_and_bad_values_are_refused() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.roles_claim, "cognito:groups");
        assert_eq!(c.late_cancellation_window, SignedDuration::from_hours(24));
        assert!(Config::require(&c.table_name, "TABLE_NAME").is_err());
        let bad =
            Config::from_lookup(|k| (k == "LATE_CANCELLATION_HOURS").then(|| "soon".to_owned()));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid("LATE_CANCELLATION_HOURS", _))
        ));
        let offsets: Vec<String> = c.reminder_offsets.iter().map(|o| o.to_string()).collect();
        assert_eq!(offsets, ["24h", "2h", "30m"]);
        assert!(
            Config::from_lookup(|k| (k == "REMINDER_OFFSETS").then(|| "soon".to_owned())).is_err()
        );
    }
}
