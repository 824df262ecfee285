//! HTTP endpoints: one `pub async fn` per route, each `(&Ctx, Request) -> Reply`. Parse, authorize, call
//! the store, shape the response. Every failure is an [`ApiError`], turned into problem+json in exactly
//! one place ([`ApiError::into_response`]).

pub mod appointment_types;
pub mod appointments;
pub mod audit;
pub mod calendar;
mod error;
mod etag;
pub mod feeds;
pub mod fhir;
pub mod holds;
pub mod lifecycle;
pub mod lists;
pub mod locations;
pub mod manage;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod providers;
mod request;
pub mod resources;
pub mod search;
pub mod series;
pub mod settings;
pub mod slots;
pub mod views;
pub mod waitlist;
pub mod webhooks;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use lambda_http::{Body, RequestExt, Response};

pub use error::{ApiError, Code, FieldError};
pub use request::{
    base_url, caller, created, for_patient, json, json_body, json_body_or_default, path_id,
    respond, set_header, staff_only, Bound, Checks, ProfileFilters, Query, BOUND,
};

use crate::audit::AuditLog;
use crate::config::{Config, ConfigError};
use crate::domain::Clock;
use crate::domain::UtcTime;
use crate::metrics::{self, Metrics};
use crate::store::Store;

pub type Request = lambda_http::Request;
pub type Reply = Result<Response<Body>, ApiError>;
pub type Endpoint =
    for<'a> fn(&'a Ctx, Request) -> Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// What an endpoint needs, built once per cold start and shared by every request.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub store: Store,
    pub config: Config,
    pub clock: Clock,
    /// Where each request's metrics line goes (`crate::metrics`).
    pub metrics: Metrics,
    /// Where its audit records go (`crate::audit`).
    pub audit: AuditLog,
    /// The audit bucket, for the functions that read the trail (`AUDIT_BUCKET`).
    pub audit_reader: Option<crate::audit::AuditReader>,
    /// The feed bucket, for `GET /fhir/$bulk-publish` (`FEED_BUCKET`).
    pub slot_feed: Option<crate::feed::FeedReader>,
}

impl Ctx {
    pub fn new(db: aws_sdk_dynamodb::Client, config: Config) -> Result<Ctx, ConfigError> {
        let table = Config::require(&config.table_name, "TABLE_NAME")?;
        Ok(Ctx {
            store: Store::new(
                crate::store::capacity::measured(db, config.return_consumed_capacity),
                table,
            )
            .with_defaults(config.provider_defaults())
            .with_cursor_key(config.cursor_key()?),
            config,
            clock: Clock::System,
            metrics: Metrics::stdout(),
            audit: AuditLog::Stdout,
            audit_reader: None,
            slot_feed: None,
        })
    }

    pub fn now(&self) -> UtcTime {
        self.clock.now()
    }
}

macro_rules! endpoints {
    ($($constant:ident $function:literal => $handler:path),* $(,)?) => {
        $(
            #[doc = concat!("The `", $function, "` function of template.yaml. A main names only its own endpoint, so its binary links only that handler.")]
            pub const $constant: (&str, Endpoint) = ($function, |ctx, req| Box::pin($handler(ctx, req)));
        )*
        /// Every HTTP function of template.yaml, by its name there (the local stack routes through this).
        pub const ENDPOINTS: &[(&str, Endpoint)] = &[$($constant),*];
    };
}

