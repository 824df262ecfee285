//! `GET /_local/docs`: the OpenAPI document as a person reads it, rendered in the browser by Redoc
//! (pinned in `tools/package.json`, installed by `make tools`; served from here, never from a CDN).

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::Full;

/// The page: Redoc reading `/_local/openapi.json`.
pub const PAGE: &str = include_str!("../docs/index.html");

/// Where `make tools` puts Redoc's standalone bundle.
pub fn renderer_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/node_modules/redoc/bundles/redoc.standalone.js")
}

/// The bundle, or a problem saying how to get it.
pub fn renderer() -> hyper::Response<Full<Bytes>> {
    match std::fs::read(renderer_path()) {
        Ok(js) => {
            let mut r = hyper::Response::new(Full::new(Bytes::from(js)));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/javascript; charset=utf-8"),
            );
            r
        }
        Err(_) => {
            let body = serde_json::json!({
                "type": "/problems/renderer_missing", "title": "Service Unavailable", "status": 503,
                "code": "renderer_missing",
                "detail": "the API reference renderer is not installed: run `make tools` (make dev does)",
            });
            let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/problem+json"),
            );
            r
        }
    }
}
