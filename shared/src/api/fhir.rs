//! FHIR R4 read: `GET /fhir/Appointment/{id}`, `GET /fhir/Slot?schedule=Schedule/{providerId}&start=ge..
//! &start=lt..`, `GET /fhir/Schedule/{id}`, `GET /fhir/metadata`. The same authorization as the native
//! endpoints; every answer `application/fhir+json`, errors as an OperationOutcome with the HTTP status
//! the native API would give.

use std::future::Future;

use jiff::SignedDuration;
use lambda_http::{Body, RequestExt, Response};
use serde_json::Value;

use super::{base_url, caller, path_id, ApiError, Ctx, Reply, Request, BOUND};
use crate::domain::fhir::{self, MEDIA_TYPE};
use crate::domain::{AppointmentId, ProviderId, UtcTime};

/// The widest Slot search: a month of a provider's slots (at most 31 x 96) in one Bundle.
const MAX_SPAN: SignedDuration = SignedDuration::from_hours(24 * 31);

fn fhir_json(status: u16, value: &Value) -> Response<Body> {
    super::respond(status, MEDIA_TYPE, Body::Text(value.to_string()))
}

/// Runs a FHIR handler; its refusal, whatever it is (401 for a missing caller included), becomes an
/// OperationOutcome with the same status.
pub(super) async fn answered(work: impl Future<Output = Result<Value, ApiError>>) -> Reply {
    match work.await {
        Ok(resource) => Ok(fhir_json(200, &resource)),
        Err(e) => {
            let mut text = e.detail.clone();
            for f in &e.errors {
                text.push_str(&format!("; {}: {}", f.field, f.message));
            }
            let mut response = fhir_json(
                e.status(),
                &fhir::operation_outcome(fhir::issue_code(e.status()), &text),
            );
            if e.status() == 401 {
                super::set_header(&mut response, "www-authenticate", "Bearer");
            }
            if let Some(seconds) = e.retry_after {
                super::set_header(&mut response, "retry-after", seconds);
            }
            Ok(response)
        }
    }
}

/// `GET /fhir/Appointment/{id}`: one GetItem; as `GET /appointments/{id}`, someone who may not see it
/// is told it does not exist.
pub async fn appointment(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        let who = caller(ctx, &req)?;
        let id: AppointmentId = path_id(&req, "id")?;
        let a = ctx
            .store
            .appointment(id)
            .await?
            .filter(|a| who.may_read(a.patient_id, a.provider_id))
            .ok_or_else(|| ApiError::not_found("Appointment"))?;
        Ok(fhir::appointment(&a))
    })
    .await
}

/// `GET /fhir/Schedule/{id}`: a provider the service knows (a profile or a slot) as a Schedule.
pub async fn schedule(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        let provider: ProviderId = path_id(&req, "id")?;
        let zone = ctx.store.provider_time_zone(provider).await?;
        if zone.is_none() && !ctx.store.has_slots(provider).await? {
            return Err(ApiError::not_found("Schedule"));
        }
        Ok(fhir::schedule(provider, zone.as_deref()))
    })
    .await
}

/// `GET /fhir/Practitioner/{id}`: a provider's directory profile as a Practitioner (anyone signed in).
pub async fn practitioner(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        let provider: ProviderId = path_id(&req, "id")?;
        let entry = ctx
            .store
            .provider_entry(provider)
            .await?
            .ok_or_else(|| ApiError::not_found("Practitioner"))?;
        Ok(fhir::practitioner(provider, &entry.profile))
    })
    .await
}

/// `GET /fhir/HealthcareService/{id}`: an appointment type as a HealthcareService (anyone signed in).
pub async fn healthcare_service(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        let id: uuid::Uuid = path_id(&req, "id")?;
        let found = ctx
            .store
            .appointment_type(id)
            .await?
            .ok_or_else(|| ApiError::not_found("HealthcareService"))?;
        Ok(fhir::healthcare_service(&found))
    })
    .await
}

