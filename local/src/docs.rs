//! `GET /_local/docs`: the OpenAPI document as a person reads it, rendered in the browser by Redoc
//! (pinned in `tools/package.json`, installed by `make tools`; served from here, never from a CDN).

use std::path::PathBuf;

/// The page: Redoc reading `/_local/openapi.json`.
pub const PAGE: &str = include_str!("../docs/index.html");

/// Where `make tools` puts Redoc's standalone bundle.
pub fn renderer_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/node_modules/redoc/bundles/redoc.standalone.js")
}

/// The bundle, if `make tools` installed it.
pub fn renderer() -> Option<String> {
    std::fs::read_to_string(renderer_path()).ok()
}
