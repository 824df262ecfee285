//! `GET` and `PUT /providers/{providerId}/settings`: the provider, staff and admins read and replace a
//! provider's time zone, booking rules and terms. `GET` answers every setting in force (defaults
//! included); `PUT` replaces what the provider set (a field left out or null follows the default again)
//! and takes back what `GET` answered, so read-modify-write needs no editing of read-only fields.
//! Both answer an `ETag` (how many times the settings were replaced); a `PUT` with `If-Match` applies
//! only while the settings are still that version (412 `precondition_failed` otherwise, nothing
//! written), so two editors cannot silently undo each other.

use super::views::SettingsView;
use super::{caller, json, json_body, path_id, ApiError, Code, Ctx, FieldError, Reply, Request};
use crate::domain::settings::Settings;
use crate::domain::{Caller, ProviderId};

fn may_manage(who: &Caller, provider: ProviderId) -> Result<(), ApiError> {
    if who.may_act_for_provider(provider) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the provider, staff or an admin may see or change the provider's settings",
        ))
    }
}

pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let provider: ProviderId = path_id(&req, "providerId")?;
    may_manage(&who, provider)?;
    let settings = ctx.store.provider_settings(provider).await?;
    Ok(tagged(settings))
}

/// The settings as answered, with their version as a strong `ETag`.
fn tagged(
    settings: crate::store::settings::ProviderSettings,
) -> lambda_http::Response<lambda_http::Body> {
    let etag = format!("\"{}\"", settings.version);
    let mut response = json(200, &SettingsView::from(settings));
    super::set_header(&mut response, "etag", etag);
    response
}

/// The version an `If-Match` header asks for: `None` without one (or `*`: any version will do). If-Match
/// uses the strong comparison (RFC 9110 section 13.1.1): a weak tag (`W/"4"`) matches nothing, nor
/// does a tag that is not one of ours; either is a stale version.
fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    match req.headers().get("if-match") {
        None => Ok(None),
        Some(value) => strong_version(value.to_str().unwrap_or_default()).ok_or_else(stale),
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

fn stale() -> ApiError {
    ApiError::new(
        Code::PreconditionFailed,
        "the settings changed since the version in If-Match; read them again",
    )
}

pub async fn put(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let provider: ProviderId = path_id(&req, "providerId")?;
    // Who may is known before anything of the body is read.
    may_manage(&who, provider)?;
    let settings = parse(json_body(&req)?, provider)?;
    let expected = if_match(&req)?;
    let stored = ctx
        .store
        .put_settings(provider, &settings, expected, ctx.now())
        .await?
        .ok_or_else(stale)?;
    tracing::info!(provider_id = %provider, version = stored.version, "provider settings replaced");
    Ok(tagged(stored))
}

/// The settings of a `PUT` body: [`Settings`]' fields, plus `providerId` (which must be the path's) and
/// `updatedAt` (read-only, ignored) as `GET` answers them.
fn parse(body: serde_json::Value, provider: ProviderId) -> Result<Settings, ApiError> {
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
    let settings: Settings = serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| ApiError::field("body", body_problem(&e)))?;
    let problems = settings.problems();
    if !problems.is_empty() {
        return Err(ApiError::invalid(
            problems
                .into_iter()
                .map(|(field, message)| FieldError {
                    field: field.into(),
                    message,
                })
                .collect(),
        ));
    }
    Ok(settings.canonical())
}

/// What is wrong with the body's shape, without quoting its values.
fn body_problem(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.starts_with("unknown field") {
        // "unknown field `x`, expected one of ...": the field's name is the client's own key.
        text.split(", expected").next().unwrap_or(&text).to_owned()
    } else {
        format!("does not match the settings' fields and types ({text})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

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

    #[test]
    fn a_put_takes_back_what_get_answered_and_nothing_else() {
        let provider = ProviderId::new();
        let got = json!({
            "providerId": provider.to_string(),
            "timeZone": "Europe/Paris",
            "minimumNoticeMinutes": 60,
            "maxAdvanceDays": null,
            "maxAppointmentsPerDay": 8,
            "lateCancellationHours": 24,
            "checkInOpensMinutes": 30,
            "reminderOffsets": ["24h", "2h"],
            "lateCancellationFee": 0.0,
            "noShowFee": 20,
            "updatedAt": null
        });
        let s = parse(got, provider).unwrap();
        assert_eq!(s.max_appointments_per_day, Some(8));
        assert_eq!(s.max_advance_days, None);
        assert_eq!(s.no_show_fee, Some(20.0));

        let other = parse(
            json!({"providerId": ProviderId::new().to_string()}),
            provider,
        );
        assert_eq!(other.unwrap_err().errors[0].field, "providerId");
        for bad in [
            json!([]),
            json!({"maxAppointmentsPerDay": "eight"}),
            json!({"maxAppointmentsPerDay": -1}),
            json!({"minimumNotice": 5}),
            json!({"reminderOffsets": "24h"}),
        ] {
            let e = parse(bad.clone(), provider).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
        }
        let e = parse(
            json!({"maxAdvanceDays": 0, "timeZone": "Nowhere"}),
            provider,
        )
        .unwrap_err();
        let mut fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["maxAdvanceDays", "timeZone"]);
    }
}
