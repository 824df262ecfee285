//! The clinic's vocabulary and rules: ids, times, statuses and their transitions, who may do what.
//! Nothing here performs I/O or knows about AWS, so every rule is tested as a plain function.

pub mod access;
pub mod admission;
pub mod appointment;
pub mod appointment_type;
pub mod audit;
pub mod calendar;
pub mod events;
pub mod fhir;
pub mod hold;
pub mod ical;
pub mod ids;
pub mod lifecycle;
pub mod location;
pub mod manage;
pub mod money;
pub mod opening;
pub mod profile;
pub mod reminders;
pub mod resource;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod search;
pub mod series;
pub mod settings;
pub mod slot;
pub mod smart;
pub mod status;
pub mod text;
pub mod time;
pub mod vitals;
pub mod waitlist;
pub mod webhook;

pub use access::{Caller, Role};
pub use appointment::{Appointment, ConsultationType};
pub use appointment_type::AppointmentType;
pub use ids::{AppointmentId, EntryId, HoldId, PatientId, ProviderId, SlotId};
pub use slot::{Slot, SlotState};
pub use status::{AppointmentStatus, SlotStatus};
pub use time::{Clock, Day, Interval, UtcTime, ZoneName};
pub use vitals::Vitals;
