//! `GET /audit?patientId&from&to` and `GET /fhir/AuditEvent?patient&date`: a patient's access history
//! from the audit bucket, for admins only (the trail says who saw what; nobody else reads it). A read
//! of the trail is itself audited.

use jiff::civil::Date;
use lambda_http::RequestExt;
use serde_json::Value;

use super::{caller, ApiError, Ctx, Query, Reply, Request};
pub use crate::audit::Trail;
use crate::audit::{touched, Record};
use crate::domain::{Day, PatientId, Role};

/// The longest range one read covers: a month of a patient's records.
const MAX_DAYS: i32 = 31;
const DATES: &str = "must be a date such as 2030-01-31, in the years 2000 to 2099";

/// `patient`'s records from `from` to `to`; reading them touches the patient's data.
async fn history(
    ctx: &Ctx,
    patient: PatientId,
    (from, to): (Date, Date),
) -> Result<Trail, ApiError> {
    let reader = ctx.audit_reader.as_ref().ok_or_else(|| {
        tracing::error!("AUDIT_BUCKET is not configured for this function");
        ApiError::internal()
    })?;
    touched(patient.uuid());
    Ok(reader.about(patient.uuid(), from, to).await?)
}

/// Only an admin reads the trail.
fn admin_only(ctx: &Ctx, req: &Request) -> Result<(), ApiError> {
    let who = caller(ctx, req)?;
    if !who.has(Role::Admin) {
        return Err(ApiError::forbidden(
            "only an admin may read the audit trail",
        ));
    }
    Ok(())
}

/// `from`..=`to`, checked: in order and at most [`MAX_DAYS`] long.
fn range(q: &mut Query, from: Option<Date>, to: Option<Date>, field: &str) -> Option<(Date, Date)> {
    let (from, to) = (from?, to?);
    if to < from {
        q.fail(field, "the range ends before it starts");
        return None;
    }
    if from
        .until(to)
        .map_or(true, |span| span.get_days() >= MAX_DAYS)
    {
        q.fail(field, "the range may span at most 31 days");
        return None;
    }
    Some((from, to))
}

/// `GET /audit?patientId=<uuid>&from=<date>&to=<date>`: the records about the patient, by time.
pub async fn trail(ctx: &Ctx, req: Request) -> Reply {
    admin_only(ctx, &req)?;
    let mut q = Query::of(&req);
    let patient: Option<PatientId> = q.required("patientId", "must be a UUID");
    let from: Option<Date> = q.required("from", DATES).map(Day::date);
    let to: Option<Date> = q.required("to", DATES).map(Day::date);
    let span = range(&mut q, from, to, "to");
    q.finish()?;
    let (Some(patient), Some(span)) = (patient, span) else {
        return Err(ApiError::field("patientId", "is required"));
    };
    Ok(super::json(200, &history(ctx, patient, span).await?))
}

/// `GET /fhir/AuditEvent?patient=Patient/<id>&date=ge<date>&date=le<date>`: the same as a searchset
/// Bundle of AuditEvents.
pub async fn fhir_events(ctx: &Ctx, req: Request) -> Reply {
    super::fhir::answered(async {
        admin_only(ctx, &req)?;
        let mut q = Query::of(&req);
        let patient = q.text("patient");
        let patient: Option<PatientId> = match patient {
            Some(p) => match p.strip_prefix("Patient/").unwrap_or(p).parse() {
                Ok(id) => Some(id),
                Err(_) => {
                    q.fail("patient", "must be Patient/<uuid>");
                    None
                }
            },
            None => {
                q.fail("patient", "is required: Patient/<uuid>");
                None
            }
        };
        let (mut from, mut to) = (None, None);
        let dates = req.query_string_parameters();
        for value in dates.all("date").unwrap_or_default() {
            match (value.get(..2), value.get(2..).map(str::parse::<Day>)) {
                (Some("ge"), Some(Ok(d))) => from = Some(d.date()),
                (Some("le"), Some(Ok(d))) => to = Some(d.date()),
                _ => q.fail(
                    "date",
                    "takes ge<date> and le<date>, such as date=ge2030-01-01",
                ),
            }
        }
        if from.is_none() || to.is_none() {
            q.fail("date", "takes both date=ge<date> and date=le<date>");
        }
        let span = range(&mut q, from, to, "date");
        q.finish()?;
        let (Some(patient), Some(span)) = (patient, span) else {
            return Err(ApiError::field("patient", "is required"));
        };
        let found = history(ctx, patient, span).await?;
        let events: Vec<Value> = found.data.iter().map(Record::as_audit_event).collect();
        Ok(super::fhir::searchset(events, &req))
    })
    .await
}
