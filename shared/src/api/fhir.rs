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
use crate::store::keys::Range;

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
                &fhir::operation_outcome(fhir::issue_code(e.status()), e.code.as_str(), &text),
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
/// is told it does not exist. An id `$find` proposed resolves (a second GetItem, only when no
/// appointment has it) to its `proposed` Appointment while the proposal lasts.
pub async fn appointment(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        let who = caller(ctx, &req)?;
        let id: AppointmentId = path_id(&req, "id")?;
        if let Some(a) = ctx.store.appointment(id).await? {
            if who.may_read(a.patient_id, a.provider_id) {
                return Ok(fhir::appointment(&a));
            }
            return Err(ApiError::not_found("Appointment"));
        }
        if let Some(proposal) = visible_proposal(ctx, &who, id.uuid(), ctx.now()).await? {
            return Ok(fhir::proposed_appointment(&proposal));
        }
        // A held seat ($hold): a third GetItem, only when the id is neither.
        let held = ctx
            .store
            .hold(crate::domain::HoldId::from_uuid(id.uuid()))
            .await?
            .filter(|h| h.may_be_seen_by(&who))
            .ok_or_else(|| ApiError::not_found("Appointment"))?;
        Ok(fhir::held_appointment(&held))
    })
    .await
}

/// A `$find` proposal that still resolves, if `who` may see it (one for another patient does not exist
/// for them).
async fn visible_proposal(
    ctx: &Ctx,
    who: &crate::domain::access::Caller,
    id: uuid::Uuid,
    now: crate::domain::UtcTime,
) -> Result<Option<crate::store::search::Proposal>, ApiError> {
    Ok(ctx.store.proposal(id, now).await?.filter(|p| {
        p.patient_id
            .is_none_or(|patient| who.may_act_for_patient(patient))
    }))
}

/// The seat a `$hold` or `$book` names, whatever the Parameters named it by: a `$find` proposal
/// (another patient's does not exist for the caller), or an Appointment resource's slot.
struct Seat {
    slot_id: crate::domain::SlotId,
    patient_id: crate::domain::PatientId,
    appointment_type_id: Option<uuid::Uuid>,
}

/// The Appointment the request's Parameters names ([`fhir::named_in`]).
fn named(req: &Request) -> Result<fhir::Named, ApiError> {
    fhir::named_in(req.body().as_ref()).map_err(|m| ApiError::field("appointment-reference", m))
}

/// The patient a seat is for: the one named (by the proposal or the resource), else the caller if a
/// patient; the caller must act for them.
fn patient_for(
    who: &crate::domain::access::Caller,
    named: Option<crate::domain::PatientId>,
) -> Result<crate::domain::PatientId, ApiError> {
    let patient = match named {
        Some(patient) => patient,
        None if who.has(crate::domain::Role::Patient) => {
            crate::domain::PatientId::from_uuid(who.id)
        }
        None => {
            return Err(ApiError::field(
                "appointment-reference",
                "names a seat for nobody: $find with patient, or a Patient participant",
            ))
        }
    };
    super::for_patient(who, patient, "hold or book")?;
    Ok(patient)
}

/// The seat `named` asks for: a proposal's (by id) or a resource's.
async fn seat(
    ctx: &Ctx,
    who: &crate::domain::access::Caller,
    named: fhir::Named,
    now: crate::domain::UtcTime,
) -> Result<Seat, ApiError> {
    match named {
        fhir::Named::Id(id) => {
            let p = visible_proposal(ctx, who, id, now)
                .await?
                .ok_or_else(|| ApiError::not_found("Appointment"))?;
            Ok(Seat {
                slot_id: p.slot_id,
                patient_id: patient_for(who, p.patient_id)?,
                appointment_type_id: p.appointment_type_id,
            })
        }
        fhir::Named::Seat {
            slot,
            patient,
            service_type,
        } => Ok(Seat {
            slot_id: slot,
            patient_id: patient_for(who, patient)?,
            appointment_type_id: service_type,
        }),
    }
}

