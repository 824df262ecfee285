//! Problem details (RFC 9457) with a stable `code` per failure.

use lambda_http::{Body, Response};
use serde::Serialize;

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
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            errors: vec![],
        }
    }

    pub fn invalid(errors: Vec<FieldError>) -> ApiError {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        ApiError {
            status: 400,
            code: "validation_failed",
            detail: format!("invalid: {}", fields.join(", ")),
            errors,
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
        builder.body(Body::Text(body)).expect("a valid response")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match &e {
            StoreError::Contended(_) => {
                tracing::warn!(error = %e, "gave up on a contended write");
                ApiError::conflict(
                    "concurrent_update",
                    "the resource is being changed by other requests; retry",
                )
            }
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
            BookingError::SlotFull => ApiError::conflict("slot_full", e.to_string()),
            BookingError::SlotUnavailable(why) => ApiError::conflict("slot_unavailable", why),
            BookingError::PatientConflict(_) => {
                ApiError::conflict("patient_conflict", e.to_string())
            }
            BookingError::IdempotencyMismatch => {
                ApiError::new(422, "idempotency_key_reused", e.to_string())
            }
            BookingError::TypeNotFound => ApiError::not_found("appointment type"),
            BookingError::TypeInactive => {
                ApiError::conflict("appointment_type_inactive", e.to_string())
            }
            BookingError::TypeNotAllowed => {
                ApiError::conflict("appointment_type_not_allowed", e.to_string())
            }
            BookingError::ConsultationNotOffered => {
                ApiError::conflict("consultation_type_not_offered", e.to_string())
            }
            BookingError::Store(s) => s.into(),
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
