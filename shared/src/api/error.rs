//! Problem details (RFC 9457) with a stable `code` per failure. [`Code`] is the closed catalogue of
//! every code a client can see (DESIGN.md section 11): its HTTP status and its name are one match each.

use std::sync::Arc;

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::admission::Inadmissible;
use crate::domain::lifecycle::Refusal;
use crate::store::booking::BookingError;
use crate::store::lifecycle::ChangeError;
use crate::store::series::SeriesError;
use crate::store::slots::SlotError;
use crate::store::waitlist::WaitlistError;
use crate::store::StoreError;

macro_rules! catalogue {
    ($($variant:ident $status:literal $name:literal: $doc:literal,)*) => {
        /// Every failure a client of the HTTP API can see.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            /// The stable name clients match on (`code`, and the last segment of `type`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// What the code means, for the OpenAPI document.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $doc,)*
                }
            }
        }
    };
}

catalogue! {
    ValidationFailed 400 "validation_failed": "A parameter or body field is missing or out of range; `errors` names each.",
    Unauthorized 401 "unauthorized": "No valid bearer token.",
    Forbidden 403 "forbidden": "The caller's role may not do this.",
    NotFound 404 "not_found": "No such resource, or not one the caller may see.",
    BodyTooLarge 413 "body_too_large": "The body is larger than the service takes.",
    UnsupportedMediaType 415 "unsupported_media_type": "The body is not application/json.",
    InvalidTransition 409 "invalid_transition": "The appointment's status does not allow this action.",
    SlotFull 409 "slot_full": "Every seat of the slot is taken.",
    SlotUnavailable 409 "slot_unavailable": "The slot is blocked, cancelled or has started.",
    SlotOverlap 409 "slot_overlap": "The slot overlaps another slot of the provider.",
    SlotTooShort 409 "slot_too_short": "The appointment type lasts longer than the slot.",
    ResourceConflict 409 "resource_conflict": "A room or piece of equipment the slot names is held by another slot then (the detail names both).",
    SlotNotBlocked 409 "slot_not_blocked": "Only a blocked slot can be released.",
    SlotHasBookings 409 "slot_has_bookings": "The slot has bookings.",
    PatientConflict 409 "patient_conflict": "The patient already has an appointment at that time.",
    TooManyAppointments 409 "too_many_appointments": "The patient holds the most appointments allowed at once.",
    AppointmentTypeInactive 409 "appointment_type_inactive": "The appointment type is no longer offered.",
    AppointmentTypeNotAllowed 409 "appointment_type_not_allowed": "The slot does not admit that appointment type.",
    ConsultationTypeNotOffered 409 "consultation_type_not_offered": "The appointment type is not offered as that consultation type.",
    ConcurrentUpdate 409 "concurrent_update": "The appointment changed meanwhile; read it again.",
    SeriesUnavailable 409 "series_unavailable": "Some dates of the series have no bookable slot (they are named); nothing was booked.",
    SeriesTooLarge 422 "series_too_large": "The series' occurrences take more slots than one transaction books at once; nothing was booked.",
    AlreadyWaiting 409 "already_waiting": "The patient already waits for this provider on that date.",
    NoOffer 409 "no_offer": "The waitlist entry holds no offer to answer.",
    OfferExpired 409 "offer_expired": "The offer ran out before it was answered; the seat went back.",
    TooManyHolds 409 "too_many_holds": "The patient already holds the most seats allowed at once; book or release one.",
    HoldExpired 409 "hold_expired": "The hold ran out or was released; its seat went back.",
    HoldEnded 409 "hold_ended": "The hold was booked; cancel the appointment to give the seat back.",
    WaitlistEntryClosed 409 "waitlist_entry_closed": "The waitlist entry has ended (accepted, declined, expired or cancelled).",
    PreconditionFailed 412 "precondition_failed": "If-Match names a version the resource no longer has; read it again.",
    IdempotencyKeyReused 422 "idempotency_key_reused": "The Idempotency-Key was used for a different request.",
    CheckInWindow 422 "check_in_window": "Check-in is not open at this time.",
    AppointmentNotOver 422 "appointment_not_over": "A no-show can be recorded only after the end.",
    AppointmentOver 422 "appointment_over": "The appointment has ended; only staff can cancel it now.",
    TooLateToBook 422 "too_late_to_book": "The slot starts sooner than the provider's minimum notice.",
    TooFarAhead 422 "too_far_ahead": "The slot lies beyond the provider's booking horizon (maxAdvanceDays).",
    DailyLimitReached 422 "daily_limit_reached": "The provider's day already holds their most appointments per day.",
    TooManyFeeds 409 "too_many_feeds": "The caller has 20 active calendar feeds; revoke one first.",
    TooManyWebhooks 409 "too_many_webhooks": "The deployment has 25 webhook endpoints; delete one first.",
    Contended 503 "contended": "Contention or throttling outlasted the retries; retry after Retry-After seconds.",
    Internal 500 "internal": "A defect of the service, logged with its ids; the same request will fail the same way.",
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds for the `Retry-After` header of a 503.
    pub retry_after: Option<u32>,
    /// The store asked for a retry that has not been made yet (see [`crate::retry`]).
    transient: bool,
    /// What failed underneath (an SDK error), for logs; never shown to clients.
    source: Option<Arc<StoreError>>,
}