/// `GET /fhir/PractitionerRole?specialty=[system|]code&practitioner=Practitioner/<id>&_count`: a
/// searchset Bundle of the active providers' roles from the directory (anyone signed in): one
/// provider's with `practitioner` (one GetItem), else one page of the directory by specialty (one
/// Query; without `specialty`, the whole directory's first page).
pub async fn practitioner_roles(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        let params = req.query_string_parameters();
        let mut errors = vec![];
        let mut fail = |field: &str, message: &str| {
            errors.push(super::FieldError {
                field: field.into(),
                message: message.into(),
            })
        };
        let specialty = params.first("specialty").map(|token| {
            // A token is `[system|]code`; the system is not compared.
            token.rsplit('|').next().unwrap_or_default().to_owned()
        });
        if specialty
            .as_deref()
            .is_some_and(|c| !crate::domain::profile::is_code(c))
        {
            fail("specialty", "must be a specialty code: [system|]code");
        }
        let practitioner = params.first("practitioner").map(|r| {
            r.strip_prefix("Practitioner/")
                .unwrap_or(r)
                .parse::<ProviderId>()
                .ok()
        });
        if matches!(practitioner, Some(None)) {
            fail("practitioner", "must be Practitioner/<providerId>");
        }
        let count = match params.first("_count") {
            None => Some(50),
            Some(c) => c.parse::<i32>().ok().filter(|c| (1..=100).contains(c)),
        };
        if count.is_none() {
            fail("_count", "must be a whole number from 1 to 100");
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        let listings: Vec<crate::store::directory::Listing> = match practitioner.flatten() {
            Some(provider) => ctx
                .store
                .provider_entry(provider)
                .await?
                .filter(|e| e.profile.active)
                .map(|e| crate::store::directory::Listing::of(provider, &e.profile))
                .into_iter()
                .filter(|l| {
                    specialty
                        .as_deref()
                        .is_none_or(|c| l.specialties.iter().any(|s| s.code == c))
                })
                .collect(),
            None => {
                let query = crate::store::directory::DirectoryQuery {
                    specialty,
                    ..Default::default()
                };
                ctx.store
                    .directory(&query, count.unwrap_or(50), None)
                    .await?
                    .items
            }
        };
        Ok(searchset(
            listings.iter().map(fhir::practitioner_role).collect(),
            &req,
        ))
    })
    .await
}

/// `GET /fhir/metadata`: the CapabilityStatement.
pub async fn metadata(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        Ok(fhir::capability_statement(&base_url(&req), ctx.now()))
    })
    .await
}

/// `GET /fhir/Slot?schedule=Schedule/{providerId}&start=ge{instant}&start=lt{instant}&status=...`: a
/// searchset Bundle of the provider's slots that start in the range (at most 31 days), by start. One
/// Query per page of slots.
pub async fn slots(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        let params = req.query_string_parameters();
        let mut errors = vec![];
        let schedule = params.first("schedule").unwrap_or_default();
        let provider: Option<ProviderId> = schedule
            .strip_prefix("Schedule/")
            .and_then(|id| id.parse().ok());
        if provider.is_none() {
            errors.push(super::FieldError {
                field: "schedule".into(),
                message: "is required: Schedule/<providerId>".into(),
            });
        }
        let (mut from, mut to): (Option<UtcTime>, Option<UtcTime>) = (None, None);
        for value in params.all("start").unwrap_or_default() {
            let parsed = |v: &str| v.parse::<super::Bound>().map_err(|_| BOUND.to_owned());
            match (value.get(..2), value.get(2..)) {
                (Some("ge"), Some(v)) => match parsed(v) {
                    Ok(b) => from = Some(b.start()),
                    Err(m) => errors.push(super::FieldError {
                        field: "start".into(),
                        message: m,
                    }),
                },
                (Some("lt"), Some(v)) => match parsed(v) {
                    Ok(b) => to = Some(b.start()),
                    Err(m) => errors.push(super::FieldError {
                        field: "start".into(),
                        message: m,
                    }),
                },
                _ => errors.push(super::FieldError {
                    field: "start".into(),
                    message: "takes ge<date or instant> and lt<date or instant>".into(),
                }),
            }
        }
        let status = params.first("status").map(str::to_owned);
        let statuses = ["free", "busy", "busy-unavailable", "entered-in-error"];
        if status.as_deref().is_some_and(|s| !statuses.contains(&s)) {
            errors.push(super::FieldError {
                field: "status".into(),
                message: "must be free, busy, busy-unavailable or entered-in-error".into(),
            });
        }
        let range = match (from, to) {
            (Some(f), Some(t)) if t <= f => Err("start=lt must be after start=ge"),
            (Some(f), Some(t)) if t.timestamp().duration_since(f.timestamp()) > MAX_SPAN => {
                Err("at most 31 days between start=ge and start=lt")
            }
            (Some(f), Some(t)) => Ok((f, t)),
            _ => Err("takes both start=ge<date or instant> and start=lt<date or instant>"),
        };
        if let Err(m) = range {
            errors.push(super::FieldError {
                field: "start".into(),
                message: m.into(),
            });
        }
        let (Some(provider), Ok((from, to)), true) = (provider, range, errors.is_empty()) else {
            return Err(ApiError::invalid(errors));
        };
        let found = ctx.store.slots_between(provider, from, to).await?;
        let resources: Vec<Value> = found
            .iter()
            .map(fhir::slot)
            .filter(|s| status.as_deref().is_none_or(|want| s["status"] == want))
            .collect();
        Ok(searchset(resources, &req))
    })
    .await
}

/// A searchset Bundle of `resources` found by `req` (its own URL as the `self` link).
pub(super) fn searchset(resources: Vec<Value>, req: &Request) -> Value {
    let self_url = format!(
        "{}{}{}",
        base_url(req),
        req.uri().path(),
        req.uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    fhir::searchset(resources, &self_url, &base_url(req))
}
