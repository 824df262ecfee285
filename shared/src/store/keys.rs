//! Every key the table uses, next to the access pattern it serves, and every named range a query reads
//! ([`Range`]: one partition of one index, a range of its sort key, the check of its cursors). No other
//! module builds a key or a key condition.
//!
//! | item | PK | SK | GSI1PK / GSI1SK | GSI2PK / GSI2SK | serves |
//! |---|---|---|---|---|---|
//! | appointment | `APPT#<id>` | `APPT` | `PATIENT#<pid>` / `<start>#<id>` | `PROVIDER#<pid>` / `<start>#<id>` | get by id; a patient's and a provider's appointments by time |
//! | slot | `SLOT#<id>` | `SLOT` | `PROVIDER#<pid>#SLOTS` / `<start>#<id>` | | get by id; a provider's slots by time |
//! | provider day guard | `PROVIDER#<pid>` | `DAY#<date>` | | | no two slots of a provider overlap |
//! | patient guard | `PATIENT#<pid>` | `SCHEDULE` | | | no two active appointments of a patient overlap |
//! | idempotency record | `IDEM#<caller>#<key>` | `IDEM` | | | a retried booking returns the first result |
//! | appointment type | `TYPE#<id>` | `TYPE` | `TYPES` / `<name>#<id>` | | get by id; all types by name |
//! | provider profile | `PROVIDER#<pid>` | `PROFILE` | | | the provider's time zone, settings and their version |
//! | provider's booked day | `PROVIDER#<pid>` | `BOOKED#<local date>` | | | how many appointments stand on a provider's day, under their daily limit |
//! | reminder sent | `APPT#<id>` | `REMINDER#<offset>` | | | a reminder fired once, for a standing appointment |
//! | waitlist entry | `WAIT#<id>` | `WAIT` | `PROVIDER#<pid>#WAIT` / `<date>#<10 - priority>#<created>#<id>` | `PATIENT#<pid>#WAIT` / `<created>#<id>` | get by id; a provider's queue for a date, best first; a patient's entries; while offered, also GSI3 `OFFERS` / `<offerExpiresAt>#<id>`: the sweeper's outstanding offers by expiry (sparse) |
//! | recurring series | `SERIES#<id>` | `SERIES` | | | a series and its appointments |
//! | calendar feed | `FEED#<sha256 of token>` | `FEED` | `OWNER#<uid>#FEEDS` / `<created>#<id>` | | a feed by its secret token (stored only hashed); an owner's feeds |
//! | calendar feed by id | `FEEDID#<id>` | `FEED` | | | a feed by its id (its token's hash, its owner): revoking without an index |
//! | an owner's feeds | `OWNER#<uid>` | `FEEDS` | | | how many feeds are active (at most 20), and a counter of the owner's appointment changes (a feed's ETag) |
//! | waiting claim | `PATIENT#<pid>` | `WAIT#<provider>#<date>` | | | one active entry per patient, provider and date |
//! | webhook endpoint | `WEBHOOKS` | `WEBHOOK#<id>` | | | one partition: `deliver` reads every endpoint with one consistent Query per event |
//! | webhook count | `WEBHOOKS` | `COUNT` | | | how many endpoints exist (at most 25) |
//! | delivery attempt | `WEBHOOK#<id>` | `DELIVERY#<at>#<event id>#<attempt>` | | | an endpoint's recent attempts, newest first (TTL 7 days) |
//! | parked stream record | `PARKED#<stream event id>` | `PARKED` | | | a record `publish` could not send, kept for its replay (TTL 14 days) |
//!
//! Times in sort keys are fixed-width UTC (`UtcTime`), so string order is time order.

use jiff::civil::Date;
use uuid::Uuid;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::page::{self, BadCursor};
use super::{s, Item, Store};
use crate::domain::{AppointmentId, EntryId, PatientId, ProviderId, SlotId, UtcTime};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// A sparse index: only items with a deadline still open carry its keys (outstanding offers).
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// GSI3 partition of the offers not yet answered, by expiry. One partition: an offer writes it twice
/// (offered, ended), far below a partition's 1,000 writes a second at any clinic's pace.
pub const OUTSTANDING_OFFERS: &str = "OFFERS";

