//! Reading a request: the caller from the authorizer's claims, a JSON body, path and query parameters.
//! Every reader answers with a precise [`ApiError`] naming the field that is wrong.

use std::str::FromStr;

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{ApiError, Code, Ctx, FieldError, Request};
use crate::domain::access::{Caller, CallerError, Role};
use crate::domain::{Day, PatientId, UtcTime};

/// Where the API was reached, as the request came in: `x-forwarded-proto` (API Gateway sets it) and
/// `host`, for URLs handed back to clients (a feed's, a Bundle's).
pub fn base_url(req: &Request) -> String {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    format!(
        "{}://{}",
        header("x-forwarded-proto").unwrap_or_else(|| "https".into()),
        header("host").unwrap_or_else(|| "localhost".into())
    )
}

/// Larger bodies are refused before parsing; no endpoint needs more.
const MAX_BODY: usize = 64 * 1024;

/// The caller, as API Gateway's JWT authorizer verified it.
pub fn caller(ctx: &Ctx, req: &Request) -> Result<Caller, ApiError> {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|j| &j.claims),
        _ => None,
    };
    let claims = claims.ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    Caller::from_claims(claims, &ctx.config.roles_claim).map_err(|e| match e {
        CallerError::NoToken => ApiError::unauthorized("a bearer token is required"),
        CallerError::BadSubject => ApiError::unauthorized(e.to_string()),
    })
}

/// The JSON body as `T`, or `T::default()` when there is none: for endpoints whose every field is
/// optional (the OpenAPI document marks their body not required).
pub fn json_body_or_default<T: DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if req.body().is_empty() {
        return Ok(T::default());
    }
    json_body(req)
}

/// The JSON body as `T`. Unknown fields, wrong types and missing fields are named in `errors[]`.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    if let Some(ct) = req.headers().get("content-type") {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !(ct.starts_with("application/json") || ct.contains("+json")) {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                "the body must be application/json",
            ));
        }
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY {
        return Err(ApiError::new(
            Code::BodyTooLarge,
            format!("the body may be at most {MAX_BODY} bytes"),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field("body", "a JSON object is required"));
    }
    // Syntax first, so that a broken body is named by its position; then the shape: serde would
    // otherwise take a JSON array for a struct, field by field.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
    let kind = match &value {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Array(_) => Some("an array"),
        serde_json::Value::String(_) => Some("a string"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Null => Some("null"),
    };
    if let Some(kind) = kind {
        return Err(ApiError::field(
            "body",
            format!("must be a JSON object, not {kind}"),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::field(&field, plain(&e.into_inner().to_string()))
    })
}

/// serde's message without the names of our Rust types: "invalid type: sequence, expected struct
/// WorkingHours" becomes "invalid type: sequence, expected a JSON object".
fn plain(message: &str) -> String {
    match message.find("expected struct ") {
        Some(i) => format!("{}expected a JSON object", &message[..i]),
        None => message.to_owned(),
    }
}

/// A path parameter such as `{id}`, parsed.
pub fn path_id<T: FromStr>(req: &Request, name: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .ok_or_else(|| ApiError::field(name, "is required"))?;
    raw.parse()
        .map_err(|e: T::Err| ApiError::field(name, e.to_string()))
}

/// Query string parameters, parsed one by one; every failure is collected so that one response names them all.
pub struct Query<'r> {
    req: &'r Request,
    pub errors: Vec<FieldError>,
}

impl<'r> Query<'r> {
    pub fn of(req: &'r Request) -> Query<'r> {
        Query {
            req,
            errors: vec![],
        }
    }

    /// A parameter's value as sent; present but empty (`?providerId=`) is a value, and a wrong one.
    fn raw(&self, name: &str) -> Option<&'r str> {
        self.req
            .query_string_parameters_ref()
            .and_then(|q| q.first(name))
    }

    pub fn optional<T: FromStr>(&mut self, name: &str, message: &str) -> Option<T> {
        let raw = self.raw(name)?;
        match raw.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.errors.push(FieldError {
                    field: name.to_owned(),
                    message: message.to_owned(),
                });
                None
            }
        }
    }

    pub fn required<T: FromStr>(&mut self, name: &str, message: &str) -> Option<T> {
        if self.raw(name).is_none() {
            self.errors.push(FieldError {
                field: name.to_owned(),
                message: "is required".to_owned(),
            });
            return None;
        }
        self.optional(name, message)
    }

    pub fn text(&self, name: &str) -> Option<&'r str> {
        self.raw(name)
    }

    /// The filters a patient chooses providers by, as the directory and the search take them:
    /// `specialty` (a code), `language` (any BCP 47 tag, as its primary subtag), `region` (ISO 3166-2,
    /// canonical); each bad one recorded.
    pub fn profile_filters(&mut self) -> ProfileFilters {
        use crate::domain::profile::{is_code, language_tag, primary_language, region_code};
        let specialty = self.text("specialty").map(str::to_owned);
        if specialty.as_deref().is_some_and(|c| !is_code(c)) {
            self.fail(
                "specialty",
                "must be a specialty code (letters, digits, '.', '-' or '_')",
            );
        }
        let language = self
            .text("language")
            .map(|l| language_tag(l).map(|t| primary_language(&t)));
        if matches!(language, Some(None)) {
            self.fail("language", "must be a BCP 47 language tag (es, es-MX)");
        }
        let region = self.text("region").map(region_code);
        if matches!(region, Some(None)) {
            self.fail("region", "must be an ISO 3166-2 subdivision code (US-CA)");
        }
        ProfileFilters {
            specialty,
            language: language.flatten(),
            region: region.flatten(),
        }
    }

    /// Every value of a parameter given more than once (`?providerId=a&providerId=b`).
    pub fn all(&self, name: &str) -> Vec<&'r str> {
        self.req
            .query_string_parameters_ref()
            .and_then(|q| q.all(name))
            .unwrap_or_default()
    }

    pub fn fail(&mut self, name: &str, message: &str) {
        self.errors.push(FieldError {
            field: name.to_owned(),
            message: message.to_owned(),
        });
    }

    /// Ends parsing: an error naming every bad parameter, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.errors))
        }
    }

    /// [`Query::finish`], then the values the checks parsed, together (see [`Found`]).
    pub fn finish_with<F: Found>(self, found: F) -> Result<F::Value, ApiError> {
        self.finish()?;
        found.all()
    }
}

