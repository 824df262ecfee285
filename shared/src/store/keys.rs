//! Every key the table uses, next to the access pattern it serves. No other module builds a key.
//!
//! | item | PK | SK | GSI1PK / GSI1SK | GSI2PK / GSI2SK | serves |
//! |---|---|---|---|---|---|
//! | appointment | `APPT#<id>` | `APPT` | `PATIENT#<pid>` / `<start>#<id>` | `PROVIDER#<pid>` / `<start>#<id>` | get by id; a patient's and a provider's appointments by time |
//! | slot | `SLOT#<id>` | `SLOT` | `PROVIDER#<pid>#SLOTS` / `<start>#<id>` | | get by id; a provider's slots by time |
//! | provider day guard | `PROVIDER#<pid>` | `DAY#<date>` | | | no two slots of a provider overlap |
//! | patient guard | `PATIENT#<pid>` | `SCHEDULE` | | | no two active appointments of a patient overlap |
//! | idempotency record | `IDEM#<caller>#<key>` | `IDEM` | | | a retried booking returns the first result |
//! | appointment type | `TYPE#<id>` | `TYPE` | `TYPES` / `<name>#<id>` | | get by id; all types by name |
//! | provider profile | `PROVIDER#<pid>` | `PROFILE` | | | the provider's time zone |
//! | freed seat | `SLOT#<id>` | `FREED#<appointment>` | | | the worker's record of a seat given back |
//! | reminder sent | `APPT#<id>` | `REMINDER#<offset>` | | | a reminder fired once, for a standing appointment |
//!
//! Times in sort keys are fixed-width UTC (`UtcTime`), so string order is time order.

use jiff::civil::Date;
use uuid::Uuid;

use crate::domain::{AppointmentId, PatientId, ProviderId, SlotId, UtcTime};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
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

pub fn freed_seat(slot: SlotId, appointment: AppointmentId) -> Key {
    Key::new(format!("SLOT#{slot}"), &format!("FREED#{appointment}"))
}

pub fn appointment_type(id: Uuid) -> Key {
    Key::new(format!("TYPE#{id}"), "TYPE")
}

/// GSI1 partition of every appointment type.
pub const TYPES: &str = "TYPES";

pub fn provider_profile(provider: ProviderId) -> Key {
    Key::new(format!("PROVIDER#{provider}"), "PROFILE")
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
    Slot,
    Reminder,
    Other,
}

pub fn kind_of(sk: &str) -> ItemKind {
    match sk {
        "APPT" => ItemKind::Appointment,
        "SLOT" => ItemKind::Slot,
        _ if sk.starts_with("REMINDER#") => ItemKind::Reminder,
        _ => ItemKind::Other,
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
}