/// GSI3 partition of the requests still `pending`, by their confirmation deadline.
pub const PENDING_REQUESTS: &str = "PENDING";

/// GSI3 partition of the holds still `held`, by expiry: the sweeper's list of holds to lapse.
pub const LIVE_HOLDS: &str = "HOLDS";

/// An outstanding offer's or a live hold's place in GSI3: by expiry, then id.
pub fn due(expires: UtcTime, id: impl std::fmt::Display) -> String {
    format!("{expires}#{id}")
}
/// The table's TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expiresAt";

/// A primary key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: &str) -> Key {
        Key {
            pk,
            sk: sk.to_owned(),
        }
    }
}

pub fn appointment(id: AppointmentId) -> Key {
    Key::new(format!("APPT#{id}"), "APPT")
}

pub fn slot(id: SlotId) -> Key {
    Key::new(format!("SLOT#{id}"), "SLOT")
}

pub fn provider_day(provider: ProviderId, date: Date) -> Key {
    Key::new(format!("PROVIDER#{provider}"), &format!("DAY#{date}"))
}

pub fn patient_schedule(patient: PatientId) -> Key {
    Key::new(format!("PATIENT#{patient}"), "SCHEDULE")
}

pub fn idempotency(caller: Uuid, key: &str) -> Key {
    Key::new(format!("IDEM#{caller}#{key}"), "IDEM")
}

pub fn reminder(appointment: AppointmentId, offset: crate::domain::reminders::Offset) -> Key {
    Key::new(format!("APPT#{appointment}"), &format!("REMINDER#{offset}"))
}

pub fn hold(id: crate::domain::HoldId) -> Key {
    Key::new(format!("HOLD#{id}"), "HOLD")
}

pub fn waitlist_entry(id: EntryId) -> Key {
    Key::new(format!("WAIT#{id}"), "WAIT")
}

/// The claim that a patient has an active entry for a provider's date (its `entryId`, `active`).
pub fn waiting_claim(patient: PatientId, provider: ProviderId, date: Date) -> Key {
    Key::new(
        format!("PATIENT#{patient}"),
        &format!("WAIT#{provider}#{date}"),
    )
}

/// GSI1 partition of a provider's waitlist.
pub fn provider_waitlist(provider: ProviderId) -> String {
    format!("PROVIDER#{provider}#WAIT")
}

/// GSI2 partition of a patient's waitlist entries.
pub fn patient_waitlist(patient: PatientId) -> String {
    format!("PATIENT#{patient}#WAIT")
}

/// An entry's place in its provider's queue: by date, then highest priority (0 to 10, stored as
/// `10 - priority` in two digits so that string order is rank order), then oldest.
pub fn queue_rank(date: Date, priority: u8, created: UtcTime, id: EntryId) -> String {
    format!("{date}#{:02}#{created}#{id}", 10u8.saturating_sub(priority))
}

/// The bounds of one date's part of a provider's queue (every rank of `date` lies between them: the
/// character after `<date>#` is a digit, and `:` follows the digits).
pub fn queue_of_day(date: Date) -> (String, String) {
    (format!("{date}#"), format!("{date}#:"))
}

/// A recurring series.
pub fn series(id: Uuid) -> Key {
    Key::new(format!("SERIES#{id}"), "SERIES")
}

/// A calendar feed, under the SHA-256 (hex) of its token.
pub fn feed(token_hash: &str) -> Key {
    Key::new(format!("FEED#{token_hash}"), "FEED")
}

/// A calendar feed by its id: its token's hash and its owner.
pub fn feed_by_id(id: Uuid) -> Key {
    Key::new(format!("FEEDID#{id}"), "FEED")
}

/// What stands for an owner's feeds: how many are active, how often the owner's appointments changed.
pub fn owner_feeds_state(owner: Uuid) -> Key {
    Key::new(format!("OWNER#{owner}"), "FEEDS")
}

/// GSI1 partition of an owner's calendar feeds.
pub fn owner_feeds(owner: Uuid) -> String {
    format!("OWNER#{owner}#FEEDS")
}

/// The partition of every webhook endpoint and their count.
pub const WEBHOOKS: &str = "WEBHOOKS";
/// The sort keys of endpoints start so.
pub const WEBHOOK_PREFIX: &str = "WEBHOOK#";

