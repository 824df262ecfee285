//! The HTTP side of the local stack, as API Gateway's HTTP API: every HttpApi route of template.yaml on
//! 127.0.0.1, its CORS, each request checked like the JWT authorizer would, turned into the API Gateway
//! v2 event Lambda would receive, and answered by the same `shared::api` handler the Lambda runs, within
//! Lambda's and API Gateway's limits. The routes that exist only locally are in `local_routes.rs`.

mod local_routes;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use shared::api::{self, ApiError, Ctx, Endpoint};

use crate::stack::{Stack, ACCOUNT};
use crate::template::Route;
use crate::token::Keys;

pub struct Server {
    pub stack: Arc<Stack>,
    pub keys: Keys,
    pub roles_claim: String,
    /// Each route with its function (its name in template.yaml and its endpoint), context and timeout.
    routes: Vec<(Route, (&'static str, Endpoint), Ctx, Duration)>,
    /// The stream's function and its `Timeout`, for `POST /_local/replay-parked`.
    publisher: Option<(shared::stream::Publisher, Duration)>,
    /// The HTTP API's `CorsConfiguration`, if it allows cross-origin calls.
    cors: Option<crate::cors::Cors>,
}

type Reply = hyper::Response<Full<Bytes>>;

fn add_headers(answer: &mut Reply, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(v) = http::HeaderValue::try_from(value) {
            answer.headers_mut().insert(name, v);
        }
    }
}

fn respond(status: u16, content_type: &str, body: String) -> Reply {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn problem(e: ApiError) -> Reply {
    into_hyper(e.into_response())
}

fn into_hyper(r: lambda_http::Response<lambda_http::Body>) -> Reply {
    let (parts, body) = r.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Lambda's limit on a synchronous response: 6 MB
/// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// Runs a handler under Lambda's limits and answers as API Gateway does when one is passed: a function
/// that runs past its `Timeout` is stopped (503, as the HTTP API answers when its integration does not
/// answer), and a response over 6 MB never reaches the client (502, a bad answer from the integration).
/// Locally both come as problem+json, so the client sees which limit it was.
pub async fn as_lambda(
    function: &str,
    timeout: Duration,
    run: impl std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
) -> Reply {
    let Ok(response) = tokio::time::timeout(timeout, run).await else {
        tracing::error!(
            function,
            timeout_s = timeout.as_secs_f64(),
            "function timed out"
        );
        return gateway_problem(
            503,
            "function_timeout",
            format!(
                "{function} ran past its {} s timeout",
                timeout.as_secs_f64()
            ),
        );
    };
    let reply = into_hyper(response);
    let size = hyper::body::Body::size_hint(reply.body())
        .exact()
        .unwrap_or(0) as usize
        + reply
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 6)
            .sum::<usize>();
    if size > MAX_RESPONSE_BYTES {
        tracing::error!(function, size, "response over Lambda's 6 MB");
        return gateway_problem(
            502,
            "response_too_large",
            format!(
                "{function} answered {size} bytes; Lambda returns at most {MAX_RESPONSE_BYTES}"
            ),
        );
    }
    reply
}

fn gateway_problem(status: u16, code: &str, detail: String) -> Reply {
    let title = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    respond(
        status,
        "application/problem+json",
        json!({"type": format!("/problems/{code}"), "title": title, "status": status, "detail": detail, "code": code})
            .to_string(),
    )
}

/// API Gateway's HTTP API takes at most 10,240 bytes of request line and header values
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
pub const MAX_HEAD_BYTES: usize = 10_240;

/// hyper answers a request line over 64 KB with its own bare 414, and a request line with a byte no
/// URL may hold (a raw non-ASCII byte, a control character) with a bare 400, before any handler runs.
/// So the first request of a connection is looked at first (without consuming it): a line longer than
/// API Gateway takes, or one hyper would refuse, gets a problem here (an OperationOutcome on FHIR
/// routes). Later requests on a kept-alive connection are left to hyper and [`too_large`]. Returns
/// whether it answered.
async fn refuse_bad_line(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncWriteExt;
    let mut buf = vec![0u8; MAX_HEAD_BYTES + 1];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (status, code, detail, line) = loop {
        let Ok(n) = stream.peek(&mut buf).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            let line = &buf[..end];
            if line.iter().all(|b| (0x20..0x7f).contains(b)) {
                return false; // a line hyper reads
            }
            break (
                400,
                "validation_failed",
                "the request line holds a byte no URL may hold: percent-encode it (UTF-8)"
                    .to_owned(),
                line.to_vec(),
            );
        }
        if n > MAX_HEAD_BYTES {
            break (
                414,
                "uri_too_long",
                format!("the request line is over {MAX_HEAD_BYTES} bytes"),
                buf[..n].to_vec(),
            );
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let fhir = line
        .split(|b| *b == b' ')
        .nth(1)
        .is_some_and(|target| target.starts_with(b"/fhir/"));
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let (content_type, body) = if fhir {
        (
            "application/fhir+json",
            shared::domain::fhir::operation_outcome(
                shared::domain::fhir::issue_code(status),
                code,
                &detail,
            )
            .to_string(),
        )
    } else {
        (
            "application/problem+json",
            json!({"type": format!("/problems/{code}"), "title": reason, "status": status, "detail": detail, "code": code})
                .to_string(),
        )
    };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
    true
}

/// A request whose target or head is larger than API Gateway takes: 414 or 431, as problem+json.
fn too_large(parts: &http::request::Parts) -> Option<Reply> {
    let target = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    let line = parts.method.as_str().len() + target + " HTTP/1.1".len() + 1;
    if line > MAX_HEAD_BYTES {
        return Some(gateway_problem(
            414,
            "uri_too_long",
            format!("the request line is {line} bytes; at most {MAX_HEAD_BYTES}"),
        ));
    }
    let head = line
        + parts
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum::<usize>();
    (head > MAX_HEAD_BYTES).then(|| {
        gateway_problem(
            431,
            "headers_too_large",
            format!("the request line and headers are {head} bytes; at most {MAX_HEAD_BYTES}"),
        )
    })
}

/// `{id}` segments of `template` matched against `path`.
fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (
        template.trim_matches('/').split('/').collect(),
        path.trim_matches('/').split('/').collect(),
    );
    if t.len() != p.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (a, b) in t.iter().zip(&p) {
        if let Some(name) = a.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if b.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), percent_decode(b));
        } else if a != b {
            return None;
        }
    }
    Some(params)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            // On bytes: `%€` has a multi-byte character where two hex digits should be.
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_map(raw: &str) -> serde_json::Map<String, Value> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(percent_decode(k))
            .or_default()
            .push(percent_decode(v));
    }
    map.into_iter()
        .map(|(k, v)| (k, Value::String(v.join(","))))
        .collect()
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Server {
    pub fn new(
        stack: Arc<Stack>,
        api_db: aws_sdk_dynamodb::Client,
        clock: shared::domain::Clock,
    ) -> Result<Server, crate::stack::Error> {
        let mut routes = vec![];
        let mut roles_claim = "cognito:groups".to_owned();
        let mut publisher = None;
        for f in &stack.functions {
            if f.stream.is_some() {
                let config = stack.config_for(f)?;
                publisher = Some((
                    shared::stream::Publisher {
                        metrics: shared::metrics::Metrics::to(&stack.metrics),
                        ..shared::stream::Publisher::from_config(&config, &stack.sdk_for(f))?
                    },
                    f.timeout,
                ));
            }
            if f.routes.is_empty() {
                continue;
            }
            let endpoint = api::endpoint(&f.binary)
                .ok_or_else(|| format!("{} has no handler in shared::api::ENDPOINTS", f.binary))?;
            let config = stack.config_for(f)?;
            roles_claim = config.roles_claim.clone();
            // The function's own key (`crate::iam`), on the client the tests may have given.
            let sdk = stack.sdk_for(f);
            let db = aws_sdk_dynamodb::Client::from_conf(
                api_db
                    .config()
                    .to_builder()
                    .credentials_provider(sdk.credentials_provider().ok_or("no credentials")?)
                    .build(),
            );
            let mut ctx = Ctx::new(db, config)?;
            ctx.clock = clock.clone();
            ctx.metrics = shared::metrics::Metrics::to(&stack.metrics);
            ctx.audit = shared::audit::AuditLog::Local(stack.audit.clone());
            ctx.audit_reader = shared::audit::AuditReader::from_config(&ctx.config, &sdk);
            ctx.slot_feed = shared::feed::FeedReader::from_config(&ctx.config, &sdk);
            for r in &f.routes {
                routes.push((r.clone(), endpoint, ctx.clone(), f.timeout));
            }
        }
        // Literal segments win over parameters, as in API Gateway (`/slots/available` before `/slots/{id}`).
        routes.sort_by_key(|(r, ..)| r.path.matches('{').count());
        let cors = stack.template.cors()?;
        Ok(Server {
            publisher,
            cors,
            stack,
            keys: Keys::random(),
            roles_claim,
            routes,
        })
    }

    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let server = self.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                if refuse_bad_line(&mut stream).await {
                    return;
                }
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.handle(req).await) }
                });
                // Heads up to 1 MB reach `handle`, which refuses what API Gateway refuses with a
                // problem; past that, hyper's own bare 431.
                let _ = hyper::server::conn::http1::Builder::new()
                    .max_buf_size(1 << 20)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// API Gateway's CORS around the routes: preflights answered here, answers to allowed origins
    /// given the configured headers (`crate::cors`).
    async fn handle(&self, req: hyper::Request<Incoming>) -> Reply {
        let Some(cors) = &self.cors else {
            return self.route(req).await;
        };
        let headers = req.headers().clone();
        if crate::cors::Cors::is_preflight(req.method(), &headers) {
            let mut answer = hyper::Response::new(Full::new(Bytes::new()));
            *answer.status_mut() = http::StatusCode::NO_CONTENT;
            add_headers(&mut answer, cors.preflight(&headers));
            return answer;
        }
        let mut answer = self.route(req).await;
        let theirs: Vec<http::HeaderName> = answer
            .headers()
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in theirs {
            answer.headers_mut().remove(name);
        }
        add_headers(&mut answer, cors.response(&headers));
        answer
    }

    async fn route(&self, req: hyper::Request<Incoming>) -> Reply {
        let (parts, body) = req.into_parts();
        if let Some(refused) = too_large(&parts) {
            return refused;
        }
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return problem(ApiError::field("body", "could not be read")),
        };
        let path = parts.uri.path().to_owned();
        if let Some(answer) = self.local_route(parts.method.as_str(), &path, &body).await {
            return answer;
        }
        let found = self
            .routes
            .iter()
            .find_map(|(route, function, ctx, timeout)| {
                (route.method == parts.method.as_str() || route.method == "ANY")
                    .then(|| match_path(&route.path, &path))
                    .flatten()
                    .map(|params| (route, *function, ctx, *timeout, params))
            });
        let Some((route, function, ctx, timeout, params)) = found else {
            return problem(ApiError::not_found("route"));
        };
        // A route without an authorizer reaches its function with no claims at all.
        let claims = match route.public {
            true => None,
            false => match self.authorize(&parts.headers) {
                Ok(c) => Some(c),
                Err(e) => return problem(e),
            },
        };
        let event = self.event(&parts, route, params, claims, &body);
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            Err(e) => return problem(ApiError::field("request", e.to_string())),
        };
        let name = function.0;
        tracing::debug!(function = %name, "invoke");
        as_lambda(name, timeout, api::serve(function, ctx, request)).await
    }

    /// What API Gateway's JWT authorizer does before the function runs.
    fn authorize(&self, headers: &http::HeaderMap) -> Result<HashMap<String, String>, ApiError> {
        let raw = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(raw)
            .trim();
        self.keys
            .verify(token, now_secs())
            .map_err(|e| ApiError::unauthorized(format!("invalid token: {e}")))
    }

    /// The API Gateway HTTP API (payload 2.0) event for this request.
    fn event(
        &self,
        parts: &http::request::Parts,
        route: &Route,
        params: HashMap<String, String>,
        claims: Option<HashMap<String, String>>,
        body: &Bytes,
    ) -> Value {
        let mut headers = serde_json::Map::new();
        for (k, v) in &parts.headers {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            match headers.get_mut(k.as_str()) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                _ => {
                    headers.insert(k.as_str().to_owned(), Value::String(v));
                }
            }
        }
        // API Gateway tells the function how it was reached; the local server speaks plain HTTP.
        headers
            .entry("x-forwarded-proto")
            .or_insert_with(|| Value::String("http".into()));
        let raw_query = parts.uri.query().unwrap_or_default();
        let (body, base64) = match std::str::from_utf8(body) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => {
                use base64::Engine;
                (base64::engine::general_purpose::STANDARD.encode(body), true)
            }
        };
        let now = jiff::Timestamp::now();
        let route_key = format!("{} {}", route.method, route.path);
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": parts.uri.path(),
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": "127.0.0.1",
                "domainPrefix": "127",
                "http": {"method": parts.method.as_str(), "path": parts.uri.path(), "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent").cloned().unwrap_or_default()},
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": route_key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string(),
                "timeEpoch": now.as_millisecond(),
            },
            "isBase64Encoded": base64,
        });
        if let Some(claims) = claims {
            event["requestContext"]["authorizer"] =
                json!({"jwt": {"claims": claims, "scopes": null}});
        }
        if !raw_query.is_empty() {
            event["queryStringParameters"] = Value::Object(query_map(raw_query));
        }
        if !params.is_empty() {
            event["pathParameters"] = json!(params);
        }
        if !body.is_empty() {
            event["body"] = Value::String(body);
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: String) -> lambda_http::Response<lambda_http::Body> {
        lambda_http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body))
            .unwrap()
    }

    async fn problem_of(reply: Reply) -> (u16, Value) {
        let status = reply.status().as_u16();
        assert_eq!(reply.headers()["content-type"], "application/problem+json");
        let bytes = reply.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_function_past_its_timeout_is_stopped_and_answered_with_503() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            answer("{}".into())
        };
        let started = std::time::Instant::now();
        let reply = as_lambda("slow", Duration::from_millis(50), slow).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let (status, body) = problem_of(reply).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("function_timeout"))
        );
    }

    #[tokio::test]
    async fn a_response_over_six_megabytes_never_reaches_the_client() {
        let big = "x".repeat(MAX_RESPONSE_BYTES);
        let reply = as_lambda("big", Duration::from_secs(1), async { answer(big) }).await;
        let (status, body) = problem_of(reply).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (502, Some("response_too_large"))
        );

        let fits = "x".repeat(MAX_RESPONSE_BYTES - 1000);
        let reply = as_lambda("fits", Duration::from_secs(1), async { answer(fits) }).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(
            reply.into_body().collect().await.unwrap().to_bytes().len(),
            MAX_RESPONSE_BYTES - 1000
        );
    }

    #[test]
    fn paths_match_their_templates_and_decode_parameters() {
        assert_eq!(
            match_path("/appointments/{id}", "/appointments/a%20b").unwrap()["id"],
            "a b"
        );
        assert!(match_path("/appointments/{id}", "/appointments/").is_none());
        assert!(match_path("/appointments/{id}/cancel", "/appointments/x").is_none());
        assert!(match_path("/slots", "/slots").unwrap().is_empty());
        assert_eq!(query_map("a=1&b=x%2By&a=2")["a"], "1,2");
    }
}
