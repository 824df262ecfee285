//! `POST /calendar/feeds`, `GET /calendar/feeds`, `DELETE /calendar/feeds/{id}` and the feed itself,
//! `GET /calendar/feeds/{token}.ics`, the one route without a JWT: calendar apps cannot send bearer
//! tokens, so the unguessable token in the URL is the credential (DESIGN.md section 7).

use lambda_http::{Body, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::views::{FeedView, Feeds, NewFeed};
use super::{base_url, caller, json, path_id, ApiError, Ctx, Reply, Request};
use crate::domain::ical::{calendar, FeedEvent};
use crate::domain::{Caller, Role};
use crate::store::feeds::{new_token, token_hash, Feed, FeedRole};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedRequest {
    /// Whose appointments: the caller's as a patient or as a provider (default: patient if the caller
    /// is one, else provider).
    #[serde(rename = "for")]
    role: Option<FeedRole>,
}

/// The role a caller may have a feed as.
fn role_of(who: &Caller, asked: Option<FeedRole>) -> Result<FeedRole, ApiError> {
    let has = |r: FeedRole| {
        who.has(match r {
            FeedRole::Patient => Role::Patient,
            FeedRole::Provider => Role::Provider,
        })
    };
    let role = asked.unwrap_or(if who.has(Role::Patient) {
        FeedRole::Patient
    } else {
        FeedRole::Provider
    });
    if has(role) {
        Ok(role)
    } else {
        Err(ApiError::forbidden(
            "a feed shows the caller's own appointments, as a patient or a provider",
        ))
    }
}

/// `POST /calendar/feeds`: one PutItem.
pub async fn create(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let body: FeedRequest = super::json_body_or_default(&req)?;
    let role = role_of(&who, body.role)?;
    let token = new_token();
    let feed = Feed {
        id: Uuid::new_v4(),
        owner_id: who.id,
        owner_role: role,
        token_hash: token_hash(&token),
        created_at: ctx.now(),
        revoked_at: None,
    };
    ctx.store.create_feed(&feed).await?;
    tracing::info!(feed_id = %feed.id, "calendar feed created");
    let url = format!("{}/calendar/feeds/{token}.ics", base_url(&req));
    let mut response = json(
        201,
        &NewFeed {
            feed: FeedView::from(&feed),
            token,
            url,
        },
    );
    response
        .headers_mut()
        .insert("cache-control", "no-store".parse().expect("a valid header"));
    Ok(response)
}

/// `GET /calendar/feeds`: the caller's feeds, without tokens.
pub async fn list(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let feeds = ctx.store.feeds_of(who.id).await?;
    Ok(json(
        200,
        &Feeds {
            data: feeds.iter().map(FeedView::from).collect(),
        },
    ))
}

/// `DELETE /calendar/feeds/{id}`: the feed revoked (its URL answers 404 from now on).
pub async fn revoke(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: Uuid = path_id(&req, "feed")?;
    let feed = ctx
        .store
        .revoke_feed(who.id, id, ctx.now())
        .await?
        .ok_or_else(|| ApiError::not_found("feed"))?;
    tracing::info!(feed_id = %id, "calendar feed revoked");
    Ok(json(200, &FeedView::from(&feed)))
}

/// `GET /calendar/feeds/{token}.ics`, no JWT: the owner's appointments as iCalendar. An unknown,
/// malformed or revoked token is 404 (problem+json), whatever it looks like.
pub async fn ics(ctx: &Ctx, req: Request) -> Reply {
    let raw: String = path_id(&req, "feed")?;
    let token = raw.strip_suffix(".ics").unwrap_or(&raw);
    let well_formed = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    let feed = match well_formed {
        true => ctx.store.live_feed(token).await?,
        false => None,
    }
    .ok_or_else(|| ApiError::not_found("feed"))?;
    let now = ctx.now();
    let events = ctx.store.feed_events(&feed, now).await?;
    let shown: Vec<FeedEvent<'_>> = events
        .iter()
        .map(|(a, room)| FeedEvent {
            appointment: a,
            room: room.as_deref(),
        })
        .collect();
    let body = calendar("Clinic appointments", &shown, now);
    tracing::info!(feed_id = %feed.id, events = shown.len(), "calendar feed read");
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/calendar; charset=utf-8")
        .header("cache-control", "private, max-age=300")
        .body(Body::Text(body))
        .expect("a valid response"))
}
