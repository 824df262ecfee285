//! `POST /calendar/feeds`, `GET /calendar/feeds`, `DELETE /calendar/feeds/{id}` and the feed itself,
//! `GET /calendar/feeds/{token}.ics`, the one route without a JWT: calendar apps cannot send bearer
//! tokens, so the unguessable token in the URL is the credential (DESIGN.md section 7).

use lambda_http::{Body, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::views::{FeedView, Feeds, NewFeed};
use super::{base_url, caller, json, path_id, ApiError, Code, Ctx, Reply, Request};
use crate::domain::ical::{calendar, FeedEvent};
use crate::domain::{Caller, Role};
use crate::store::feeds::{new_token, token_hash, Feed, FeedError, FeedRole};

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

/// `POST /calendar/feeds`: one transaction (the feed, its id item, its owner's count: at most 20
/// active).
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
    ctx.store.create_feed(&feed).await.map_err(|e| match e {
        FeedError::TooMany => ApiError::new(Code::TooManyFeeds, e.to_string()),
        FeedError::Store(s) => s.into(),
    })?;
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
    super::set_header(&mut response, "cache-control", "no-store");
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

/// `GET` or `HEAD /calendar/feeds/{token}.ics`, no JWT: the owner's appointments as iCalendar. One
/// form only (`<64 hex>.ics`; API Gateway routes `/x/` as `/x`, so the raw path is read too); anything
/// else, or a revoked token, is 404 (problem+json). A weak ETag counts the owner's appointment changes
/// and the day (the window moves daily): with `If-None-Match` of it, 304 and no body, after two reads.
pub async fn ics(ctx: &Ctx, req: Request) -> Reply {
    let raw: String = path_id(&req, "feed")?;
    let exact = req.uri().path().ends_with(".ics");
    let token = raw
        .strip_suffix(".ics")
        .filter(|t| exact && t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    let feed = match token {
        Some(t) => ctx.store.live_feed(t).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("feed"))?;
    let now = ctx.now();
    let tag = ctx
        .store
        .feed_changes(feed.owner_id)
        .await?
        .map(|changes| etag(changes, now));
    let head = req.method() == lambda_http::http::Method::HEAD;
    let cached = |mut response: Response<Body>| {
        super::set_header(&mut response, "cache-control", "private, max-age=300");
        if let Some(t) = &tag {
            super::set_header(&mut response, "etag", t.as_str());
        }
        response
    };
    if let Some(t) = &tag {
        let asked = req
            .headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if none_match_hits(asked, t) {
            let mut unchanged = Response::new(Body::Empty);
            *unchanged.status_mut() = lambda_http::http::StatusCode::NOT_MODIFIED;
            return Ok(cached(unchanged));
        }
    }
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
    let body = if head { Body::Empty } else { Body::Text(body) };
    Ok(cached(super::respond(
        200,
        "text/calendar; charset=utf-8",
        body,
    )))
}

/// A feed's ETag: weak (the body's DTSTAMP moves with every read), from the owner's count of
/// appointment changes and the UTC day.
fn etag(changes: u64, now: crate::domain::UtcTime) -> String {
    let day = now.timestamp().to_zoned(jiff::tz::TimeZone::UTC).date();
    format!("W/\"{changes}-{day}\"")
}

/// Whether `If-None-Match` names `tag`, by the weak comparison (RFC 9110 section 13.1.2): `*`, or a
/// listed tag whose opaque part is the same, `W/` or not.
fn none_match_hits(asked: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    asked.trim() == "*"
        || asked
            .split(',')
            .any(|t| !t.trim().is_empty() && opaque(t) == opaque(tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn if_none_match_compares_weakly() {
        let tag = etag(7, "2030-01-01T10:00:00Z".parse().unwrap());
        assert_eq!(tag, "W/\"7-2030-01-01\"");
        for hit in [
            "W/\"7-2030-01-01\"",
            "\"7-2030-01-01\"",
            "\"x\", W/\"7-2030-01-01\"",
            "*",
        ] {
            assert!(none_match_hits(hit, &tag), "{hit}");
        }
        for miss in ["", "W/\"8-2030-01-01\"", "\"7-2030-01-02\"", "7-2030-01-01"] {
            assert!(!none_match_hits(miss, &tag), "{miss}");
        }
    }

    proptest! {
        #[test]
        fn no_if_none_match_value_panics(value in ".*") {
            let _ = none_match_hits(&value, "W/\"1-2030-01-01\"");
        }
    }
}
