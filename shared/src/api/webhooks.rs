//! `POST /webhooks`, `GET /webhooks`, `GET`, `PATCH` and `DELETE /webhooks/{id}`,
//! `POST /webhooks/{id}/rotate-secret` and `GET /webhooks/{id}/deliveries` (issue 23, DESIGN.md
//! section 18): endpoints outside AWS that get the bus's events in the Standard Webhooks format.
//! Staff and admins only. A secret is shown once, when it is made; never again, never in a log.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    caller, json, json_body, path_id, staff_only, ApiError, Checks, Code, Ctx, Query, Reply,
    Request,
};
use crate::domain::webhook::{Attempt, DisabledReason, Secret, Webhook, ROTATION_OVERLAP};
use crate::domain::UtcTime;
use crate::store::webhooks::WebhookError;

const MANAGE: &str = "manage webhooks";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    /// https to a public host (checked again, after resolution, at every delivery).
    url: String,
    /// Event types (`appointment.created`), or a prefix and `*` (`appointment.*`, `*`): 1 to 50.
    events: Vec<String>,
    /// At most 500 characters.
    description: Option<String>,
}

/// An endpoint as shown: never its secrets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    id: Uuid,
    url: String,
    events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// False when a person or deliveries turned it off; `PATCH` `active: true` turns it on again.
    active: bool,
    /// Why deliveries turned it off: `gone` (it answered 410) or `failing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<DisabledReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_at: Option<UtcTime>,
    /// Deliveries in a row whose every attempt failed.
    consecutive_failures: u32,
    /// Until when the secret a rotation replaced still signs, beside the new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_until: Option<UtcTime>,
    created_at: UtcTime,
    updated_at: UtcTime,
}