endpoints! {
    CREATE_SLOT "create-slot" => slots::create,
    AVAILABLE_SLOTS "available-slots" => slots::available,
    SEARCH_SLOTS "search-slots" => search::search,
    CREATE_APPOINTMENT "create-appointment" => appointments::book,
    CREATE_HOLD "create-hold" => holds::create,
    GET_HOLD "get-hold" => holds::get,
    RELEASE_HOLD "release-hold" => holds::release,
    GET_APPOINTMENT "get-appointment" => appointments::get,
    CANCEL_APPOINTMENT "cancel-appointment" => appointments::cancel,
    CONFIRM_APPOINTMENT "confirm-appointment" => lifecycle::confirm,
    DECLINE_APPOINTMENT "decline-appointment" => appointments::decline,
    LIST_APPOINTMENTS "list-appointments" => lists::list,
    UPCOMING_APPOINTMENTS "upcoming-appointments" => lists::upcoming,
    APPOINTMENT_HISTORY "appointment-history" => lists::history,
    UPDATE_APPOINTMENT "update-appointment" => lifecycle::update,
    RESCHEDULE_APPOINTMENT "reschedule-appointment" => appointments::reschedule,
    CHECK_IN_APPOINTMENT "check-in-appointment" => lifecycle::check_in,
    START_APPOINTMENT "start-appointment" => lifecycle::start,
    COMPLETE_APPOINTMENT "complete-appointment" => lifecycle::complete,
    NO_SHOW_APPOINTMENT "no-show-appointment" => lifecycle::no_show,
    NO_SHOW_REPORT "no-show-report" => lists::no_shows,
    CREATE_APPOINTMENT_TYPE "create-appointment-type" => appointment_types::create,
    LIST_APPOINTMENT_TYPES "list-appointment-types" => appointment_types::list,
    GET_APPOINTMENT_TYPE "get-appointment-type" => appointment_types::get,
    UPDATE_APPOINTMENT_TYPE "update-appointment-type" => appointment_types::update,
    BULK_CREATE_SLOTS "bulk-create-slots" => calendar::bulk,
    BLOCK_SLOTS "block-slots" => slots::block,
    RELEASE_SLOT "release-slot" => slots::release,
    PROVIDER_SCHEDULE "provider-schedule" => calendar::schedule,
    JOIN_WAITLIST "join-waitlist" => waitlist::join,
    LIST_WAITLIST "list-waitlist" => waitlist::list,
    GET_WAITLIST_ENTRY "get-waitlist-entry" => waitlist::get,
    CANCEL_WAITLIST_ENTRY "cancel-waitlist-entry" => waitlist::cancel,
    ACCEPT_WAITLIST_OFFER "accept-waitlist-offer" => waitlist::accept,
    DECLINE_WAITLIST_OFFER "decline-waitlist-offer" => waitlist::decline,
    CREATE_CALENDAR_FEED "create-calendar-feed" => feeds::create,
    LIST_CALENDAR_FEEDS "list-calendar-feeds" => feeds::list,
    REVOKE_CALENDAR_FEED "revoke-calendar-feed" => feeds::revoke,
    CALENDAR_FEED "calendar-feed" => feeds::ics,
    FHIR_APPOINTMENT "fhir-appointment" => fhir::appointment,
    FHIR_SLOTS "fhir-slots" => fhir::slots,
    FHIR_SCHEDULE "fhir-schedule" => fhir::schedule,
    FHIR_PRACTITIONER "fhir-practitioner" => fhir::practitioner,
    FHIR_HEALTHCARE_SERVICE "fhir-healthcare-service" => fhir::healthcare_service,
    FHIR_PRACTITIONER_ROLES "fhir-practitioner-roles" => fhir::practitioner_roles,
    FHIR_METADATA "fhir-metadata" => fhir::metadata,
    FHIR_FIND "fhir-find" => fhir::find,
    FHIR_HOLD "fhir-hold" => fhir::hold,
    FHIR_BOOK "fhir-book" => fhir::book,
    BOOK_SERIES "book-series" => series::book,
    GET_SERIES "get-series" => series::get,
    CANCEL_SERIES "cancel-series" => series::cancel,
    GET_PROVIDER_SETTINGS "get-provider-settings" => settings::get,
    PUT_PROVIDER_SETTINGS "put-provider-settings" => settings::put,
    GET_PROVIDER "get-provider" => providers::get,
    PUT_PROVIDER "put-provider" => providers::put,
    LIST_PROVIDERS "list-providers" => providers::list,
    AUDIT_TRAIL "audit-trail" => audit::trail,
    CREATE_LOCATION "create-location" => locations::create,
    LIST_LOCATIONS "list-locations" => locations::list,
    GET_LOCATION "get-location" => locations::get,
    UPDATE_LOCATION "update-location" => locations::update,
    FHIR_LOCATION "fhir-location" => fhir::location,
    FHIR_LOCATIONS "fhir-locations" => fhir::locations,
    CREATE_RESOURCE "create-resource" => resources::create,
    LIST_RESOURCES "list-resources" => resources::list,
    UPDATE_RESOURCE "update-resource" => resources::update,
    RESOURCE_SCHEDULE "resource-schedule" => resources::schedule,
    FHIR_AUDIT_EVENTS "fhir-audit-events" => audit::fhir_events,
    FHIR_BULK_PUBLISH "fhir-bulk-publish" => fhir::bulk_publish,
    MANAGE_VISIT "manage-visit" => manage::get,
    MANAGE_CANCEL "manage-cancel" => manage::cancel,
    MANAGE_RESCHEDULE "manage-reschedule" => manage::reschedule,
    MANAGE_OPTIONS "manage-options" => manage::options,
    CREATE_WEBHOOK "create-webhook" => webhooks::create,
    LIST_WEBHOOKS "list-webhooks" => webhooks::list,
    GET_WEBHOOK "get-webhook" => webhooks::get,
    UPDATE_WEBHOOK "update-webhook" => webhooks::update,
    DELETE_WEBHOOK "delete-webhook" => webhooks::delete,
    ROTATE_WEBHOOK_SECRET "rotate-webhook-secret" => webhooks::rotate,
    LIST_WEBHOOK_DELIVERIES "list-webhook-deliveries" => webhooks::deliveries,
}