/// What [`Query::profile_filters`] read (a bad value recorded as a failure, and `None` here).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileFilters {
    pub specialty: Option<String>,
    /// A primary language subtag.
    pub language: Option<String>,
    pub region: Option<String>,
}

/// Values parsed while checking a request (`Option`s of required parameters, an `Interval` built):
/// [`Query::finish_with`] and [`Checks::finish_with`] hand them out only when every check passed, so a
/// handler never unwraps what it checked.
pub trait Found {
    type Value;
    fn found(self) -> Option<Self::Value>;

    /// Every value, or a 400 naming the one missing (the checks record a failure for each first, so
    /// this is a second net, not a path a request takes).
    fn all(self) -> Result<Self::Value, ApiError>
    where
        Self: Sized,
    {
        self.found().ok_or_else(|| {
            ApiError::invalid(vec![FieldError {
                field: "request".into(),
                message: "a required value is missing or invalid".into(),
            }])
        })
    }
}

impl<A> Found for Option<A> {
    type Value = A;
    fn found(self) -> Option<A> {
        self
    }
}

impl<A, E> Found for Result<A, E> {
    type Value = A;
    fn found(self) -> Option<A> {
        self.ok()
    }
}

impl<A: Found, B: Found> Found for (A, B) {
    type Value = (A::Value, B::Value);
    fn found(self) -> Option<Self::Value> {
        Some((self.0.found()?, self.1.found()?))
    }
}

impl<A: Found, B: Found, C: Found> Found for (A, B, C) {
    type Value = (A::Value, B::Value, C::Value);
    fn found(self) -> Option<Self::Value> {
        Some((self.0.found()?, self.1.found()?, self.2.found()?))
    }
}

