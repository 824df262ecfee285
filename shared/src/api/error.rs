//! Problem details (RFC 9457) with a stable `code` per failure.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::admission::Inadmissible;
use crate::store::booking::BookingError;
use crate::store::slots::SlotError;
use crate::store::StoreError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds for the `Retry-After` header of a 503.
    pub retry_after: Option<u32>,
    /// The store asked for a retry that has not been made yet (see [`crate::store::retry`]).
    transient: bool,
}

impl crate::store::retry::Transient for ApiError {
    fn is_transient(&self) -> bool {
        self.transient
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            errors: vec![],
            retry_after: None,
            transient: false,
        }
    }

    pub fn invalid(errors: Vec<FieldError>) -> ApiError {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("invalid: {}", fields.join(", "));
        ApiError {
            errors,
            ..Self::new(400, "validation_failed", detail)
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        Self::invalid(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        Self::new(401, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        Self::new(403, "forbidden", detail)
    }

    pub fn not_found(what: &str) -> ApiError {
        Self::new(404, "not_found", format!("{what} not found"))
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
        Self::new(409, code, detail)
    }

    /// 503 `contended`: a transient condition (contention, throttling) outlasted the retries; the
    /// client should retry after `Retry-After` seconds (DESIGN.md section 5).
    pub fn contended() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..Self::new(
                503,
                "contended",
                "the schedule is busy with other requests right now; retry after the Retry-After seconds",
            )
        }
    }

    fn title(&self) -> &'static str {
        match self.status {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Content",
            503 => "Service Unavailable",
            _ => "Error",
        }
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
            r#type: format!("/problems/{}", self.code),
            title: self.title(),
            status: self.status,
            detail: &self.detail,
            code: self.code,
            errors: &self.errors,
        };
        let body = serde_json::to_string(&problem).expect("a problem serializes");
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", "application/problem+json");
        if self.status == 401 {
            builder = builder.header("www-authenticate", "Bearer");
        }
        if let Some(seconds) = self.retry_after {
            builder = builder.header("retry-after", seconds.to_string());
        }
        builder.body(Body::Text(body)).expect("a valid response")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match &e {
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
                ApiError::new(
                    503,
                    "store_unavailable",
                    "the appointment store could not serve this request",
                )
            }
            StoreError::Dynamo(_) => {
                tracing::error!(error = %e, "store request failed");
                ApiError::new(
                    503,
                    "store_unavailable",
                    "the appointment store could not serve this request",
                )
            }
        }
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> ApiError {
        match e {
            BookingError::SlotNotFound => ApiError::not_found("slot"),
            BookingError::Inadmissible(why) => why.into(),
            BookingError::PatientConflict(_) => {
                ApiError::conflict("patient_conflict", e.to_string())
            }
            BookingError::TooManyAppointments(_) => {
                ApiError::conflict("too_many_appointments", e.to_string())
            }
            BookingError::IdempotencyMismatch => {
                ApiError::new(422, "idempotency_key_reused", e.to_string())
            }
            BookingError::TypeNotFound => ApiError::not_found("appointment type"),
            BookingError::NotOwnSlot => ApiError::forbidden(e.to_string()),
            BookingError::Store(s) => s.into(),
        }
    }
}

impl From<Inadmissible> for ApiError {
    fn from(e: Inadmissible) -> ApiError {
        let code = match e {
            Inadmissible::SlotFull => "slot_full",
            Inadmissible::SlotUnavailable(_) => "slot_unavailable",
            Inadmissible::TypeInactive => "appointment_type_inactive",
            Inadmissible::TypeNotAllowed => "appointment_type_not_allowed",
            Inadmissible::ConsultationNotOffered => "consultation_type_not_offered",
        };
        match e {
            Inadmissible::SlotUnavailable(why) => ApiError::conflict(code, why),
            _ => ApiError::conflict(code, e.to_string()),
        }
    }
}

impl From<SlotError> for ApiError {
    fn from(e: SlotError) -> ApiError {
        match e {
            SlotError::Overlap(ids) => ApiError::conflict(
                "slot_overlap",
                format!("overlaps the provider's slot(s) {}", ids.join(", ")),
            ),
            SlotError::Store(s) => s.into(),
        }
    }
}
