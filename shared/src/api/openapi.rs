//! The OpenAPI 3.1 document of every route, generated: schemas come from the request and response types
//! (utoipa's `ToSchema` derives, behind the `openapi` feature so that the Lambda functions do not carry
//! them), routes from [`ROUTES`], errors from the catalogue [`Code`]. utoipa because it derives schemas
//! from the serde types themselves (renames, skipped and optional fields included) and emits 3.1; the
//! handlers parse requests by hand, so each route's parameters are listed here, next to its types.

use std::collections::BTreeMap;

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder,
    PathItem, PathsBuilder, Ref, RefOr, Required,
};
use utoipa::{PartialSchema, ToSchema};

use super::views::{Blocked, BulkCreated, NoShowReport, Page, Schedule, SlotView};
use super::Code;
use crate::domain::waitlist::Entry;
use crate::domain::{Appointment, AppointmentType};

type Schemas = Vec<(String, RefOr<Schema>)>;
type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// A reference to `T`'s component, collecting `T` and what it refers to.
fn named<T: ToSchema>(all: &mut Schemas) -> RefOr<Schema> {
    all.push((T::name().into_owned(), T::schema()));
    T::schemas(all);
    Ref::from_schema_name(T::name()).into()
}

/// `T`'s schema in place (for generic pages, whose component names would collide).
fn inline<T: PartialSchema + ToSchema>(all: &mut Schemas) -> RefOr<Schema> {
    T::schemas(all);
    T::schema()
}

#[derive(Clone, Copy)]
enum P {
    Uuid,
    /// A date, or a date-time (the whole UTC day of a date).
    Bound,
    Day,
    Limit,
    Text,
    Bool,
    Statuses,
    EntryStatuses,
    /// 1 to 31.
    Days,
    /// `Schedule/<providerId>`.
    ScheduleRef,
    /// FHIR date search values, repeated: `ge<date or instant>` and `lt<date or instant>`.
    StartRange,
    /// FHIR Slot.status.
    SlotStatus,
    /// `Patient/<id>`.
    PatientRef,
    /// FHIR date search values, repeated: `ge<date>` and `le<date>`.
    DateRange,
    /// 1 to 25: a search page.
    SearchLimit,
    /// A date in the searcher's zone, or a date-time.
    Edge,
    /// in_person, video or phone.
    Consultation,
    /// UUIDs, the parameter repeated (at most 20).
    Uuids,
}

#[derive(Clone, Copy)]
struct Param {
    name: &'static str,
    kind: P,
    required: bool,
    description: &'static str,
}

const fn q(name: &'static str, kind: P, required: bool, description: &'static str) -> Param {
    Param {
        name,
        kind,
        required,
        description,
    }
}

/// One route: what template.yaml names it, what it takes and what it answers.
struct Route {
    function: &'static str,
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    query: Vec<Param>,
    body: Option<SchemaFn>,
    ok: (u16, SchemaFn),
    errors: &'static [Code],
}

use Code::*;

/// The routes that differ from the rest, by function: the one without a bearer token (its route has
/// `Auth: {Authorizer: NONE}` in template.yaml; a test holds the two together), which answers
/// `text/calendar`; the FHIR ones, which answer `application/fhir+json` (errors as OperationOutcome);
/// those that take an `Idempotency-Key`; those whose every body field is optional (no body is `{}`).
const PUBLIC: &str = "calendar-feed";
/// The routes without a bearer token: the calendar feed and the manage links (their paths hold their
/// tokens) and the SMART Scheduling Links manifest (public by the specification).
const NO_TOKEN: &[&str] = &[
    PUBLIC,
    "fhir-bulk-publish",
    "manage-visit",
    "manage-cancel",
    "manage-reschedule",
    "manage-options",
];
const FHIR: &str = "fhir-";
const IDEMPOTENT: &[&str] = &["create-appointment", "book-series"];
const OPTIONAL_BODY: &[&str] = &["create-calendar-feed", "accept-waitlist-offer"];
/// Routes that take `If-Match` (the version of their answer's `ETag`).
const IF_MATCH: &[&str] = &["put-provider-settings", "put-provider"];

const BOOKING_CONFLICTS: &[Code] = &[
    ValidationFailed,
    Forbidden,
    NotFound,
    HoldExpired,
    SlotFull,
    SlotUnavailable,
    PatientConflict,
    TooManyAppointments,
    AppointmentTypeInactive,
    AppointmentTypeNotAllowed,
    ConsultationTypeNotOffered,
    IdempotencyKeyReused,
    TooLateToBook,
    TooFarAhead,
    DailyLimitReached,
    Contended,
];
const CHANGE: &[Code] = &[
    ValidationFailed,
    Forbidden,
    NotFound,
    InvalidTransition,
    ConcurrentUpdate,
    Contended,
];
const LIST: &[Param] = &[
    q(
        "patientId",
        P::Uuid,
        false,
        "Staff and admins: whose appointments.",
    ),
    q(
        "providerId",
        P::Uuid,
        false,
        "Staff and admins: whose appointments; patients: only with this provider.",
    ),
];
const PAGE: &[Param] = &[
    q(
        "limit",
        P::Limit,
        false,
        "Items one read examines (1 to 100); filters apply after it, so a page may be short.",
    ),
    q(
        "cursor",
        P::Text,
        false,
        "`nextCursor` of the previous page.",
    ),
];

fn appointment_page(all: &mut Schemas) -> RefOr<Schema> {
    inline::<Page<Appointment>>(all)
}