/// A date (`2027-03-14`, the whole UTC day) or an RFC 3339 date-time, in the years 2000 to 2099.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    Day(Day),
    At(UtcTime),
}

impl std::str::FromStr for Bound {
    type Err = ();
    fn from_str(s: &str) -> Result<Bound, ()> {
        if s.len() == 10 {
            return s.parse().map(Bound::Day).map_err(|_| ());
        }
        s.parse().map(Bound::At).map_err(|_| ())
    }
}

impl Bound {
    pub fn start(self) -> UtcTime {
        match self {
            Bound::Day(d) => d.start(),
            Bound::At(t) => t,
        }
    }

    /// An end date includes that whole day.
    pub fn end(self) -> UtcTime {
        match self {
            Bound::Day(d) => d.end(),
            Bound::At(t) => t,
        }
    }
}

pub const BOUND: &str =
    "must be a date (2027-03-14) or an RFC 3339 date-time, in the years 2000 to 2099";

/// Whether `who` may `act` ("book", "join a waitlist") for `patient`: the patient themself, staff and
/// admins. The refusal says what the caller may do: a patient acts only for themself; anyone else
/// (a provider) is told who may.
/// Staff and admins only: `act` says what the others may not do.
pub fn staff_only(who: &Caller, act: &str) -> Result<(), ApiError> {
    if who.is_staff() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only staff or an admin may {act}"
        )))
    }
}

pub fn for_patient(who: &Caller, patient: PatientId, act: &str) -> Result<(), ApiError> {
    crate::audit::touched(patient.uuid());
    if who.may_act_for_patient(patient) {
        return Ok(());
    }
    Err(ApiError::forbidden(if who.has(Role::Patient) {
        format!("a patient may {act} only for themself")
    } else {
        format!("only the patient, staff or an admin may {act}")
    }))
}

/// A response of `status` with its content type and body. Built step by step from typed parts, so no
/// request can make it fail.
pub fn respond(status: u16, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response. The views serialize (ids, times, strings and numbers); were one not to, the
/// client gets 500 `internal` and the log says why.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => respond(status, "application/json", Body::Text(text)),
        Err(e) => {
            tracing::error!(error = %e, "a response did not serialize");
            ApiError::internal().into_response()
        }
    }
}

/// Sets header `name` to `value`. The values given here are built from ids, numbers and fixed words;
/// one that is not a valid header value is logged and left out rather than failing the answer.
pub fn set_header<V>(response: &mut Response<Body>, name: &'static str, value: V)
where
    HeaderValue: TryFrom<V>,
{
    match HeaderValue::try_from(value) {
        Ok(v) => {
            response.headers_mut().insert(name, v);
        }
        Err(_) => tracing::error!(header = name, "not a valid header value; left out"),
    }
}

/// `value` as `status` (201 for something made) with its `Location`, and `idempotent-replayed: true`
/// when it is the answer to an earlier request with the same `Idempotency-Key`.
pub fn created<T: Serialize>(
    status: u16,
    value: &T,
    location: String,
    replayed: bool,
) -> Response<Body> {
    let mut response = json(status, value);
    set_header(&mut response, "location", location);
    if replayed {
        set_header(&mut response, "idempotent-replayed", "true");
    }
    response
}

/// Collects field errors of a parsed body so that one response names them all.
#[derive(Default)]
pub struct Checks(pub Vec<FieldError>);

impl Checks {
    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.0.push(FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            });
        }
    }

    pub fn text(&mut self, value: &Option<String>, field: &str, max: usize) {
        if let Some(v) = value {
            self.check(
                !v.trim().is_empty() && v.chars().count() <= max,
                field,
                &format!("must be 1 to {max} characters"),
            );
            self.check(
                !crate::domain::text::has_forbidden(v),
                field,
                crate::domain::text::FORBIDDEN,
            );
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.0))
        }
    }

    /// [`Checks::finish`], then the values the checks parsed, together (see [`Found`]).
    pub fn finish_with<F: Found>(self, found: F) -> Result<F::Value, ApiError> {
        self.finish()?;
        found.all()
    }
}