/// `POST /fhir/Appointment/$hold` (IHE ITI-116, https://build.fhir.org/ig/IHE/ITI.Scheduling/OperationDefinition-appointment-hold.html):
/// the seat a `$find` proposal names held for its patient exactly as `POST /holds` holds it, answered
/// as the Appointment `pending` (its id the hold's). A seat no longer free is an OperationOutcome with
/// the native code (`slot_full`, ...); a proposal that no longer resolves is `not-found`.
pub async fn hold(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        let who = caller(ctx, &req)?;
        let now = ctx.now();
        let seat = seat(ctx, &who, named(&req)?, now).await?;
        let asked = crate::store::holds::NewHold {
            caller: who.id,
            slot_id: seat.slot_id,
            patient_id: seat.patient_id,
            appointment_type_id: seat.appointment_type_id,
            consultation_type: None,
            ttl: ctx.config.hold_ttl,
            max_holds: ctx.config.max_holds_per_patient,
            max_active: ctx.config.max_active_per_patient,
        };
        let held = ctx.store.create_hold(&asked, now).await?;
        tracing::info!(hold_id = %held.id, slot_id = %held.slot_id, "seat held ($hold)");
        crate::metrics::count("HoldsCreated", 1);
        Ok(fhir::held_appointment(&held))
    })
    .await
}

/// `POST /fhir/Appointment/$book` (IHE ITI-117, https://build.fhir.org/ig/IHE/ITI.Scheduling/OperationDefinition-appointment-book.html):
/// the Appointment a `$hold` held (booked with the hold, as `POST /appointments {holdId}`) or a `$find`
/// proposed (booked as `POST /appointments`), answered in a searchset Bundle: `booked`, or `pending`
/// for a type that requires confirmation. A hold booked before answers its appointment again.
pub async fn book(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        let who = caller(ctx, &req)?;
        let now = ctx.now();
        let named = named(&req)?;
        // A held Appointment ($hold's id) is booked with its hold; anything else names a seat.
        let held = match &named {
            fhir::Named::Id(id) => ctx
                .store
                .hold(crate::domain::HoldId::from_uuid(*id))
                .await?
                .filter(|h| h.may_be_seen_by(&who)),
            fhir::Named::Seat { .. } => None,
        };
        let (seat, hold_id) = match held {
            Some(h) => {
                let seat = Seat {
                    slot_id: h.slot_id,
                    patient_id: h.patient_id,
                    appointment_type_id: h.appointment_type_id,
                };
                (seat, Some(h.id))
            }
            None => (seat(ctx, &who, named, now).await?, None),
        };
        super::for_patient(&who, seat.patient_id, "book")?;
        let (slot_id, patient_id, appointment_type_id) =
            (seat.slot_id, seat.patient_id, seat.appointment_type_id);
        let booking = crate::store::booking::NewBooking {
            caller: who.id,
            idempotency_key: None,
            slot_id,
            patient_id,
            consultation_type: None,
            appointment_type_id,
            overbook: false,
            reason_for_visit: None,
            symptoms: vec![],
            chief_complaint: None,
            max_active: ctx.config.max_active_per_patient,
            hold_id,
        };
        let booked = match ctx.store.book(&booking, now).await? {
            crate::store::booking::Booked::New(a) | crate::store::booking::Booked::Replayed(a) => a,
        };
        tracing::info!(appointment_id = %booked.id, slot_id = %booked.slot_id, "appointment booked ($book)");
        Ok(searchset(vec![fhir::appointment(&booked)], &req))
    })
    .await
}

/// Which cross-provider FHIR search a request is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    /// `GET /fhir/Slot` without `schedule`.
    SlotSearch,
    /// `Appointment/$find` (IHE ITI-115).
    Find,
}

/// A token's code (`[system|]code`).
fn token_code(token: &str) -> &str {
    token.rsplit('|').next().unwrap_or_default()
}

/// An appointment type named by a token: its id, `urn:uuid:<id>` or `HealthcareService/<id>`.
fn service_type(token: &str) -> Option<uuid::Uuid> {
    let code = token_code(token);
    let id = code
        .strip_prefix("urn:uuid:")
        .or_else(|| code.strip_prefix("HealthcareService/"))
        .unwrap_or(code);
    id.parse().ok()
}

