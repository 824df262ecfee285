//! `GET` and `PUT /providers/{providerId}`: a provider's directory profile (issue 20, DESIGN.md
//! section 15), what patients choose a provider by; never PHI. The provider, staff and admins replace
//! it; anyone signed in reads it. Versioned like the settings: an `ETag`, and `If-Match` on `PUT`
//! (412 `precondition_failed` on a stale version, nothing written). `PUT` takes back what `GET`
//! answered (`providerId` and `updatedAt` are read-only).

use super::views::ProviderView;
use super::{caller, json_body, path_id, ApiError, Ctx, Reply, Request};
use crate::domain::profile::Profile;
use crate::domain::ProviderId;

const WHAT: &str = "the profile";

pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let provider: ProviderId = path_id(&req, "providerId")?;
    let entry = ctx
        .store
        .provider_entry(provider)
        .await?
        .ok_or_else(|| ApiError::not_found("provider profile"))?;
    Ok(super::etag::tagged(
        entry.version,
        &ProviderView::from(entry),
    ))
}

pub async fn put(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let provider: ProviderId = path_id(&req, "providerId")?;
    // Who may is known before anything of the body is read.
    if !who.may_act_for_provider(provider) {
        return Err(ApiError::forbidden(
            "only the provider, staff or an admin may change the provider's profile",
        ));
    }
    let profile = parse(json_body(&req)?, provider)?;
    let expected = super::etag::if_match(&req, WHAT)?;
    let entry = ctx
        .store
        .put_profile(provider, &profile, expected, ctx.now())
        .await?
        .ok_or_else(|| super::etag::stale(WHAT))?;
    tracing::info!(provider_id = %provider, version = entry.version, "provider profile replaced");
    Ok(super::etag::tagged(
        entry.version,
        &ProviderView::from(entry),
    ))
}

/// `GET /providers?specialty&language&region&locationId&appointmentTypeId&limit&cursor` (anyone
/// signed in): the active providers listed under every filter given, by name; one Query a page, on the
/// most selective filter's partition of the directory (a read model `publish` keeps), the others
/// filtered there. A page may hold fewer than `limit` when the filters drop some: follow `nextCursor`.
pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    caller(ctx, &req)?;
    let mut q = super::Query::of(&req);
    let super::ProfileFilters {
        specialty,
        language,
        region,
    } = q.profile_filters();
    let location: Option<uuid::Uuid> = q.optional("locationId", "must be a UUID");
    let appointment_type: Option<uuid::Uuid> = q.optional("appointmentTypeId", "must be a UUID");
    let limit: i32 = q
        .optional("limit", "must be a whole number from 1 to 100")
        .unwrap_or(50);
    if !(1..=100).contains(&limit) {
        q.fail("limit", "must be a whole number from 1 to 100");
    }
    let cursor = q.text("cursor");
    q.finish()?;
    let query = crate::store::directory::DirectoryQuery {
        specialty,
        language,
        region,
        location,
        appointment_type,
    };
    let start = cursor
        .map(|c| crate::store::keys::Range::directory(&query.facet()).cursor(&ctx.store.cursors, c))
        .transpose()
        .map_err(|e| ApiError::field("cursor", e.to_string()))?;
    let page = ctx.store.directory(&query, limit, start).await?;
    Ok(super::json(200, &super::views::Page::from(page)))
}

/// The profile of a `PUT` body, canonical.
fn parse(body: serde_json::Value, provider: ProviderId) -> Result<Profile, ApiError> {
    super::etag::replacement(body, provider, WHAT, Profile::problems).map(Profile::canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn a_put_takes_back_what_get_answered() {
        let provider = ProviderId::new();
        let got = json!({
            "providerId": provider.to_string(),
            "displayName": "Dr. Ana Ruiz",
            "specialties": [{"code": "207Q00000X", "display": "Family Medicine"}],
            "languages": ["es-mx", "en"],
            "telehealthRegions": ["US-CA"],
            "locationIds": [],
            "appointmentTypeIds": [],
            "acceptingNewPatients": false,
            "active": true,
            "updatedAt": "2030-01-01T00:00:00Z"
        });
        let p = parse(got, provider).unwrap();
        assert_eq!(p.languages, ["en", "es-MX"]);
        assert!(!p.accepting_new_patients);

        for (bad, field) in [
            (json!([]), "body"),
            (
                json!({"providerId": ProviderId::new().to_string(), "displayName": "A"}),
                "providerId",
            ),
            (json!({}), "body"),
            (json!({"displayName": "A", "languages": "en"}), "body"),
            (json!({"displayName": "A", "notes": "x"}), "body"),
            (
                json!({"displayName": "A", "languages": ["english"]}),
                "languages",
            ),
        ] {
            let e = parse(bad.clone(), provider).unwrap_err();
            assert_eq!(
                (e.status(), e.errors[0].field.as_str()),
                (400, field),
                "{bad}"
            );
        }
    }

    proptest! {
        /// No JSON body makes the parser panic; a refusal names a field.
        #[test]
        fn no_body_panics(name in ".{0,300}", lang in ".{0,20}", region in ".{0,12}") {
            let body = json!({"displayName": name, "languages": [lang], "telehealthRegions": [region]});
            match parse(body, ProviderId::new()) {
                Ok(p) => prop_assert!(p.problems().is_empty()),
                Err(e) => prop_assert!(!e.errors.is_empty()),
            }
        }
    }
}