/// The function of template.yaml named `function`, with its endpoint.
pub fn endpoint(function: &str) -> Option<(&'static str, Endpoint)> {
    ENDPOINTS
        .iter()
        .find(|(name, _)| *name == function)
        .copied()
}

/// Runs one request through `function`'s endpoint and logs its outcome (ids, status and duration,
/// never a body), and writes its metrics line: requests by status class and the outcome (`ok`, what
/// the handler named, such as `booked`, or the problem's code), with its latency and conflict retries.
pub async fn serve(
    (function, endpoint): (&'static str, Endpoint),
    ctx: &Ctx,
    req: Request,
) -> Response<Body> {
    // Every line logged while the request runs carries its route (API Gateway's route key, such as
    // `POST /appointments`; never the path, which holds ids); Lambda's JSON format adds the request
    // and trace ids (lambda_runtime's invoke span).
    let context = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => Some(c),
        _ => None,
    };
    let route = context
        .and_then(|c| c.route_key.clone())
        .unwrap_or_default();
    // Who asked, for the audit trail: read only for an audited function.
    let asked = crate::audit::audited(function).map(|_| {
        let caller = caller(ctx, &req).ok();
        crate::audit::Request {
            actor: caller.as_ref().map(|c| c.id),
            roles: caller
                .iter()
                .flat_map(|c| c.roles.iter().map(|r| r.as_str().to_owned()))
                .collect(),
            // A feed's `{feed}` is its id, except on the public route, where it is the secret token.
            resource_id: req
                .path_parameters_ref()
                .and_then(|p| match function {
                    "calendar-feed" => None,
                    _ => p.first("id").or_else(|| p.first("feed")),
                })
                .map(str::to_owned),
            request_id: context
                .and_then(|c| c.request_id.clone())
                .unwrap_or_default(),
            source_ip: context
                .and_then(|c| c.http.source_ip.clone())
                .unwrap_or_default(),
        }
    });
    let span = tracing::info_span!("http", function, route = %route);
    let work = async {
        let started = Instant::now();
        let response = match endpoint(ctx, req).await {
            Ok(r) => r,
            Err(e) => {
                metrics::outcome(e.code.as_str());
                e.into_response()
            }
        };
        let status = response.status().as_u16();
        metrics::count("Requests", 1);
        metrics::count(
            match status {
                0..=299 => "Http2xx",
                300..=399 => "Http3xx",
                400..=499 => "Http4xx",
                _ => "Http5xx",
            },
            1,
        );
        tracing::info!(
            status,
            millis = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    };
    let audited = ctx
        .audit
        .request(function, asked, ctx.now(), work, |r: &Response<Body>| {
            let created = (r.status() == 201)
                .then(|| r.headers().get("location")?.to_str().ok())
                .flatten()
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_owned);
            (r.status().as_u16(), created)
        });
    ctx.metrics
        .unit(
            function,
            None,
            tracing::Instrument::instrument(audited, span),
        )
        .await
}