/// What a cross-provider FHIR search asks, from its parameters as (name, value) pairs (the query
/// string's, or a Parameters resource's): the same search as `GET /slots/search`.
fn fhir_search(
    ctx: &Ctx,
    who: &crate::domain::access::Caller,
    pairs: &[(String, String)],
    op: Operation,
) -> Result<super::search::Search, ApiError> {
    use crate::domain::search::{window, Edge, Wanted};
    let mut errors = vec![];
    let mut fail = |field: &str, message: &str| {
        errors.push(super::FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    let all = |name: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let first = |name: &str| all(name).first().copied();
    let appointment_type = first("service-type").map(service_type);
    if matches!(appointment_type, Some(None)) {
        fail(
            "service-type",
            "must name an appointment type: [system|]<id>, urn:uuid:<id> or HealthcareService/<id>",
        );
    }
    let specialty = first("specialty").map(|t| token_code(t).to_owned());
    if specialty
        .as_deref()
        .is_some_and(|c| !crate::domain::profile::is_code(c))
    {
        fail("specialty", "must be a specialty code: [system|]code");
    }
    let mut providers = vec![];
    for r in all("practitioner") {
        match r
            .strip_prefix("Practitioner/")
            .unwrap_or(r)
            .parse::<ProviderId>()
        {
            Ok(p) => providers.push(p),
            Err(_) => fail("practitioner", "must be Practitioner/<providerId>"),
        }
    }
    if providers.len() > crate::domain::search::MAX_PROVIDERS {
        fail("practitioner", "may be given at most 20 times");
    }
    let location = first("location").map(|l| l.strip_prefix("Location/").unwrap_or(l).to_owned());
    if location
        .as_deref()
        .is_some_and(|l| l.is_empty() || l.chars().count() > 100)
    {
        fail("location", "must be Location/<id> (1 to 100 characters)");
    }
    let patient = first("patient").map(|r| {
        r.strip_prefix("Patient/")
            .unwrap_or(r)
            .parse::<crate::domain::PatientId>()
            .ok()
    });
    if matches!(patient, Some(None)) {
        fail("patient", "must be Patient/<id>");
    }
    if first("visit-type").is_some() {
        fail(
            "visit-type",
            "is not supported: name the appointment type with service-type",
        );
    }
    let limit = match first("_count") {
        None => 10,
        Some(c) => match c.parse::<usize>() {
            Ok(n) if (1..=super::search::MAX_LIMIT).contains(&n) => n,
            _ => {
                fail("_count", "must be a whole number from 1 to 25");
                10
            }
        },
    };
    let edge = |v: &str| v.parse::<Edge>().ok();
    let (mut from, mut to) = (None, None);
    match op {
        Operation::Find => {
            for (name, slot) in [("start", &mut from), ("end", &mut to)] {
                if let Some(v) = first(name) {
                    match edge(v) {
                        Some(e) => *slot = Some(e),
                        None => fail(name, crate::domain::search::EDGE),
                    }
                }
            }
        }
        Operation::SlotSearch => {
            for value in all("start") {
                match (value.get(..2), value.get(2..).and_then(edge)) {
                    (Some("ge"), Some(e)) => from = Some(e),
                    (Some("lt"), Some(e)) => to = Some(e),
                    _ => fail("start", "takes ge<date or instant> and lt<date or instant>"),
                }
            }
            if first("status").is_some_and(|s| s != "free") {
                fail(
                    "status",
                    "across providers (without schedule), only free slots are searched",
                );
            }
        }
    }
    // Dates are UTC days here: FHIR has no zone parameter; an instant may carry its offset.
    let window = window(from, to, &jiff::tz::TimeZone::UTC, ctx.now());
    if let Err((field, message)) = window {
        let field = match (op, field) {
            (Operation::Find, "from") => "start",
            (Operation::Find, _) => "end",
            (Operation::SlotSearch, _) => "start",
        };
        fail(field, message);
    }
    let scope = super::search::scope(
        &pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect::<Vec<_>>(),
    );
    let after = first("_cursor").map(|c| ctx.store.cursors.open_position(c, &scope));
    if matches!(after, Some(Err(_))) {
        fail("_cursor", "is not a cursor of this search");
    }
    let (Ok((from, to)), true) = (window, errors.is_empty()) else {
        return Err(ApiError::invalid(errors));
    };
    let patient = super::search::searcher(who, patient.flatten())?;
    Ok(super::search::Search {
        wanted: Wanted {
            appointment_type: appointment_type.flatten(),
            consultation: None,
            location,
            language: None,
            region: None,
            specialty,
            providers,
        },
        from,
        to,
        display: None,
        limit,
        patient,
        after: after.and_then(Result::ok),
        scope,
    })
}

/// The URL of the next page: the request's, its `_cursor` replaced (for a POST, the same search as a
/// GET with its parameters).
fn next_url(req: &Request, pairs: &[(String, String)], cursor: &str) -> String {
    let mut query: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "_cursor")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    query.push(format!("_cursor={cursor}"));
    format!("{}{}?{}", base_url(req), req.uri().path(), query.join("&"))
}

/// Percent-encodes a query string component (RFC 3986's unreserved characters stay).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A cross-provider search's Bundle: free Slots, or `$find`'s proposed Appointments (kept so that
/// each id resolves for an hour).
async fn across_providers(
    ctx: &Ctx,
    req: &Request,
    who: &crate::domain::access::Caller,
    op: Operation,
) -> Result<Value, ApiError> {
    let pairs: Vec<(String, String)> = match (op, req.method().as_str()) {
        (Operation::Find, "POST") => parameters(req)?,
        _ => req
            .query_string_parameters()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    let search = fhir_search(ctx, who, &pairs, op)?;
    let found = super::search::find(ctx, &search).await?;
    let resources: Vec<Value> = match op {
        Operation::SlotSearch => found.hits.iter().map(|h| fhir::slot(&h.slot)).collect(),
        Operation::Find => {
            let now = ctx.now();
            let proposals: Vec<crate::store::search::Proposal> = found
                .hits
                .iter()
                .map(|h| crate::store::search::Proposal {
                    id: uuid::Uuid::new_v4(),
                    slot_id: h.slot.id,
                    slot_ids: h.run.iter().map(|s| s.id).collect(),
                    provider_id: h.slot.provider_id,
                    provider_name: h.profile.display_name.clone(),
                    start_time: h.slot.start_time,
                    end_time: h.end(),
                    appointment_type_id: search.wanted.appointment_type,
                    patient_id: search.patient,
                    created_at: now,
                    expires: now.plus(crate::store::search::PROPOSAL_TTL),
                })
                .collect();
            ctx.store.put_proposals(&proposals).await?;
            proposals.iter().map(fhir::proposed_appointment).collect()
        }
    };
    let next = found.next.map(|c| next_url(req, &pairs, &c));
    Ok(fhir::continued(searchset(resources, req), next))
}

/// A `$find` POST body: a Parameters resource ([`parameter_pairs`]).
fn parameters(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    parameter_pairs(bytes).map_err(|m| ApiError::field("body", m))
}

/// A Parameters resource's parameters as (name, value) pairs, each value as text (a Coding's or
/// CodeableConcept's first code, a Reference's reference, a primitive as written). A POST without a
/// body is refused (a search of nothing in particular sends a Parameters without parameters, or GETs).
/// `Err` says what is wrong.
pub fn parameter_pairs(body: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
    const NOT: &str = "must be a FHIR Parameters resource (JSON)";
    const VALUE: &str =
        "a parameter's value must be a primitive, a Coding, a CodeableConcept or a Reference";
    let body: Value = serde_json::from_slice(body).map_err(|_| NOT)?;
    if body["resourceType"] != "Parameters" {
        return Err(NOT);
    }
    let list = match &body["parameter"] {
        Value::Null => return Ok(vec![]),
        Value::Array(list) if list.len() <= 50 => list,
        _ => return Err("parameter must be a list of at most 50"),
    };
    let mut out = vec![];
    for p in list {
        let name = p["name"].as_str().ok_or("every parameter needs a name")?;
        let value = p
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.starts_with("value")))
            .map(|(_, v)| v)
            .ok_or("every parameter needs a value[x]")?;
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Object(o) => {
                let coding = o.get("coding").and_then(|c| c.get(0)).unwrap_or(value);
                match (
                    coding.get("code").and_then(Value::as_str),
                    o.get("reference").and_then(Value::as_str),
                ) {
                    (Some(code), _) => code.to_owned(),
                    (None, Some(r)) => r.to_owned(),
                    (None, None) => return Err(VALUE),
                }
            }
            _ => return Err(VALUE),
        };
        out.push((name.to_owned(), text));
    }
    Ok(out)
}

