//! The parts of a provider's item that are replaced whole (their settings, their directory profile):
//! the body a `PUT` takes, and versions as strong `ETag`s with `If-Match` (RFC 9110 sections 8.8.3 and
//! 13.1.1), so that two editors cannot silently undo each other.

use serde::de::DeserializeOwned;

use super::{json, ApiError, Code, FieldError, Request};
use crate::domain::ProviderId;

/// The `T` of a `PUT` body that replaces a part of `provider`'s item, taking back what `GET` answered:
/// `T`'s fields, plus `providerId` (which must be the path's, or left out) and `updatedAt` (read-only,
/// ignored); checked whole by `problems`. A shape error names an unknown or missing field, never a
/// value the client sent; `what` names the part.
pub(super) fn replacement<T: DeserializeOwned>(
    body: serde_json::Value,
    provider: ProviderId,
    what: &str,
    problems: impl Fn(&T) -> Vec<(&'static str, String)>,
) -> Result<T, ApiError> {
    let serde_json::Value::Object(mut fields) = body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    fields.remove("updatedAt");
    if let Some(id) = fields.remove("providerId") {
        if id != serde_json::Value::String(provider.to_string()) {
            return Err(ApiError::field(
                "providerId",
                "must be the provider of the path, or left out",
            ));
        }
    }
    let part: T = serde_json::from_value(serde_json::Value::Object(fields)).map_err(|e| {
        let text = e.to_string();
        let message = if text.starts_with("unknown field") || text.starts_with("missing field") {
            // "unknown field `x`, expected one of ...": the field's name is the client's own key.
            text.split(", expected").next().unwrap_or(&text).to_owned()
        } else {
            format!("does not match {what}'s fields and types")
        };
        ApiError::field("body", message)
    })?;
    let found = problems(&part);
    if !found.is_empty() {
        return Err(ApiError::invalid(
            found
                .into_iter()
                .map(|(field, message)| FieldError {
                    field: field.into(),
                    message,
                })
                .collect(),
        ));
    }
    Ok(part)
}

/// `body` with `version` as its strong `ETag`.
pub(super) fn tagged(
    version: u64,
    body: &impl serde::Serialize,
) -> lambda_http::Response<lambda_http::Body> {
    let mut response = json(200, body);
    super::set_header(&mut response, "etag", format!("\"{version}\""));
    response
}

/// The version an `If-Match` header asks for: `None` without one (or `*`: any version will do). If-Match
/// uses the strong comparison (RFC 9110 section 13.1.1): a weak tag (`W/"4"`) matches nothing, nor
/// does a tag that is not one of ours; either is a stale version of `what`.
pub(super) fn if_match(req: &Request, what: &str) -> Result<Option<u64>, ApiError> {
    match req.headers().get("if-match") {
        None => Ok(None),
        Some(value) => {
            strong_version(value.to_str().unwrap_or_default()).ok_or_else(|| stale(what))
        }
    }
}

/// `Some(None)` for `*`, `Some(Some(v))` for the strong tag `"v"`, `None` for anything else.
fn strong_version(value: &str) -> Option<Option<u64>> {
    let value = value.trim();
    if value == "*" {
        return Some(None);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
}

/// 412: `what` changed since the version the client named.
pub(super) fn stale(what: &str) -> ApiError {
    ApiError::new(
        Code::PreconditionFailed,
        format!("{what} changed since the version in If-Match; read {what} again"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn if_match_compares_strongly() {
        assert_eq!(strong_version("\"4\""), Some(Some(4)));
        assert_eq!(strong_version(" * "), Some(None));
        for never in [
            "W/\"4\"",
            "w/\"4\"",
            "4",
            "\"\"",
            "\"+4\"",
            "\"4\", \"5\"",
            "\"é\"",
        ] {
            assert_eq!(strong_version(never), None, "{never}");
        }
    }

    proptest! {
        #[test]
        fn no_if_match_value_panics(value in ".*") {
            let _ = strong_version(&value);
        }
    }
}