impl crate::retry::Retry for ApiError {
    fn is_transient(&self) -> bool {
        self.transient
    }

    fn spent(spent: crate::retry::Spent, _last: Option<Self>) -> Self {
        StoreError::from(spent).into()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status(),
            self.code.as_str(),
            self.detail
        )
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            errors: vec![],
            retry_after: None,
            transient: false,
            source: None,
        }
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    pub fn invalid(errors: Vec<FieldError>) -> ApiError {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("invalid: {}", fields.join(", "));
        ApiError {
            errors,
            ..Self::new(Code::ValidationFailed, detail)
        }
    }

    /// A domain rule's `(field, message)` findings as a 400 naming each, or `Ok` when there are none.
    pub fn unless(found: Vec<(&str, &str)>) -> Result<(), ApiError> {
        if found.is_empty() {
            return Ok(());
        }
        Err(Self::invalid(
            found
                .into_iter()
                .map(|(field, message)| FieldError {
                    field: field.to_owned(),
                    message: message.to_owned(),
                })
                .collect(),
        ))
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        Self::invalid(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        Self::new(Code::Unauthorized, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        Self::new(Code::Forbidden, detail)
    }

    pub fn not_found(what: &str) -> ApiError {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    /// 503 `contended`: a transient condition (contention, throttling) outlasted the retries; the
    /// client should retry after `Retry-After` seconds (DESIGN.md section 5).
    pub fn contended() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..Self::new(
                Code::Contended,
                "the schedule is busy with other requests right now; retry after the Retry-After seconds",
            )
        }
    }

    /// 500 `internal`: a defect of ours (an item that does not read, a request DynamoDB refuses for
    /// good); it is logged with ids where it happens, and the client is told nothing more.
    pub fn internal() -> ApiError {
        Self::new(
            Code::Internal,
            "the service could not handle this request; it has been logged",
        )
    }

    fn title(&self) -> &'static str {
        lambda_http::http::StatusCode::from_u16(self.status())
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
    }

    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct Problem<'a> {
            r#type: String,
            title: &'a str,
            status: u16,
            detail: &'a str,
            code: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            errors: &'a [FieldError],
        }
        let problem = Problem {
            r#type: format!("/problems/{}", self.code.as_str()),
            title: self.title(),
            status: self.status(),
            detail: &self.detail,
            code: self.code.as_str(),
            errors: &self.errors,
        };
        // A problem is strings and a number: it serializes.
        let body = serde_json::to_string(&problem).unwrap_or_default();
        let mut response =
            super::respond(self.status(), "application/problem+json", Body::Text(body));
        if self.code == Code::Unauthorized {
            super::set_header(&mut response, "www-authenticate", "Bearer");
        }
        if let Some(seconds) = self.retry_after {
            super::set_header(&mut response, "retry-after", seconds);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let mut out = match &e {
            StoreError::Contended(_) => {
                tracing::warn!(error = %e, "gave up on a contended write");
                ApiError::contended()
            }
            StoreError::Transient(_) => ApiError {
                transient: true,
                ..ApiError::contended()
            },
            // A shape error can quote stored values, which may be patient data: log only its kind.
            StoreError::Corrupt(_) => {
                tracing::error!(kind = "corrupt_item", "stored item could not be read");
                ApiError::internal()
            }
            // DynamoDB refused a request for good (a validation or access error, a transaction
            // cancelled for such a reason): a defect, not a condition to retry.
            StoreError::Dynamo(_) => {
                tracing::error!(error = %crate::store::chain(&e), "store request refused");
                ApiError::internal()
            }
        };
        out.source = Some(Arc::new(e));
        out
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> ApiError {
        let code = match e {
            BookingError::SlotNotFound => return ApiError::not_found("slot"),
            BookingError::TypeNotFound => return ApiError::not_found("appointment type"),
            BookingError::Inadmissible(why) => return why.into(),
            BookingError::Rule(broken) => return broken.into(),
            BookingError::Store(s) => return s.into(),
            BookingError::PatientConflict(_) => Code::PatientConflict,
            BookingError::TooManyAppointments(_) => Code::TooManyAppointments,
            BookingError::TooManyHolds(_) => Code::TooManyHolds,
            BookingError::HoldNotFound => return ApiError::not_found("hold"),
            BookingError::HoldExpired => Code::HoldExpired,
            BookingError::HoldEnded(_) => Code::HoldEnded,
            BookingError::IdempotencyMismatch => Code::IdempotencyKeyReused,
            BookingError::NotOwnSlot => Code::Forbidden,
            BookingError::Refused(r) => return r.into(),
        };
        ApiError::new(code, e.to_string())
    }
}