/// `Appointment/$find` (IHE ITI-115, https://build.fhir.org/ig/IHE/ITI.Scheduling/OperationDefinition-appointment-find.html),
/// GET with query parameters or POST with a Parameters resource: a searchset Bundle of `proposed`
/// Appointments, the earliest seats that match, each resolvable by `GET /fhir/Appointment/{id}` for
/// an hour. Supported: `start`, `end`, `service-type`, `specialty`, `practitioner` (repeated),
/// `location`, `patient`, `_count`; not `visit-type` (refused, so nobody mistakes it for applied).
pub async fn find(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        let who = caller(ctx, &req)?;
        across_providers(ctx, &req, &who, Operation::Find).await
    })
    .await
}

/// `GET /fhir/Location/{id}`: a location as an R4 Location (anyone signed in). One GetItem.
pub async fn location(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        let id: uuid::Uuid = path_id(&req, "id")?;
        let found = ctx
            .store
            .location(id)
            .await?
            .ok_or_else(|| ApiError::not_found("Location"))?;
        Ok(fhir::location(&found))
    })
    .await
}

/// `GET /fhir/Location?name=&address-city=&status=&_count=`: locations by name whose name and city start
/// with what is asked (ignoring case), active or inactive: a searchset Bundle of the first `_count`. A
/// clinic has tens of locations: at most 10 pages of 100 are read and matched here.
pub async fn locations(ctx: &Ctx, req: Request) -> Reply {
    answered(async {
        caller(ctx, &req)?;
        let params = req.query_string_parameters();
        let mut q = super::Query::of(&req);
        let name = q.text("name").map(|n| n.to_lowercase());
        let city = q.text("address-city").map(|c| c.to_lowercase());
        let status = q.text("status");
        let count: i32 = q
            .optional("_count", "must be a whole number from 1 to 100")
            .unwrap_or(50);
        if !(1..=100).contains(&count) {
            q.fail("_count", "must be a whole number from 1 to 100");
        }
        if status.is_some_and(|s| !matches!(s, "active" | "inactive")) {
            q.fail("status", "must be active or inactive");
        }
        if let Some((unknown, _)) = params
            .iter()
            .find(|(k, _)| !matches!(*k, "name" | "address-city" | "status" | "_count"))
        {
            q.fail(unknown, "is not a supported search parameter of Location");
        }
        q.finish()?;
        let mut found = vec![];
        let mut start = None;
        for _ in 0..10 {
            let page = ctx
                .store
                .list_locations(status == Some("active"), 100, start)
                .await?;
            found.extend(page.items.into_iter().filter(|l| {
                name.as_deref()
                    .is_none_or(|n| l.name.to_lowercase().starts_with(n))
                    && city.as_deref().is_none_or(|c| {
                        l.address
                            .as_ref()
                            .is_some_and(|a| a.city.to_lowercase().starts_with(c))
                    })
                    && (status != Some("inactive") || !l.active)
            }));
            start = page
                .next
                .map(|c| Range::locations_by_name().cursor(&ctx.store.cursors, &c))
                .transpose()
                .map_err(|e| ApiError::field("cursor", e.to_string()))?;
            if start.is_none() || found.len() >= count as usize {
                break;
            }
        }
        found.truncate(count as usize);
        Ok(searchset(found.iter().map(fhir::location).collect(), &req))
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
        let who = caller(ctx, &req)?;
        let params = req.query_string_parameters();
        if params.first("schedule").is_none() {
            return across_providers(ctx, &req, &who, Operation::SlotSearch).await;
        }
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

/// `GET /fhir/$bulk-publish`, without a JWT: the SMART Scheduling Links manifest (STU 1) of what
/// `write-slot-feed` last published, each file a presigned URL of the feed bucket (an hour), cached
/// 5 minutes by clients and caches. `_since` (an instant with its offset) lists only the files that
/// changed after it. Before the first publication, the manifest lists no file. One GetObject.
pub async fn bulk_publish(ctx: &Ctx, req: Request) -> Reply {
    let work = async {
        let since = match req.query_string_parameters().first("_since") {
            None => None,
            Some(t) => Some(t.parse::<UtcTime>().map_err(|_| {
                ApiError::field(
                    "_since",
                    "must be an instant with its offset, such as 2031-03-04T10:00:00Z",
                )
            })?),
        };
        let reader = ctx
            .slot_feed
            .as_ref()
            .ok_or_else(|| ApiError::not_found("slot feed"))?;
        let read = reader.read().await.map_err(|e| {
            tracing::warn!(error = %e, "the slot feed cannot be read");
            ApiError::contended()
        })?;
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let request = format!("{}/fhir/$bulk-publish{query}", base_url(&req));
        Ok(match read {
            Some((published, urls)) => {
                crate::domain::smart::manifest(&published, &request, since, |k| {
                    urls.get(k).cloned().unwrap_or_default()
                })
            }
            None => serde_json::json!({
                "transactionTime": ctx.now(), "request": request, "output": [], "error": []
            }),
        })
    };
    match work.await {
        Ok(manifest) => {
            let mut response = super::json(200, &manifest);
            super::set_header(&mut response, "cache-control", "public, max-age=300");
            Ok(response)
        }
        Err(e) => answered(async { Err(e) }).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_parameters_body_reads_as_pairs_of_text() {
        let body = serde_json::json!({"resourceType": "Parameters", "parameter": [
            {"name": "start", "valueDateTime": "2030-03-04T09:00:00Z"},
            {"name": "service-type", "valueCodeableConcept": {"coding": [{"system": "s", "code": "urn:uuid:x"}]}},
            {"name": "practitioner", "valueReference": {"reference": "Practitioner/p"}},
            {"name": "_count", "valueInteger": 5},
        ]});
        let pairs = parameter_pairs(body.to_string().as_bytes()).unwrap();
        let texts: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("start", "2030-03-04T09:00:00Z"),
                ("service-type", "urn:uuid:x"),
                ("practitioner", "Practitioner/p"),
                ("_count", "5"),
            ]
        );
        assert!(parameter_pairs(b"").is_err());
        assert!(parameter_pairs(br#"{"resourceType": "Parameters"}"#)
            .unwrap()
            .is_empty());
        for bad in [
            r#"{"resourceType": "Patient"}"#,
            r#"{"resourceType": "Parameters", "parameter": [{"name": "start"}]}"#,
            r#"{"resourceType": "Parameters", "parameter": [{"name": "x", "valuePeriod": {"start": "2030"}}]}"#,
            "[1,",
        ] {
            assert!(parameter_pairs(bad.as_bytes()).is_err(), "{bad}");
        }
        let id = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
        for token in [
            id.to_owned(),
            format!("http://x|urn:uuid:{id}"),
            format!("HealthcareService/{id}"),
        ] {
            assert_eq!(service_type(&token).map(|u| u.to_string()), Some(id.into()));
        }
        assert_eq!(service_type("HealthcareService/nope"), None);
    }

    proptest! {
        /// No bytes make the Parameters reader or the token readers panic.
        #[test]
        fn no_body_or_token_panics(
            body in proptest::collection::vec(any::<u8>(), 0..200),
            token in ".{0,80}",
        ) {
            let _ = parameter_pairs(&body);
            let _ = service_type(&token);
            let _ = token_code(&token);
        }

        /// Nor do parameter lists shaped like FHIR's, whatever their names and values.
        #[test]
        fn no_parameters_resource_panics(
            name in ".{0,20}",
            key in "value[A-Za-z]{0,12}",
            text in ".{0,40}",
            n in any::<i64>(),
        ) {
            for value in [
                serde_json::json!(text),
                serde_json::json!(n),
                serde_json::json!({"coding": [{"code": text}]}),
                serde_json::json!({"reference": text}),
                serde_json::json!([text]),
            ] {
                let body = serde_json::json!({"resourceType": "Parameters", "parameter": [{"name": name, key.clone(): value}]});
                let _ = parameter_pairs(body.to_string().as_bytes());
            }
        }
    }
}