/// Every HTTP route of template.yaml.
fn routes() -> Vec<Route> {
    vec![
        Route { function: "create-slot", method: "POST", path: "/slots", summary: "A provider publishes a slot of their time (staff and admins for any provider).", query: vec![], body: Some(named::<super::slots::NewSlot>), ok: (201, named::<SlotView>), errors: &[ValidationFailed, Forbidden, SlotOverlap, ResourceConflict, Contended] },
        Route { function: "available-slots", method: "GET", path: "/slots/available", summary: "A provider's future slots with a free seat that their settings let be booked now (not within the minimum notice, past the horizon or on a full day), soonest first.", query: vec![q("providerId", P::Uuid, true, "The provider."), q("startDate", P::Bound, true, "From this date (its whole UTC day) or date-time."), q("endDate", P::Bound, true, "To this date (its whole UTC day) or date-time; at most 366 days after the start."), q("appointmentTypeId", P::Uuid, false, "Only slots that admit this type."), q("limit", P::Limit, false, "Slots one read examines (1 to 100); full ones are left out after it."), q("cursor", P::Text, false, "`nextCursor` of the previous page.")], body: None, ok: (200, |all| inline::<Page<SlotView>>(all)), errors: &[ValidationFailed, Contended] },
        Route { function: "search-slots", method: "GET", path: "/slots/search", summary: "The earliest open seats across providers that match (patients for themself; staff and admins, for a patient or for nobody): each seat checked on a consistent read before it is answered (open, the type admitted, the provider's notice, horizon and daily limit, acceptingNewPatients for a patient the provider has not seen), with its provider's summary, UTC times and the provider's local times. A page reads at most one query per index shard per day it covers, then one batch read; it may hold fewer than `limit`: follow `nextCursor`.", query: vec![q("appointmentTypeId", P::Uuid, false, "Only seats that admit this type, of providers who offer it."), q("consultationType", P::Consultation, false, "Only seats bookable this way."), q("region", P::Text, false, "An ISO 3166-2 code (US-CA): only providers licensed there for telehealth."), q("language", P::Text, false, "A BCP 47 tag; any region of the language matches."), q("specialty", P::Text, false, "A specialty code the provider has."), q("locationId", P::Text, false, "Only seats at this location."), q("providerId", P::Uuids, false, "Only these providers (repeat the parameter, at most 20)."), q("from", P::Edge, false, "From this instant or local date (default now)."), q("to", P::Edge, false, "To this instant or through this local date (default 14 days after from; at most 14 days)."), q("timeZone", P::Text, false, "The IANA zone local dates are read in and times displayed in (default UTC)."), q("patientId", P::Uuid, false, "Staff and admins: the patient searched for."), q("limit", P::SearchLimit, false, "At most this many seats (1 to 25, default 10)."), q("cursor", P::Text, false, "`nextCursor` of the previous page.")], body: None, ok: (200, |all| {
            named::<super::search::SearchHit>(all);
            inline::<Page<super::search::SearchHit>>(all)
        }), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "create-appointment", method: "POST", path: "/appointments", summary: "Books a seat of a slot: a patient for themself, staff and admins for anyone; with `holdId`, the seat that hold keeps, for its patient (a hold already booked answers its appointment). An Idempotency-Key header makes a retry return the first booking.", query: vec![], body: Some(named::<super::appointments::BookBody>), ok: (201, named::<Appointment>), errors: BOOKING_CONFLICTS },
        Route { function: "create-hold", method: "POST", path: "/holds", summary: "Holds a seat for a patient for `HoldTtlSeconds` (a patient for themself; staff and admins for anyone) while they finish elsewhere; book it with `POST /appointments {holdId}`. Every rule of booking is checked now, and the seat counts as taken until the hold is booked, released or runs out. At most `MaxHoldsPerPatient` live holds a patient.", query: vec![], body: Some(named::<super::holds::HoldBody>), ok: (201, named::<crate::domain::hold::Hold>), errors: &[ValidationFailed, Forbidden, NotFound, SlotFull, SlotUnavailable, PatientConflict, TooManyAppointments, TooManyHolds, AppointmentTypeInactive, AppointmentTypeNotAllowed, ConsultationTypeNotOffered, TooLateToBook, TooFarAhead, DailyLimitReached, Contended] },
        Route { function: "get-hold", method: "GET", path: "/holds/{id}", summary: "One hold: its patient's, or any for staff and admins.", query: vec![], body: None, ok: (200, named::<crate::domain::hold::Hold>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "release-hold", method: "DELETE", path: "/holds/{id}", summary: "Gives the held seat back at once (offered to the waitlist as any freed seat); a hold already ended answers as it is.", query: vec![], body: None, ok: (200, named::<crate::domain::hold::Hold>), errors: &[ValidationFailed, NotFound, HoldEnded, Contended] },
        Route { function: "get-appointment", method: "GET", path: "/appointments/{id}", summary: "One appointment, as the caller may see it.", query: vec![], body: None, ok: (200, named::<Appointment>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "cancel-appointment", method: "POST", path: "/appointments/{id}/cancel", summary: "Cancels a scheduled or confirmed appointment; frees its seat.", query: vec![], body: Some(named::<super::appointments::CancelBody>), ok: (200, named::<Appointment>), errors: &[ValidationFailed, Forbidden, NotFound, InvalidTransition, AppointmentOver, Contended] },
        Route { function: "confirm-appointment", method: "POST", path: "/appointments/{id}/confirm", summary: "The provider (staff, an admin) accepts a pending request: `scheduled`, its reminders planned.", query: vec![], body: None, ok: (200, named::<Appointment>), errors: CHANGE },
        Route { function: "decline-appointment", method: "POST", path: "/appointments/{id}/decline", summary: "The provider (staff, an admin) turns down a pending request: `cancelled` with `declined`, never late; its seat is free again (and offered to the waitlist).", query: vec![], body: Some(named::<super::appointments::CancelBody>), ok: (200, named::<Appointment>), errors: &[ValidationFailed, Forbidden, NotFound, InvalidTransition, Contended] },
        Route { function: "list-appointments", method: "GET", path: "/appointments", summary: "Appointments by start time: the caller's own; staff and admins name a patient or provider.", query: vec![LIST[0], LIST[1], q("status", P::Statuses, false, "One or more statuses, comma-separated."), q("startDate", P::Bound, false, "Starting from."), q("endDate", P::Bound, false, "Starting before the end of."), PAGE[0], PAGE[1]], body: None, ok: (200, appointment_page), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "upcoming-appointments", method: "GET", path: "/appointments/upcoming", summary: "The next ten pending, scheduled or confirmed appointments.", query: vec![LIST[0], LIST[1]], body: None, ok: (200, appointment_page), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "appointment-history", method: "GET", path: "/appointments/history", summary: "Completed appointments, newest first.", query: vec![LIST[0], LIST[1], PAGE[0], PAGE[1]], body: None, ok: (200, appointment_page), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "update-appointment", method: "PATCH", path: "/appointments/{id}", summary: "Notes, private notes, consultation type, or a status by the transition table.", query: vec![], body: Some(named::<super::lifecycle::Patch>), ok: (200, named::<Appointment>), errors: &[ValidationFailed, Forbidden, NotFound, InvalidTransition, ConcurrentUpdate, CheckInWindow, AppointmentNotOver, AppointmentOver, ConsultationTypeNotOffered, Contended] },
        Route { function: "reschedule-appointment", method: "POST", path: "/appointments/{id}/reschedule", summary: "Moves a scheduled or confirmed appointment to a seat of another slot; answers the new appointment.", query: vec![], body: Some(named::<super::appointments::RescheduleBody>), ok: (201, named::<Appointment>), errors: &[ValidationFailed, Forbidden, NotFound, InvalidTransition, AppointmentOver, SlotFull, SlotUnavailable, PatientConflict, AppointmentTypeInactive, AppointmentTypeNotAllowed, ConsultationTypeNotOffered, TooLateToBook, TooFarAhead, DailyLimitReached, Contended] },
        Route { function: "check-in-appointment", method: "POST", path: "/appointments/{id}/check-in", summary: "Checks in, within the check-in window.", query: vec![], body: None, ok: (200, named::<Appointment>), errors: &[ValidationFailed, Forbidden, NotFound, InvalidTransition, ConcurrentUpdate, CheckInWindow, Contended] },
        Route { function: "start-appointment", method: "POST", path: "/appointments/{id}/start", summary: "Starts a checked-in appointment; a video one gets its room.", query: vec![], body: None, ok: (200, named::<Appointment>), errors: CHANGE },
        Route { function: "complete-appointment", method: "POST", path: "/appointments/{id}/complete", summary: "Completes an appointment in progress, with notes, vitals and a follow-up.", query: vec![], body: Some(named::<super::lifecycle::Completion>), ok: (200, named::<Appointment>), errors: CHANGE },
        Route { function: "no-show-appointment", method: "POST", path: "/appointments/{id}/no-show", summary: "Marks a no-show once the end has passed.", query: vec![], body: None, ok: (200, named::<Appointment>), errors: &[ValidationFailed, Forbidden, NotFound, InvalidTransition, ConcurrentUpdate, AppointmentNotOver, Contended] },
        Route { function: "no-show-report", method: "GET", path: "/appointments/reports/no-shows", summary: "A provider's no-shows over a range, by patient.", query: vec![q("providerId", P::Uuid, true, "The provider."), q("startDate", P::Bound, true, "From."), q("endDate", P::Bound, true, "To; at most 366 days.")], body: None, ok: (200, named::<NoShowReport>), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "create-appointment-type", method: "POST", path: "/appointment-types", summary: "Staff and admins define an appointment type.", query: vec![], body: Some(named::<super::appointment_types::NewType>), ok: (201, named::<AppointmentType>), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "list-appointment-types", method: "GET", path: "/appointment-types", summary: "Appointment types by name.", query: vec![q("active", P::Bool, false, "Only active types."), PAGE[0], PAGE[1]], body: None, ok: (200, |all| inline::<Page<AppointmentType>>(all)), errors: &[ValidationFailed, Contended] },
        Route { function: "get-appointment-type", method: "GET", path: "/appointment-types/{id}", summary: "One appointment type.", query: vec![], body: None, ok: (200, named::<AppointmentType>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "update-appointment-type", method: "PATCH", path: "/appointment-types/{id}", summary: "Staff and admins change a type.", query: vec![], body: Some(named::<super::appointment_types::TypePatch>), ok: (200, named::<AppointmentType>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "create-location", method: "POST", path: "/locations", summary: "Staff and admins add a location: name, address (required unless virtual), IANA time zone (stored by its canonical name), telecom, active, virtual.", query: vec![], body: Some(named::<super::locations::NewLocation>), ok: (201, named::<crate::domain::location::Location>), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "list-locations", method: "GET", path: "/locations", summary: "Locations by name (anyone signed in).", query: vec![q("active", P::Bool, false, "Only active locations."), PAGE[0], PAGE[1]], body: None, ok: (200, |all| inline::<Page<crate::domain::location::Location>>(all)), errors: &[ValidationFailed, Contended] },
        Route { function: "get-location", method: "GET", path: "/locations/{id}", summary: "One location.", query: vec![], body: None, ok: (200, named::<crate::domain::location::Location>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "update-location", method: "PATCH", path: "/locations/{id}", summary: "Staff and admins change a location (active: false deactivates it).", query: vec![], body: Some(named::<super::locations::LocationPatch>), ok: (200, named::<crate::domain::location::Location>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "create-resource", method: "POST", path: "/locations/{id}/resources", summary: "Staff and admins add a room or a piece of equipment to a location (capacity: how many slots may hold it at once, default 1).", query: vec![], body: Some(named::<super::resources::NewResource>), ok: (201, named::<crate::domain::resource::Resource>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "list-resources", method: "GET", path: "/locations/{id}/resources", summary: "A location's rooms and equipment by name (anyone signed in).", query: vec![q("active", P::Bool, false, "Only active resources."), PAGE[0], PAGE[1]], body: None, ok: (200, |all| inline::<Page<crate::domain::resource::Resource>>(all)), errors: &[ValidationFailed, Contended] },
        Route { function: "update-resource", method: "PATCH", path: "/locations/{id}/resources/{rid}", summary: "Staff and admins rename a resource, change its capacity, or deactivate it (it then takes no new slots).", query: vec![], body: Some(named::<super::resources::ResourcePatch>), ok: (200, named::<crate::domain::resource::Resource>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "resource-schedule", method: "GET", path: "/locations/{id}/resources/{rid}/schedule", summary: "The slots that hold a room or device, day by day in the location's zone (providers, staff, admins).", query: vec![q("date", P::Day, true, "The first day."), q("days", P::Days, false, "How many days, 1 (the default) to 31.")], body: None, ok: (200, named::<super::resources::ResourceSchedule>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "bulk-create-slots", method: "POST", path: "/slots/bulk", summary: "Slots from working hours in the provider's zone (at most 2,500 a request, 96 a day). Days where a named room or device is held by other slots are left out and named in `refused`; 409 `resource_conflict` when every day is.", query: vec![], body: Some(named::<super::calendar::BulkRequest>), ok: (201, named::<BulkCreated>), errors: &[ValidationFailed, Forbidden, SlotOverlap, ResourceConflict, Contended] },
        Route { function: "block-slots", method: "POST", path: "/slots/block", summary: "Blocks every open slot without bookings in a range (at most 1,000 slots).", query: vec![], body: Some(named::<super::slots::BlockRequest>), ok: (200, named::<Blocked>), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "release-slot", method: "POST", path: "/slots/{id}/release", summary: "Opens a blocked slot without bookings again, taking its rooms and equipment again (blocking gave them back).", query: vec![], body: None, ok: (200, named::<SlotView>), errors: &[ValidationFailed, Forbidden, NotFound, SlotNotBlocked, SlotHasBookings, ResourceConflict, Contended] },
        Route { function: "join-waitlist", method: "POST", path: "/waitlist", summary: "A patient joins a provider's waitlist for a date (staff and admins add anyone, and alone set a priority); freed seats that match are offered and held.", query: vec![], body: Some(named::<super::waitlist::JoinBody>), ok: (201, named::<Entry>), errors: &[ValidationFailed, Forbidden, NotFound, AlreadyWaiting, AppointmentTypeInactive, Contended] },
        Route { function: "list-waitlist", method: "GET", path: "/waitlist", summary: "Waitlist entries: a patient's own, oldest first; a provider's queue, by date, priority and age; staff and admins name a patient or provider.", query: vec![LIST[0], LIST[1], q("date", P::Day, false, "A provider's queue for this date only."), q("status", P::EntryStatuses, false, "One or more statuses, comma-separated."), PAGE[0], PAGE[1]], body: None, ok: (200, |all| inline::<Page<Entry>>(all)), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "get-waitlist-entry", method: "GET", path: "/waitlist/{id}", summary: "One waitlist entry, with its offer while it holds one.", query: vec![], body: None, ok: (200, named::<Entry>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "cancel-waitlist-entry", method: "DELETE", path: "/waitlist/{id}", summary: "Leaves the waitlist: the entry `cancelled`, a held seat given back to the next entry.", query: vec![], body: None, ok: (200, named::<Entry>), errors: &[ValidationFailed, NotFound, WaitlistEntryClosed, Contended] },
        Route { function: "accept-waitlist-offer", method: "POST", path: "/waitlist/{id}/accept", summary: "Books the held seat while the offer stands (201; a repeat answers the same appointment with 200).", query: vec![], body: Some(named::<super::waitlist::AcceptBody>), ok: (201, named::<Appointment>), errors: &[ValidationFailed, Forbidden, NotFound, NoOffer, OfferExpired, WaitlistEntryClosed, SlotUnavailable, PatientConflict, TooManyAppointments, AppointmentTypeInactive, AppointmentTypeNotAllowed, ConsultationTypeNotOffered, TooLateToBook, TooFarAhead, DailyLimitReached, Contended] },
        Route { function: "decline-waitlist-offer", method: "POST", path: "/waitlist/{id}/decline", summary: "Declines the offer: the entry `declined`, the seat offered to the next entry.", query: vec![], body: None, ok: (200, named::<Entry>), errors: &[ValidationFailed, Forbidden, NotFound, NoOffer, OfferExpired, WaitlistEntryClosed, Contended] },
        Route { function: "create-calendar-feed", method: "POST", path: "/calendar/feeds", summary: "A calendar feed of the caller's own appointments (as a patient or a provider): its URL and secret token, shown this once.", query: vec![], body: Some(named::<super::feeds::FeedRequest>), ok: (201, named::<super::views::NewFeed>), errors: &[ValidationFailed, Forbidden, TooManyFeeds, Contended] },
        Route { function: "list-calendar-feeds", method: "GET", path: "/calendar/feeds", summary: "The caller's calendar feeds, revoked ones too, without their tokens.", query: vec![], body: None, ok: (200, named::<super::views::Feeds>), errors: &[Contended] },
        Route { function: "revoke-calendar-feed", method: "DELETE", path: "/calendar/feeds/{feed}", summary: "Revokes one of the caller's feeds (`feed` is its id): its URL answers 404 from then on.", query: vec![], body: None, ok: (200, named::<super::views::FeedView>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "calendar-feed", method: "GET", path: "/calendar/feeds/{feed}", summary: "The feed itself, iCalendar (RFC 5545), without a bearer token: `feed` is the secret token followed by `.ics`. The owner's appointments from 30 days ago to a year ahead (at most 5,000). Answers a weak ETag; with If-None-Match of it, 304 without a body.", query: vec![], body: None, ok: (200, |_| ObjectBuilder::new().schema_type(Type::String).into()), errors: &[NotFound, Contended] },
        Route { function: "calendar-feed", method: "HEAD", path: "/calendar/feeds/{feed}", summary: "The feed's headers (its ETag) without its body.", query: vec![], body: None, ok: (200, |_| ObjectBuilder::new().schema_type(Type::String).into()), errors: &[NotFound, Contended] },
        Route { function: "book-series", method: "POST", path: "/appointments/recurring", summary: "Books a recurring series (weekly, biweekly, monthly; 2 to 26): each occurrence in the provider's slot at the first one's local time (a type longer than the slot: the run of consecutive slots from it), all in one transaction; all or nothing unless `partial`.", query: vec![], body: Some(named::<super::series::SeriesBody>), ok: (201, named::<super::views::SeriesView>), errors: &[ValidationFailed, Forbidden, NotFound, SlotFull, SlotUnavailable, SeriesUnavailable, SeriesTooLarge, TooManyAppointments, AppointmentTypeInactive, AppointmentTypeNotAllowed, ConsultationTypeNotOffered, IdempotencyKeyReused, Contended] },
        Route { function: "get-series", method: "GET", path: "/recurring/{id}", summary: "A series with its appointments.", query: vec![], body: None, ok: (200, named::<super::views::SeriesView>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "cancel-series", method: "POST", path: "/recurring/{id}/cancel", summary: "Cancels every future scheduled or confirmed occurrence of a series.", query: vec![], body: Some(named::<super::appointments::CancelBody>), ok: (200, named::<super::views::SeriesView>), errors: &[ValidationFailed, Forbidden, NotFound, AppointmentOver, Contended] },
        Route { function: "fhir-appointment", method: "GET", path: "/fhir/Appointment/{id}", summary: "FHIR R4 Appointment (read), with the authorization of GET /appointments/{id}; an id `$find` proposed reads as its `proposed` Appointment for an hour.", query: vec![], body: None, ok: (200, |_| fhir_resource("Appointment")), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "fhir-slots", method: "GET", path: "/fhir/Slot", summary: "FHIR R4 Slot search. With `schedule`: a searchset Bundle of that provider's slots starting in a range of at most 31 days. Without: the earliest free slots across providers from the search index (as GET /slots/search: each confirmed on a consistent read), at most 14 days, `_count` a page, the next page the Bundle's next link.", query: vec![q("schedule", P::ScheduleRef, false, "Schedule/<providerId>."), q("start", P::StartRange, false, "ge<date or instant> and lt<date or instant> (both required with schedule)."), q("status", P::SlotStatus, false, "Only slots of this status (free only, across providers)."), q("service-type", P::Text, false, "Across providers: an appointment type, [system|]<id>."), q("specialty", P::Text, false, "Across providers: a specialty code, [system|]code."), q("_count", P::SearchLimit, false, "Across providers: at most this many (1 to 25, default 10)."), q("_cursor", P::Text, false, "Across providers: the next link's cursor.")], body: None, ok: (200, |_| fhir_resource("Bundle")), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "fhir-find", method: "GET", path: "/fhir/Appointment/$find", summary: "IHE ITI-115 Appointment/$find: a searchset Bundle of proposed Appointments, the earliest seats across providers that match (as GET /slots/search), each resolvable by GET /fhir/Appointment/{id} for an hour. visit-type is not supported.", query: vec![q("start", P::Edge, false, "From this instant or UTC date (default now)."), q("end", P::Edge, false, "To this instant or through this UTC date (at most 14 days after start)."), q("service-type", P::Text, false, "An appointment type, [system|]<id>."), q("specialty", P::Text, false, "A specialty code, [system|]code."), q("practitioner", P::Text, false, "Practitioner/<providerId>."), q("location", P::Text, false, "Location/<id>."), q("patient", P::PatientRef, false, "Staff and admins: the patient the seats are for."), q("_count", P::SearchLimit, false, "At most this many (1 to 25, default 10)."), q("_cursor", P::Text, false, "The next link's cursor.")], body: None, ok: (200, |_| fhir_resource("Bundle")), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "fhir-find", method: "POST", path: "/fhir/Appointment/$find", summary: "IHE ITI-115 Appointment/$find with a Parameters resource (the same parameter names as GET; a Coding's or CodeableConcept's code, a Reference's reference, a primitive as written).", query: vec![], body: Some(|_| fhir_resource("Parameters")), ok: (200, |_| fhir_resource("Bundle")), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "fhir-hold", method: "POST", path: "/fhir/Appointment/$hold", summary: "IHE ITI-116 Appointment/$hold with a Parameters resource naming appointment-reference (Appointment/<id> of a $find proposal): the seat held for its patient as POST /holds holds it, answered as the Appointment pending (its id the hold's). A seat no longer free is an OperationOutcome with the native code.", query: vec![], body: Some(|_| fhir_resource("Parameters")), ok: (200, |_| fhir_resource("Appointment")), errors: &[ValidationFailed, Forbidden, NotFound, SlotFull, SlotUnavailable, PatientConflict, TooManyAppointments, TooManyHolds, AppointmentTypeInactive, AppointmentTypeNotAllowed, ConsultationTypeNotOffered, TooLateToBook, TooFarAhead, DailyLimitReached, Contended] },
        Route { function: "fhir-book", method: "POST", path: "/fhir/Appointment/$book", summary: "IHE ITI-117 Appointment/$book with a Parameters resource naming appointment-reference (a $hold's Appointment, booked with the hold; or a $find proposal, booked as POST /appointments): a searchset Bundle of the Appointment, booked or pending (a type that requires confirmation).", query: vec![], body: Some(|_| fhir_resource("Parameters")), ok: (200, |_| fhir_resource("Bundle")), errors: &[ValidationFailed, Forbidden, NotFound, HoldExpired, SlotFull, SlotUnavailable, PatientConflict, TooManyAppointments, AppointmentTypeInactive, AppointmentTypeNotAllowed, ConsultationTypeNotOffered, TooLateToBook, TooFarAhead, DailyLimitReached, Contended] },
        Route { function: "fhir-bulk-publish", method: "GET", path: "/fhir/$bulk-publish", summary: "The SMART Scheduling Links manifest (STU 1), without a bearer token: NDJSON files of Locations, Schedules (a provider's slots at a location) and Slots (free and busy, the coming 14 days, a file per state, each with its booking-deep-link), written every 5 minutes and each linked by a presigned URL valid an hour. Cached 5 minutes.", query: vec![q("_since", P::Text, false, "An instant with its offset: only the files that changed after it.")], body: None, ok: (200, |_| ObjectBuilder::new().schema_type(Type::Object).into()), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "fhir-schedule", method: "GET", path: "/fhir/Schedule/{id}", summary: "FHIR R4 Schedule (read) of a provider: their bookable time.", query: vec![], body: None, ok: (200, |_| fhir_resource("Schedule")), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "fhir-practitioner", method: "GET", path: "/fhir/Practitioner/{id}", summary: "FHIR R4 Practitioner (read) of a provider with a directory profile: name, languages (BCP 47), active.", query: vec![], body: None, ok: (200, |_| fhir_resource("Practitioner")), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "fhir-healthcare-service", method: "GET", path: "/fhir/HealthcareService/{id}", summary: "FHIR R4 HealthcareService (read) of an appointment type: name, description, whether offered, the ways it may be held, its length and fee.", query: vec![], body: None, ok: (200, |_| fhir_resource("HealthcareService")), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "fhir-location", method: "GET", path: "/fhir/Location/{id}", summary: "A location as an R4 Location (anyone signed in).", query: vec![], body: None, ok: (200, |_| fhir_resource("Location")), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "fhir-locations", method: "GET", path: "/fhir/Location", summary: "Locations as a searchset Bundle of R4 Locations, by name: name and address-city match from the start, ignoring case.", query: vec![q("name", P::Text, false, "Starts with, ignoring case."), q("address-city", P::Text, false, "Starts with, ignoring case."), q("status", P::Text, false, "active or inactive."), q("_count", P::Limit, false, "The first this many (1 to 100, default 50).")], body: None, ok: (200, |_| fhir_resource("Bundle")), errors: &[ValidationFailed, Contended] },
        Route { function: "fhir-practitioner-roles", method: "GET", path: "/fhir/PractitionerRole", summary: "FHIR R4 PractitionerRole search: a searchset Bundle of active providers' roles from the directory (specialties, the appointment types offered as HealthcareServices), one provider's with `practitioner`, else the first `_count` by name with `specialty`.", query: vec![q("specialty", P::Text, false, "A specialty token, [system|]code."), q("practitioner", P::Text, false, "Practitioner/<providerId>."), q("_count", P::Limit, false, "The first this many by name (1 to 100, default 50).")], body: None, ok: (200, |_| fhir_resource("Bundle")), errors: &[ValidationFailed, Contended] },
        Route { function: "fhir-metadata", method: "GET", path: "/fhir/metadata", summary: "FHIR R4 CapabilityStatement: what this server supports.", query: vec![], body: None, ok: (200, |_| fhir_resource("CapabilityStatement")), errors: &[Contended] },
        Route { function: "provider-schedule", method: "GET", path: "/providers/{providerId}/schedule", summary: "A provider's day, week or month in their zone (or `timeZone`): the first day slot by slot with its bookings, and every day's slots and summary.", query: vec![q("date", P::Day, true, "The first day."), q("days", P::Days, false, "How many days, 1 (the default) to 31."), q("timeZone", P::Text, false, "An IANA zone; default the provider's stored zone.")], body: None, ok: (200, named::<Schedule>), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "get-provider-settings", method: "GET", path: "/providers/{providerId}/settings", summary: "A provider's settings in force (the provider, staff and admins): zone, booking rules (minimum notice, horizon, daily limit) and the terms appointments are booked under; defaults where nothing was set. Answers an ETag (the settings' version) for If-Match.", query: vec![], body: None, ok: (200, named::<super::views::SettingsView>), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "manage-visit", method: "GET", path: "/manage/{token}", summary: "A manage link, without a bearer token (the token in the path is the credential, sent to the patient on appointment.created, .rescheduled and .confirmed): the visit's time, provider, type, consultation type and place, nothing more. A token tampered with, expired, or of a visit cancelled or moved is 404.", query: vec![], body: None, ok: (200, named::<super::manage::Visit>), errors: &[NotFound, Contended] },
        Route { function: "manage-cancel", method: "POST", path: "/manage/{token}/cancel", summary: "Cancels the visit as its patient would (a late cancellation is flagged and its fee requested under the provider's terms); the link opens nothing after.", query: vec![], body: Some(named::<super::manage::ManageCancel>), ok: (200, named::<super::manage::Visit>), errors: &[ValidationFailed, NotFound, InvalidTransition, AppointmentOver, ConcurrentUpdate, Contended] },
        Route { function: "manage-reschedule", method: "POST", path: "/manage/{token}/reschedule", summary: "Moves the visit to a seat of another slot as its patient would (the provider's notice and horizon, the patient's other visits): 201 with the new visit and its own manageUrl; this link opens nothing after.", query: vec![], body: Some(named::<super::manage::ManageReschedule>), ok: (201, named::<super::manage::Visit>), errors: &[ValidationFailed, NotFound, InvalidTransition, SlotFull, SlotUnavailable, SlotTooShort, PatientConflict, AppointmentTypeNotAllowed, AppointmentTypeInactive, ConsultationTypeNotOffered, TooLateToBook, TooFarAhead, DailyLimitReached, AppointmentOver, ConcurrentUpdate, Contended] },
        Route { function: "manage-options", method: "GET", path: "/manage/{token}/options", summary: "Where the visit may move: its provider's open seats that admit its type over the coming 14 days (at most 50), as GET /slots/available finds them.", query: vec![], body: None, ok: (200, named::<super::manage::Options>), errors: &[NotFound, Contended] },
        Route { function: "create-webhook", method: "POST", path: "/webhooks", summary: "A webhook endpoint (staff, admin): the bus's events of the types named, posted in the Standard Webhooks format and signed with the secret answered here, shown this once. https to a public host only (checked again after resolution at each delivery).", query: vec![], body: Some(named::<super::webhooks::NewWebhook>), ok: (201, named::<super::webhooks::WebhookWithSecret>), errors: &[ValidationFailed, Forbidden, TooManyWebhooks, Contended] },
        Route { function: "list-webhooks", method: "GET", path: "/webhooks", summary: "Every webhook endpoint (staff, admin), without secrets.", query: vec![], body: None, ok: (200, named::<super::webhooks::Webhooks>), errors: &[Forbidden, Contended] },
        Route { function: "get-webhook", method: "GET", path: "/webhooks/{id}", summary: "A webhook endpoint (staff, admin): whether it is active, why deliveries disabled it, its failed deliveries in a row.", query: vec![], body: None, ok: (200, named::<super::webhooks::WebhookView>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "update-webhook", method: "PATCH", path: "/webhooks/{id}", summary: "Changes a webhook endpoint's URL, events or description, or turns it off or on again (on again forgets its failures).", query: vec![], body: Some(named::<super::webhooks::WebhookPatch>), ok: (200, named::<super::webhooks::WebhookView>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "delete-webhook", method: "DELETE", path: "/webhooks/{id}", summary: "Deletes a webhook endpoint (answered as it was); its retries waiting are dropped.", query: vec![], body: None, ok: (200, named::<super::webhooks::WebhookView>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "rotate-webhook-secret", method: "POST", path: "/webhooks/{id}/rotate-secret", summary: "A new signing secret, shown this once; the old one still signs beside it (two signatures in webhook-signature) for 24 hours.", query: vec![], body: None, ok: (200, named::<super::webhooks::WebhookWithSecret>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "list-webhook-deliveries", method: "GET", path: "/webhooks/{id}/deliveries", summary: "A webhook endpoint's latest delivery attempts, newest first (7 days kept): event id and type, attempt, status or failure, latency, outcome. Never a body.", query: vec![q("limit", P::Limit, false, "At most this many (1 to 100, default 50).")], body: None, ok: (200, named::<super::webhooks::Deliveries>), errors: &[ValidationFailed, Forbidden, NotFound, Contended] },
        Route { function: "audit-trail", method: "GET", path: "/audit", summary: "A patient's access history (admins only): every read or change of their appointments, waitlist entries, series and feeds, by whom, with what outcome, from the audit bucket. At most 31 days a read.", query: vec![q("patientId", P::Uuid, true, "Whose history."), q("from", P::Day, true, "The first UTC day."), q("to", P::Day, true, "The last UTC day, at most 30 days after `from`.")], body: None, ok: (200, named::<super::audit::Trail>), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "fhir-audit-events", method: "GET", path: "/fhir/AuditEvent", summary: "FHIR R4 AuditEvent search (admins only): the same history as GET /audit, as a searchset Bundle.", query: vec![q("patient", P::PatientRef, true, "Patient/<id>."), q("date", P::DateRange, true, "Twice: ge<date> and le<date>, at most 31 days.")], body: None, ok: (200, |_| fhir_resource("Bundle")), errors: &[ValidationFailed, Forbidden, Contended] },
        Route { function: "list-providers", method: "GET", path: "/providers", summary: "The provider directory (anyone signed in): the active providers listed under every filter given, by name. One read a page; a page may hold fewer than `limit` when the filters drop some: follow `nextCursor`.", query: vec![q("specialty", P::Text, false, "A specialty code."), q("language", P::Text, false, "A BCP 47 language tag; any region of the language matches."), q("region", P::Text, false, "An ISO 3166-2 code where the provider sees patients by video (US-CA)."), q("locationId", P::Uuid, false, "A location the provider works at."), q("appointmentTypeId", P::Uuid, false, "An appointment type the provider offers."), q("limit", P::Limit, false, "Listings one read examines (1 to 100, default 50)."), q("cursor", P::Text, false, "`nextCursor` of the previous page.")], body: None, ok: (200, |all| {
            // A generic page names its items' component without collecting it: collect it here.
            named::<crate::store::directory::Listing>(all);
            inline::<Page<crate::store::directory::Listing>>(all)
        }), errors: &[ValidationFailed, Contended] },
        Route { function: "get-provider", method: "GET", path: "/providers/{providerId}", summary: "A provider's directory profile (anyone signed in): what patients choose a provider by (display name, specialties, languages, telehealth regions, locations, appointment types, whether new patients are taken); never PHI. Answers an ETag (the profile's version) for If-Match.", query: vec![], body: None, ok: (200, named::<super::views::ProviderView>), errors: &[ValidationFailed, NotFound, Contended] },
        Route { function: "put-provider", method: "PUT", path: "/providers/{providerId}", summary: "Replaces a provider's directory profile (the provider, staff and admins), stored canonical: language tags in BCP 47's case, regions in ISO 3166-2's, lists sorted without duplicates. Takes back what GET answered (providerId and updatedAt are read-only). Answers an ETag; with If-Match, only while the profile is still that version.", query: vec![], body: Some(named::<crate::domain::profile::Profile>), ok: (200, named::<super::views::ProviderView>), errors: &[ValidationFailed, Forbidden, PreconditionFailed, Contended] },
        Route { function: "put-provider-settings", method: "PUT", path: "/providers/{providerId}/settings", summary: "Replaces a provider's settings (the provider, staff and admins): a field left out or null follows the default. Takes back what GET answered (providerId and updatedAt are read-only). Applies to bookings from then on; booked appointments keep their terms. Answers an ETag; with If-Match, only while the settings are still that version.", query: vec![], body: Some(named::<crate::domain::settings::Settings>), ok: (200, named::<super::views::SettingsView>), errors: &[ValidationFailed, Forbidden, PreconditionFailed, Contended] },
    ]
}

/// A FHIR resource of `kind` (its structure is FHIR's own; the tests validate it against FHIR R4B).
fn fhir_resource(kind: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some(format!("A FHIR R4 {kind} resource.")))
        .property(
            "resourceType",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind])),
        )
        .required("resourceType")
        .into()
}

fn param_schema(kind: P) -> Schema {
    let string = |format: Option<KnownFormat>| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(format.map(SchemaFormat::KnownFormat))
    };
    match kind {
        P::Uuid => string(Some(KnownFormat::Uuid)).into(),
        P::Bound => string(None)
            .pattern(Some(r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?$"))
            .description(Some("A date (its whole UTC day) or an RFC 3339 date-time, years 2000 to 2099."))
            .into(),
        P::Day => string(Some(KnownFormat::Date))
            .pattern(Some(r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"))
            .into(),
        P::Limit => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(100))
            .into(),
        P::Text => string(None).into(),
        P::ScheduleRef => string(None)
            .pattern(Some(r"^Schedule/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))
            .into(),
        P::StartRange => ArrayBuilder::new()
            .items(string(None).pattern(Some(
                r"^(ge|lt)20[0-9]{2}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?$",
            )))
            .min_items(Some(2))
            .max_items(Some(2))
            .into(),
        P::PatientRef => string(None)
            .pattern(Some(r"^Patient/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))
            .into(),
        P::DateRange => ArrayBuilder::new()
            .items(string(None).pattern(Some(r"^(ge|le)20[0-9]{2}-[0-9]{2}-[0-9]{2}$")))
            .min_items(Some(2))
            .max_items(Some(2))
            .into(),
        P::SlotStatus => string(None)
            .enum_values(Some(["free", "busy", "busy-unavailable", "entered-in-error"]))
            .into(),
        P::Days => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(31))
            .into(),
        P::Bool => ObjectBuilder::new().schema_type(Type::Boolean).into(),
        P::SearchLimit => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(25))
            .into(),
        P::Edge => string(None)
            .pattern(Some(r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?$"))
            .description(Some("A date (its whole day in timeZone) or an RFC 3339 date-time, years 2000 to 2099."))
            .into(),
        P::Consultation => string(None)
            .enum_values(Some(["in_person", "video", "phone"]))
            .into(),
        P::Uuids => ArrayBuilder::new()
            .items(string(Some(KnownFormat::Uuid)))
            .max_items(Some(20))
            .into(),
        P::Statuses => string(None)
            .pattern(Some(r"^(scheduled|confirmed|in_progress|completed|cancelled|no_show|rescheduled)(,(scheduled|confirmed|in_progress|completed|cancelled|no_show|rescheduled))*$"))
            .into(),
        P::EntryStatuses => string(None)
            .pattern(Some(r"^(waiting|offered|accepted|declined|expired|cancelled)(,(waiting|offered|accepted|declined|expired|cancelled))*$"))
            .into(),
    }
}

/// The problem+json body of every error: `code` is one of the catalogue.
fn problem() -> Schema {
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let field_error = ObjectBuilder::new()
        .property("field", ObjectBuilder::new().schema_type(Type::String))
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .required("field")
        .required("message");
    ObjectBuilder::new()
        .description(Some("RFC 9457 problem details with a stable `code`."))
        .property("type", ObjectBuilder::new().schema_type(Type::String))
        .property("title", ObjectBuilder::new().schema_type(Type::String))
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes)),
        )
        .property("errors", ArrayBuilder::new().items(field_error))
        .required("type")
        .required("title")
        .required("status")
        .required("detail")
        .required("code")
        .into()
}

/// The resources the operations are grouped by (the document's `tags`): the first whose path prefix
/// an operation's path has.
const TAGS: &[(&str, &str, &str)] = &[
    ("/appointments/recurring", "Recurring series", "A patient's weekly, biweekly or monthly series, booked and cancelled together."),
    ("/recurring", "Recurring series", "A patient's weekly, biweekly or monthly series, booked and cancelled together."),
    ("/appointments", "Appointments", "Booking, the visit's life (check-in, start, completion, no-show, cancellation, rescheduling), lists and reports."),
    ("/appointment-types", "Appointment types", "What a clinic offers: durations, fees and consultation types."),
    ("/slots", "Slots", "A provider's published time: seats, blocks and what is open to book."),
    ("/holds", "Holds", "Seats kept for a patient for a few minutes, then booked with the hold."),
    ("/waitlist", "Waitlist", "Patients waiting for a freed seat, and the offers that hold one for them."),
    ("/locations", "Locations", "Where a clinic sees patients: address, time zone, telecom; virtual for telehealth."),
    ("/providers", "Providers", "A provider's directory profile, settings (time zone, booking rules, reminders, fees) and day schedule."),
    ("/calendar", "Calendar feeds", "iCalendar subscriptions to a patient's or a provider's appointments."),
    ("/fhir", "FHIR", "FHIR R4 Slot, Schedule, Appointment and AuditEvent resources for EHRs."),
    ("/manage", "Manage links", "A patient's link to see, cancel or move one visit without signing in."),
    ("/webhooks", "Webhooks", "Endpoints outside AWS that get the service's events, signed in the Standard Webhooks format, with retries and a delivery log."),
    ("/audit", "Audit", "Who read or changed a patient's data, and when (admins only)."),
];

/// The tag of an operation on `path`.
fn tag_of(path: &str) -> Option<&'static str> {
    TAGS.iter()
        .find(|(prefix, ..)| path == *prefix || path.starts_with(&format!("{prefix}/")))
        .map(|(_, tag, _)| *tag)
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut all: Schemas = vec![];
    let mut paths: BTreeMap<&str, Vec<(HttpMethod, utoipa::openapi::path::Operation)>> =
        BTreeMap::new();
    let routes = routes();
    for r in &routes {
        // Unique per operation: a function that serves GET and another method (HEAD for the feed,
        // POST for $find) names the other `<function>-<method>`.
        let shared_with_get = r.method != "GET"
            && routes
                .iter()
                .any(|o| o.function == r.function && o.method == "GET");
        let mut op = OperationBuilder::new()
            .operation_id(Some(if shared_with_get {
                format!("{}-{}", r.function, r.method.to_lowercase())
            } else {
                r.function.to_owned()
            }))
            .summary(Some(r.summary))
            .tag(tag_of(r.path).unwrap_or("Other"));
        // The feed itself is the one route without a bearer token; its path holds the token.
        let public = r.function == PUBLIC;
        // FHIR answers, errors too, are application/fhir+json (errors as OperationOutcome).
        let fhir = r.function.starts_with(FHIR);
        for segment in r.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let schema = match (public, name) {
                    (true, _) => ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(r"^[0-9a-f]{64}\.ics$"))
                        .into(),
                    // A manage link's token: 61 bytes, base64url.
                    (false, "token") => ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(r"^[A-Za-z0-9_-]{82}$"))
                        .into(),
                    (false, _) => param_schema(P::Uuid),
                };
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(schema)),
                );
            }
        }
        let open = NO_TOKEN.contains(&r.function);
        if open {
            op = op.securities(Some(Vec::<SecurityRequirement>::new()));
        }
        for p in &r.query {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(p.name)
                    .parameter_in(ParameterIn::Query)
                    .required(if p.required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .description(Some(p.description))
                    .schema(Some(param_schema(p.kind))),
            );
        }
        if IDEMPOTENT.contains(&r.function) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some("1 to 255 visible ASCII characters; a retry with the same key and request returns the first booking."))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .max_length(Some(255))
                            .pattern(Some("^[!-~]+$")),
                    )),
            );
        }
        if IF_MATCH.contains(&r.function) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("If-Match")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some("The ETag of a GET (a quoted version, such as \"3\"), or *: the change applies only while the resource is still that version, else 412."))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        if let Some(body) = r.body {
            // These take no body as `{}`: every field is optional.
            let optional = OPTIONAL_BODY.contains(&r.function);
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(if optional {
                        Required::False
                    } else {
                        Required::True
                    }))
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(body(&mut all))).build(),
                    )
                    .build(),
            ));
        }
        let ok = ResponseBuilder::new()
            .description(if r.ok.0 == 201 { "Created" } else { "OK" })
            .content(
                if public {
                    "text/calendar"
                } else if r.function == "fhir-bulk-publish" {
                    // A manifest, not a FHIR resource: JSON, as the specification says.
                    "application/json"
                } else if fhir {
                    "application/fhir+json"
                } else {
                    "application/json"
                },
                ContentBuilder::new()
                    .schema(Some((r.ok.1)(&mut all)))
                    .build(),
            )
            .build();
        op = op.response(r.ok.0.to_string(), ok);
        let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
        if !open {
            by_status
                .entry(401)
                .or_default()
                .push(Unauthorized.as_str());
        }
        let takes_body = r.body.is_some();
        for c in r.errors.iter().chain(if takes_body {
            &[BodyTooLarge, UnsupportedMediaType][..]
        } else {
            &[][..]
        }) {
            by_status.entry(c.status()).or_default().push(c.as_str());
        }
        for (status, codes) in by_status {
            // The authorizer's 401 is the native problem; a FHIR handler's own refusals are
            // OperationOutcomes.
            let (media, schema) = match fhir && status != 401 {
                true => ("application/fhir+json", fhir_resource("OperationOutcome")),
                false => (
                    "application/problem+json",
                    Ref::from_schema_name("Problem").into(),
                ),
            };
            let problem = ResponseBuilder::new()
                .description(format!("`{}`", codes.join("`, `")))
                .content(media, ContentBuilder::new().schema(Some(schema)).build())
                .build();
            op = op.response(status.to_string(), problem);
        }
        let method = match r.method {
            "GET" => HttpMethod::Get,
            "PATCH" => HttpMethod::Patch,
            "PUT" => HttpMethod::Put,
            "DELETE" => HttpMethod::Delete,
            "HEAD" => HttpMethod::Head,
            _ => HttpMethod::Post,
        };
        paths.entry(r.path).or_default().push((method, op.build()));
    }
    let mut builder = PathsBuilder::new();
    for (path, ops) in paths {
        for (method, op) in ops {
            builder = builder.path(path, PathItem::new(method, op));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.dedup_by(|a, b| a.0 == b.0);
    let mut components = ComponentsBuilder::new()
        .schema("Problem", problem())
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    for (name, schema) in all {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Clinic appointments")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("The scheduling back end of a telehealth and clinic platform. Every request needs a bearer JWT; errors are application/problem+json with a stable `code`."))
                .license(Some(
                    LicenseBuilder::new()
                        .name("Apache-2.0")
                        .identifier(Some("Apache-2.0"))
                        .build(),
                ))
                .build(),
        )
        .servers(Some(vec![
            ServerBuilder::new()
                .url("http://127.0.0.1:3000")
                .description(Some("The local stack (make dev)"))
                .build(),
            ServerBuilder::new()
                .url("{apiUrl}")
                .description(Some("A deployed stack: its ApiUrl output"))
                .parameter(
                    "apiUrl",
                    ServerVariableBuilder::new()
                        .default_value("https://abcdef1234.execute-api.eu-west-1.amazonaws.com")
                        .description(Some("The stack's ApiUrl output (sam list stack-outputs)")),
                )
                .build(),
        ]))
        .tags(Some({
            let mut seen = vec![];
            TAGS.iter()
                .filter(|(_, tag, _)| {
                    let new = !seen.contains(tag);
                    seen.push(*tag);
                    new
                })
                .map(|(_, tag, about)| TagBuilder::new().name(*tag).description(Some(*about)).build())
                .collect::<Vec<_>>()
        }))
        .paths(builder.build())
        .components(Some(components.build()))
        .security(Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]))
        .build()
}

/// The document as the checked-in `openapi.json` holds it.
pub fn json() -> String {
    // A document of strings and maps serializes; the template test compares it with openapi.json.
    document().to_pretty_json().unwrap_or_default() + "\n"
}

/// `(function, method, path)` of every documented route, for the check against template.yaml.
pub fn routes_documented() -> Vec<(&'static str, String, &'static str)> {
    routes()
        .into_iter()
        .map(|r| (r.function, r.method.to_owned(), r.path))
        .collect()
}