pub fn webhook(id: Uuid) -> Key {
    Key::new(WEBHOOKS.to_owned(), &format!("{WEBHOOK_PREFIX}{id}"))
}

pub fn webhook_count() -> Key {
    Key::new(WEBHOOKS.to_owned(), "COUNT")
}

/// The partition of an endpoint's delivery log.
pub fn webhook_log(id: Uuid) -> String {
    format!("WEBHOOK#{id}")
}

/// The sort keys of delivery attempts start so (then the time: newest last).
pub const DELIVERY_PREFIX: &str = "DELIVERY#";

pub fn delivery(webhook: Uuid, at: UtcTime, event_id: &str, attempt: u32) -> Key {
    Key::new(
        webhook_log(webhook),
        &format!("{DELIVERY_PREFIX}{at}#{event_id}#{attempt}"),
    )
}

/// A stream record parked by `publish` (`stream::parking`), under the record's event id.
pub fn parked(event_id: &str) -> Key {
    Key::new(format!("PARKED#{event_id}"), "PARKED")
}

pub fn appointment_type(id: Uuid) -> Key {
    Key::new(format!("TYPE#{id}"), "TYPE")
}

pub fn location(id: Uuid) -> Key {
    Key::new(format!("LOCATION#{id}"), "LOCATION")
}

/// GSI1 partition of every location, by name.
pub const LOCATIONS: &str = "LOCATIONS";

/// A room or a piece of equipment, in its location's partition.
pub fn resource(location: Uuid, id: Uuid) -> Key {
    Key::new(format!("LOCATION#{location}"), &format!("RESOURCE#{id}"))
}

/// GSI1 partition of a location's resources, by name.
pub fn location_resources(location: Uuid) -> String {
    format!("LOCATION#{location}#RESOURCES")
}

/// A resource's guard of one UTC day: the slots that hold it then (the shape of a provider's day).
pub fn resource_day(resource: Uuid, date: Date) -> Key {
    Key::new(format!("RESOURCE#{resource}"), &format!("DAY#{date}"))
}

/// GSI1 partition of every appointment type.
pub const TYPES: &str = "TYPES";

pub fn provider_profile(provider: ProviderId) -> Key {
    Key::new(format!("PROVIDER#{provider}"), "PROFILE")
}

/// A provider's listing in the directory under one facet value: a partition of the provider's
/// listings alone (`LISTING#<pid>`, so that `publish`, which keeps them, may write there and nowhere
/// else of the provider's), found by facet through GSI1 (`DIRECTORY#<facet>`).
pub fn provider_listing(provider: ProviderId, facet: &crate::domain::profile::Facet) -> Key {
    Key::new(format!("LISTING#{provider}"), &facet.key())
}

/// The GSI1 partition of the providers listed under one facet value.
pub fn directory(facet: &crate::domain::profile::Facet) -> String {
    format!("DIRECTORY#{}", facet.key())
}

/// The count of a provider's appointments on one of their local days (`maxAppointmentsPerDay`).
pub fn provider_booked(provider: ProviderId, day: jiff::civil::Date) -> Key {
    Key::new(format!("PROVIDER#{provider}"), &format!("BOOKED#{day}"))
}

/// GSI1 partition of a patient's appointments.
pub fn patient_appointments(patient: PatientId) -> String {
    format!("PATIENT#{patient}")
}

/// GSI2 partition of a provider's appointments.
pub fn provider_appointments(provider: ProviderId) -> String {
    format!("PROVIDER#{provider}")
}

/// GSI1 partition of a provider's slots.
pub fn provider_slots(provider: ProviderId) -> String {
    format!("PROVIDER#{provider}#SLOTS")
}

/// Sort key within a time-ordered partition.
pub fn by_start(start: UtcTime, id: impl std::fmt::Display) -> String {
    format!("{start}#{id}")
}

/// A name's sort key: lower case, then the id (two types may share a name).
pub fn by_name(name: &str, id: impl std::fmt::Display) -> String {
    format!("{}#{id}", name.to_lowercase())
}

/// What kind of item a stored image is, read from its sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Appointment,
    /// A provider's item (zone, settings, directory profile).
    Provider,
    Slot,
    Reminder,
    WaitlistEntry,
    Hold,
    Webhook,
    Other,
}

