//! OpenAPI schemas of the domain's string newtypes (only with the `openapi` feature): how each is
//! written in JSON.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

/// A string schema with a format or a pattern, and a description.
pub fn string(
    format: Option<KnownFormat>,
    pattern: Option<&str>,
    description: &str,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(format.map(SchemaFormat::KnownFormat))
        .pattern(pattern)
        .description(Some(description))
        .into()
}

macro_rules! string_schema {
    ($ty:ty, $format:expr, $pattern:expr, $description:literal) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                string($format, $pattern, $description)
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

string_schema!(
    super::AppointmentId,
    Some(KnownFormat::Uuid),
    None,
    "An appointment id."
);
string_schema!(
    super::PatientId,
    Some(KnownFormat::Uuid),
    None,
    "A patient id (their token's sub)."
);
string_schema!(
    super::ProviderId,
    Some(KnownFormat::Uuid),
    None,
    "A provider id (their token's sub)."
);
string_schema!(super::SlotId, Some(KnownFormat::Uuid), None, "A slot id.");
string_schema!(super::HoldId, Some(KnownFormat::Uuid), None, "A hold id.");
string_schema!(
    super::EntryId,
    Some(KnownFormat::Uuid),
    None,
    "A waitlist entry id."
);
string_schema!(
    super::UtcTime,
    Some(KnownFormat::DateTime),
    None,
    "An RFC 3339 date-time in the years 2000 to 2099; any offset in, UTC out."
);
string_schema!(
    super::Day,
    Some(KnownFormat::Date),
    Some(r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"),
    "A date in the years 2000 to 2099."
);
string_schema!(
    super::calendar::ClockTime,
    None,
    Some(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    "A time of day, HH:MM."
);