fn inadmissible_code(e: &Inadmissible) -> Code {
    match e {
        Inadmissible::SlotFull => Code::SlotFull,
        Inadmissible::SlotUnavailable(_) => Code::SlotUnavailable,
        Inadmissible::TypeInactive => Code::AppointmentTypeInactive,
        Inadmissible::TypeNotAllowed | Inadmissible::TypeRequired(_) => {
            Code::AppointmentTypeNotAllowed
        }
        Inadmissible::ConsultationNotOffered => Code::ConsultationTypeNotOffered,
        Inadmissible::SlotTooShort { .. } => Code::SlotTooShort,
        // A slot of a long visit's run: what refused it, that slot named.
        Inadmissible::InRun(_, inner) => inadmissible_code(inner),
    }
}

impl From<Inadmissible> for ApiError {
    fn from(e: Inadmissible) -> ApiError {
        let code = inadmissible_code(&e);
        match e {
            Inadmissible::SlotUnavailable(why) => ApiError::new(code, why),
            _ => ApiError::new(code, e.to_string()),
        }
    }
}

impl From<crate::domain::settings::Broken> for ApiError {
    fn from(e: crate::domain::settings::Broken) -> ApiError {
        use crate::domain::settings::Broken;
        let code = match e {
            Broken::TooLate { .. } => Code::TooLateToBook,
            Broken::TooFarAhead { .. } => Code::TooFarAhead,
            Broken::DailyLimit { .. } => Code::DailyLimitReached,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<SlotError> for ApiError {
    fn from(e: SlotError) -> ApiError {
        match e {
            SlotError::Overlap(ids) => ApiError::new(
                Code::SlotOverlap,
                format!("overlaps the provider's slot(s) {}", ids.join(", ")),
            ),
            SlotError::Taken(t) => ApiError::new(Code::ResourceConflict, t.to_string()),
            SlotError::Store(s) => s.into(),
        }
    }
}

impl From<SeriesError> for ApiError {
    fn from(e: SeriesError) -> ApiError {
        match e {
            SeriesError::Booking(b) => b.into(),
            // `count` is checked to be 2 to 26 before: only `until` can ask for too many or too few.
            SeriesError::Dates(d) => ApiError::field("until", d.to_string()),
            SeriesError::Unavailable(_) => ApiError::new(Code::SeriesUnavailable, e.to_string()),
            SeriesError::TooLarge { .. } => ApiError::new(Code::SeriesTooLarge, e.to_string()),
        }
    }
}

impl From<WaitlistError> for ApiError {
    fn from(e: WaitlistError) -> ApiError {
        let code = match e {
            WaitlistError::NotFound => return ApiError::not_found("waitlist entry"),
            WaitlistError::TypeNotFound => return ApiError::not_found("appointment type"),
            WaitlistError::NotAllowed(why) => return ApiError::forbidden(why),
            WaitlistError::Booking(b) => return b.into(),
            WaitlistError::Store(s) => return s.into(),
            WaitlistError::TypeInactive => Code::AppointmentTypeInactive,
            WaitlistError::AlreadyWaiting(_) => Code::AlreadyWaiting,
            WaitlistError::NoOffer => Code::NoOffer,
            WaitlistError::OfferExpired => Code::OfferExpired,
            WaitlistError::Closed(_) => Code::WaitlistEntryClosed,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::NotFound => ApiError::not_found("appointment"),
            Refusal::Forbidden => {
                ApiError::forbidden("this role may not do that to this appointment")
            }
            Refusal::InvalidTransition { from, action } => ApiError::new(
                Code::InvalidTransition,
                format!(
                    "a {} appointment cannot be {}",
                    from.as_str(),
                    action.rule().verb
                ),
            ),
            Refusal::CheckInWindow { opens, closes } => ApiError::new(
                Code::CheckInWindow,
                format!("check-in is open from {opens} to {closes}"),
            ),
            Refusal::NotOverYet { ends } => ApiError::new(
                Code::AppointmentNotOver,
                format!("a no-show can be recorded from {ends}"),
            ),
            Refusal::AlreadyOver { ended } => ApiError::new(
                Code::AppointmentOver,
                format!("the appointment ended at {ended}: the provider completes it or records a no-show; staff can still cancel it"),
            ),
        }
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        match e {
            ChangeError::Refused(r) => r.into(),
            ChangeError::Store(s) => s.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_name_and_a_client_error_or_a_retryable_status() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len(), "names are unique");
        for c in Code::ALL {
            assert!(
                (400..500).contains(&c.status()) || *c == Code::Contended || *c == Code::Internal,
                "{c:?}: no 5xx but 503 contended (retry) and 500 internal (a defect)"
            );
            assert!(c
                .as_str()
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_'));
        }
    }
}