pub fn kind_of(sk: &str) -> ItemKind {
    match sk {
        "APPT" => ItemKind::Appointment,
        "SLOT" => ItemKind::Slot,
        "WAIT" => ItemKind::WaitlistEntry,
        "PROFILE" => ItemKind::Provider,
        "HOLD" => ItemKind::Hold,
        _ if sk.starts_with("REMINDER#") => ItemKind::Reminder,
        _ if sk.starts_with(WEBHOOK_PREFIX) => ItemKind::Webhook,
        _ => ItemKind::Other,
    }
}

/// A named access pattern: one partition of one index, and a range of its sort key (`[lo, hi]`, either
/// end open). It builds its query and checks a cursor against itself, so a cursor cannot be edited
/// into another partition or outside the range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub index: &'static str,
    pk_name: &'static str,
    sk_name: &'static str,
    pk: String,
    lo: Option<String>,
    hi: Option<String>,
}

impl Range {
    /// A range of `index` (GSI1 or GSI2) in partition `pk`, its sort key in `[lo, hi]`.
    pub(super) fn on(
        index: &'static str,
        pk: String,
        lo: Option<String>,
        hi: Option<String>,
    ) -> Range {
        let (pk_name, sk_name) = if index == GSI2 {
            (GSI2PK, GSI2SK)
        } else {
            (GSI1PK, GSI1SK)
        };
        Range {
            index,
            pk_name,
            sk_name,
            pk,
            lo,
            hi,
        }
    }

    /// A provider's slots that start in `[from, to)`, by start.
    pub fn provider_slots(provider: ProviderId, from: UtcTime, to: UtcTime) -> Range {
        let (lo, hi) = (Some(from.to_string()), Some(to.to_string()));
        Range::on(GSI1, provider_slots(provider), lo, hi)
    }

    /// A patient's appointments that start in the range, by start.
    pub fn patient_appointments(
        patient: PatientId,
        from: Option<UtcTime>,
        to: Option<UtcTime>,
    ) -> Range {
        let (lo, hi) = (from.map(|t| t.to_string()), to.map(|t| t.to_string()));
        Range::on(GSI1, patient_appointments(patient), lo, hi)
    }

    /// A provider's appointments that start in the range, by start.
    pub fn provider_appointments(
        provider: ProviderId,
        from: Option<UtcTime>,
        to: Option<UtcTime>,
    ) -> Range {
        let (lo, hi) = (from.map(|t| t.to_string()), to.map(|t| t.to_string()));
        Range::on(GSI2, provider_appointments(provider), lo, hi)
    }

    /// The providers listed under one facet value, by name.
    pub fn directory(facet: &crate::domain::profile::Facet) -> Range {
        Range::on(GSI1, directory(facet), None, None)
    }

    /// Every appointment type, by name.
    pub fn types_by_name() -> Range {
        Range::on(GSI1, TYPES.to_owned(), None, None)
    }

    /// Every location, by name.
    pub fn locations_by_name() -> Range {
        Range::on(GSI1, LOCATIONS.to_owned(), None, None)
    }

    /// A location's resources, by name.
    pub fn resources_by_name(location: Uuid) -> Range {
        Range::on(GSI1, location_resources(location), None, None)
    }

    /// One date of a provider's queue, best first (priority, then oldest).
    pub fn provider_queue(provider: ProviderId, date: Option<jiff::civil::Date>) -> Range {
        let (lo, hi) = match date {
            Some(d) => {
                let (lo, hi) = queue_of_day(d);
                (Some(lo), Some(hi))
            }
            None => (None, None),
        };
        Range::on(GSI1, provider_waitlist(provider), lo, hi)
    }

    /// A provider's queue from the day before `date` to the day after (a slot's UTC date is within a
    /// day of its local date).
    pub(super) fn queue_around(provider: ProviderId, date: jiff::civil::Date) -> Range {
        let before = date.yesterday().unwrap_or(date);
        let after = date.tomorrow().unwrap_or(date);
        Range::on(
            GSI1,
            provider_waitlist(provider),
            Some(queue_of_day(before).0),
            Some(queue_of_day(after).1),
        )
    }

    /// A patient's entries, oldest first.
    pub fn patient_entries(patient: PatientId) -> Range {
        Range::on(GSI2, patient_waitlist(patient), None, None)
    }

