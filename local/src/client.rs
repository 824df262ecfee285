//! A small HTTP client for the local stack, for the benchmarks: JSON in, status and JSON out.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

pub type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn http() -> Http {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http()
}

/// `method url` with an optional bearer token and JSON body: the status, the body's size and the body
/// as JSON (`Null` when it is not JSON).
pub async fn call(
    http: &Http,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, usize, Value) {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .expect("a request");
    let response = http.request(req).await.expect("the local stack answers");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (
        status,
        bytes.len(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A development token from the local stack at `base` for a new user with `roles`: (user id, token).
pub async fn token(http: &Http, base: &str, roles: &[&str]) -> (uuid::Uuid, String) {
    let sub = uuid::Uuid::new_v4();
    let (_, _, body) = call(
        http,
        "POST",
        &format!("{base}/_local/token"),
        None,
        Some(json!({"sub": sub, "roles": roles})),
    )
    .await;
    (sub, body["token"].as_str().unwrap_or_default().to_owned())
}