impl From<&Webhook> for WebhookView {
    fn from(w: &Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: w.url.clone(),
            events: w.events.clone(),
            description: w.description.clone(),
            active: w.active,
            disabled_reason: w.disabled_reason,
            disabled_at: w.disabled_at,
            consecutive_failures: w.consecutive_failures,
            previous_secret_until: w.previous_secret_until,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// An endpoint with its secret: the answer to creating one and to rotating its secret, the only
/// times the secret is shown.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    webhook: WebhookView,
    /// `whsec_` and base64 of 32 random bytes: verify deliveries with it (any Standard Webhooks
    /// library does). Shown this once.
    secret: String,
}

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhooks {
    data: Vec<WebhookView>,
}

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deliveries {
    /// Newest first; each attempt of a delivery is one entry (bodies are never kept).
    data: Vec<Attempt>,
}

/// The field errors of an endpoint as it would be stored.
fn check(ctx: &Ctx, w: &Webhook) -> Result<(), ApiError> {
    let problems = w.problems(ctx.config.webhooks.reach);
    ApiError::unless(problems.iter().map(|(f, m)| (*f, m.as_str())).collect())?;
    let mut checks = Checks::default();
    checks.text(&w.description, "description", 500);
    checks.finish()
}

fn store_error(e: WebhookError) -> ApiError {
    match e {
        WebhookError::TooMany => ApiError::new(Code::TooManyWebhooks, e.to_string()),
        WebhookError::Store(s) => s.into(),
    }
}

/// A deleted endpoint (kept until the table's TTL removes it) is no endpoint.
fn live(w: &Webhook) -> Result<(), ApiError> {
    match w.deleted_at {
        Some(_) => Err(ApiError::not_found("webhook")),
        None => Ok(()),
    }
}

/// The endpoint a request's `id` names, or 404.
async fn found(ctx: &Ctx, req: &Request) -> Result<Webhook, ApiError> {
    let id: Uuid = path_id(req, "id")?;
    ctx.store
        .webhook(id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

fn no_store(mut response: lambda_http::Response<lambda_http::Body>) -> Reply {
    super::set_header(&mut response, "cache-control", "no-store");
    Ok(response)
}

/// `POST /webhooks`: 201 with the endpoint and its secret. One transaction (the endpoint, the count).
pub async fn create(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let body: NewWebhook = json_body(&req)?;
    let w = Webhook::new(&body.url, body.events, body.description, ctx.now());
    check(ctx, &w)?;
    ctx.store.create_webhook(&w).await.map_err(store_error)?;
    tracing::info!(webhook_id = %w.id, "webhook created");
    no_store(super::created(
        201,
        &WebhookWithSecret {
            webhook: WebhookView::from(&w),
            secret: w.secret.text(),
        },
        format!("/webhooks/{}", w.id),
        false,
    ))
}

/// `GET /webhooks`: every endpoint (at most 25), one Query.
pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let all = ctx.store.webhooks().await?;
    Ok(json(
        200,
        &Webhooks {
            data: all.iter().map(WebhookView::from).collect(),
        },
    ))
}

/// `GET /webhooks/{id}`: one GetItem.
pub async fn get(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let w = found(ctx, &req).await?;
    Ok(json(200, &WebhookView::from(&w)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookPatch {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    /// false turns it off; true turns it on again and forgets its failures.
    active: Option<bool>,
}

/// `PATCH /webhooks/{id}`: the fields given, under the endpoint's version (read again when it changed
/// meanwhile). Two requests.
pub async fn update(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let id: Uuid = path_id(&req, "id")?;
    let body: WebhookPatch = json_body(&req)?;
    let mut checks = Checks::default();
    checks.check(
        body.url.is_some()
            || body.events.is_some()
            || body.description.is_some()
            || body.active.is_some(),
        "body",
        "nothing to update",
    );
    checks.finish()?;
    let edit = |w: &mut Webhook| {
        live(w)?;
        if let Some(v) = &body.url {
            w.url = v.trim().to_owned();
        }
        if let Some(v) = &body.events {
            w.events = v.clone();
        }
        if let Some(v) = &body.description {
            w.description = Some(v.clone());
        }
        match body.active {
            Some(true) if !w.active => w.enable(),
            Some(false) => w.active = false,
            _ => {}
        }
        check(ctx, w)
    };
    let w = ctx
        .store
        .update_webhook(id, ctx.now(), edit)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    tracing::info!(webhook_id = %id, active = w.active, "webhook updated");
    Ok(json(200, &WebhookView::from(&w)))
}

/// `DELETE /webhooks/{id}`: 200 with the endpoint as it was; deliveries waiting for it are dropped
/// when they come up. A GetItem, then one transaction.
pub async fn delete(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let w = found(ctx, &req).await?;
    if !ctx.store.delete_webhook(w.id, ctx.now()).await? {
        return Err(ApiError::not_found("webhook"));
    }
    tracing::info!(webhook_id = %w.id, "webhook deleted");
    Ok(json(200, &WebhookView::from(&w)))
}

/// `POST /webhooks/{id}/rotate-secret`: a new secret, shown once; the one it replaces still signs,
/// beside it, for 24 hours (a second rotation within them drops the oldest).
pub async fn rotate(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let id: Uuid = path_id(&req, "id")?;
    let now = ctx.now();
    let fresh = Secret::generate();
    let edit = |w: &mut Webhook| -> Result<(), ApiError> {
        live(w)?;
        w.previous_secret = Some(std::mem::replace(&mut w.secret, fresh.clone()));
        w.previous_secret_until = Some(now.plus(ROTATION_OVERLAP));
        Ok(())
    };
    let w = ctx
        .store
        .update_webhook(id, now, edit)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    tracing::info!(webhook_id = %id, "webhook secret rotated");
    no_store(json(
        200,
        &WebhookWithSecret {
            webhook: WebhookView::from(&w),
            secret: w.secret.text(),
        },
    ))
}

/// `GET /webhooks/{id}/deliveries`: the latest attempts (`limit`, 1 to 100, default 50), newest first;
/// the log keeps 7 days. Two requests.
pub async fn deliveries(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    staff_only(&who, MANAGE)?;
    let mut q = Query::of(&req);
    let limit: i32 = q
        .optional("limit", "must be a whole number from 1 to 100")
        .unwrap_or(50);
    if !(1..=100).contains(&limit) {
        q.fail("limit", "must be a whole number from 1 to 100");
    }
    q.finish()?;
    let w = found(ctx, &req).await?;
    let data = ctx.store.attempts(w.id, limit).await?;
    Ok(json(200, &Deliveries { data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_endpoint_has_no_secret() {
        let now: UtcTime = "2031-03-04T10:00:00Z".parse().unwrap();
        let mut w = Webhook::new("https://hooks.example.com/x", vec!["*".into()], None, now);
        w.previous_secret = Some(Secret::generate());
        w.previous_secret_until = Some(now);
        let shown = serde_json::to_string(&WebhookView::from(&w)).unwrap();
        assert!(
            !shown.contains("whsec_") && !shown.contains("ecret\""),
            "{shown}"
        );
    }
}