    /// An owner's feeds, oldest first.
    pub fn owner_feeds(owner: Uuid) -> Range {
        Range::on(GSI1, owner_feeds(owner), None, None)
    }

    /// The same partition from a later lower bound.
    pub fn from(mut self, lo: UtcTime) -> Range {
        self.lo = Some(lo.to_string());
        self
    }

    /// Whether a cursor's key lies at or after the lower bound (a moving "now" may overtake it).
    pub fn admits(&self, start_key: &Item) -> bool {
        let sk = start_key.get(self.sk_name).and_then(|v| v.as_s().ok());
        match (&self.lo, sk) {
            (Some(lo), Some(sk)) => sk >= lo,
            (None, Some(_)) => true,
            (_, None) => false,
        }
    }

    /// A client's cursor as this query's `ExclusiveStartKey`, if it belongs to this partition and range.
    pub fn cursor(&self, cursors: &page::Cursors, cursor: &str) -> Result<Item, BadCursor> {
        cursors.decode(
            cursor,
            self.pk_name,
            &self.pk,
            self.sk_name,
            self.lo.as_deref().unwrap_or(""),
            self.hi.as_deref(),
        )
    }

    /// The Query of this range (more conditions, names and values can be added to it).
    pub fn query(&self, store: &Store) -> QueryFluentBuilder {
        let mut condition = "#pk = :pk".to_owned();
        let mut q = store
            .db
            .query()
            .table_name(&store.table)
            .index_name(self.index)
            .expression_attribute_names("#pk", self.pk_name)
            .expression_attribute_values(":pk", s(&self.pk));
        if self.lo.is_some() || self.hi.is_some() {
            q = q.expression_attribute_names("#sk", self.sk_name);
        }
        match (&self.lo, &self.hi) {
            (Some(lo), Some(hi)) => {
                condition.push_str(" AND #sk BETWEEN :lo AND :hi");
                q = q
                    .expression_attribute_values(":lo", s(lo))
                    .expression_attribute_values(":hi", s(hi));
            }
            (Some(lo), None) => {
                condition.push_str(" AND #sk >= :lo");
                q = q.expression_attribute_values(":lo", s(lo));
            }
            (None, Some(hi)) => {
                condition.push_str(" AND #sk < :hi");
                q = q.expression_attribute_values(":hi", s(hi));
            }
            (None, None) => {}
        }
        q.key_condition_expression(condition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_sort_keys_sort_as_their_times() {
        let a = by_start("2027-01-01T09:00:00Z".parse().unwrap(), SlotId::new());
        let b = by_start("2027-01-01T10:00:00Z".parse().unwrap(), SlotId::new());
        let c = by_start("2027-01-02T08:00:00Z".parse().unwrap(), SlotId::new());
        assert!(a < b && b < c);
    }

    #[test]
    fn idempotency_keys_are_scoped_to_the_caller() {
        let key = "retry-1";
        assert_ne!(
            idempotency(Uuid::new_v4(), key),
            idempotency(Uuid::new_v4(), key)
        );
    }

    #[test]
    fn a_range_takes_only_its_own_cursors() {
        let t = |s: &str| -> UtcTime { s.parse().unwrap() };
        let provider = ProviderId::new();
        let range = Range::provider_slots(
            provider,
            t("2030-01-01T00:00:00Z"),
            t("2030-01-02T00:00:00Z"),
        );
        let mut inside = Item::new();
        inside.insert("PK".into(), s("SLOT#x"));
        inside.insert("SK".into(), s("SLOT"));
        inside.insert("GSI1PK".into(), s(provider_slots(provider)));
        inside.insert("GSI1SK".into(), s("2030-01-01T09:00:00Z#x"));
        let cursors = page::Cursors::random();
        assert!(range.cursor(&cursors, &cursors.seal(&inside)).is_ok());
        assert!(range.admits(&inside));
        assert!(!range
            .clone()
            .from(t("2030-01-01T10:00:00Z"))
            .admits(&inside));
        let other = Range::provider_slots(
            ProviderId::new(),
            t("2030-01-01T00:00:00Z"),
            t("2030-01-02T00:00:00Z"),
        );
        assert!(other.cursor(&cursors, &cursors.seal(&inside)).is_err());
    }
}
