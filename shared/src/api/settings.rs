//! `GET` and `PUT /providers/{providerId}/settings`: the provider, staff and admins read and replace a
//! provider's time zone, booking rules and terms. `GET` answers every setting in force (defaults
//! included); `PUT` replaces what the provider set (a field left out or null follows the default again)
//! and takes back what `GET` answered, so read-modify-write needs no editing of read-only fields.
//! Both answer an `ETag` (how many times the settings were replaced); a `PUT` with `If-Match` applies
//! only while the settings are still that version (412 `precondition_failed` otherwise, nothing
//! written), so two editors cannot silently undo each other.

use super::views::SettingsView;
use super::{caller, json_body, path_id, ApiError, Ctx, Reply, Request};
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
    super::etag::tagged(settings.version, &SettingsView::from(settings))
}

fn stale() -> ApiError {
    super::etag::stale("the settings")
}

pub async fn put(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let provider: ProviderId = path_id(&req, "providerId")?;
    // Who may is known before anything of the body is read.
    may_manage(&who, provider)?;
    let settings = parse(json_body(&req)?, provider)?;
    let expected = super::etag::if_match(&req, "the settings")?;
    let stored = ctx
        .store
        .put_settings(provider, &settings, expected, ctx.now())
        .await?
        .ok_or_else(stale)?;
    tracing::info!(provider_id = %provider, version = stored.version, "provider settings replaced");
    Ok(tagged(stored))
}

/// The settings of a `PUT` body, canonical.
fn parse(body: serde_json::Value, provider: ProviderId) -> Result<Settings, ApiError> {
    super::etag::replacement(body, provider, "the settings", Settings::problems)
        .map(Settings::canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
