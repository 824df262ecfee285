//! Calendar feeds (DESIGN.md sections 4, 7 and 11): a feed is found by the SHA-256 of its secret token
//! (the token itself is never stored), listed by its owner on GSI1, and revoked by setting `revokedAt`
//! (nothing is deleted). A feed's body is its owner's appointments from 30 days ago to a year ahead.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::items::{item, Range, Stored};
use super::keys::{self, Key};
use super::{from_item, s, Store, StoreError};
use crate::domain::{Appointment, ConsultationType, PatientId, ProviderId, Slot, UtcTime};

/// Whose appointments a feed shows: its owner's as a patient, or as a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FeedRole {
    Patient,
    Provider,
}

/// A feed as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feed {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub owner_role: FeedRole,
    /// SHA-256 of the token, hex: the feed's key.
    pub token_hash: String,
    pub created_at: UtcTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<UtcTime>,
}

impl Stored for Feed {
    fn key(&self) -> Key {
        keys::feed(&self.token_hash)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::owner_feeds(self.owner_id)),
            (keys::GSI1SK, keys::by_start(self.created_at, self.id)),
        ]
    }
}

/// The SHA-256 of a token, as lower-case hex.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new secret token: 244 random bits (two v4 UUIDs) as 64 hex characters.
pub fn new_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// A feed shows at most this many appointments (the nearest first from 30 days ago): a year of a busy
/// provider would otherwise pass Lambda's 6 MB response limit. About 400 bytes each: 2 MB.
pub const MAX_EVENTS: usize = 5_000;

/// How far back and ahead a feed reaches.
pub const BACK: SignedDuration = SignedDuration::from_hours(24 * 30);
pub const AHEAD: SignedDuration = SignedDuration::from_hours(24 * 366);

impl Range {
    /// An owner's feeds, oldest first.
    pub fn owner_feeds(owner: Uuid) -> Range {
        Range::on(keys::GSI1, keys::owner_feeds(owner), None, None)
    }
}

impl Store {
    /// Puts a new feed (its key is its token's hash, so a clash is a token drawn twice: an error).
    pub async fn create_feed(&self, feed: &Feed) -> Result<(), StoreError> {
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(feed)?))
            .condition_expression("attribute_not_exists(PK)");
        match super::retry::made(
            super::retry::answered("create feed", || put.clone().send()).await?,
        )? {
            true => Ok(()),
            false => Err(StoreError::Corrupt(
                "a fresh feed token already exists".into(),
            )),
        }
    }

    /// Every feed of `owner`, revoked ones too (one Query per page).
    pub async fn feeds_of(&self, owner: Uuid) -> Result<Vec<Feed>, StoreError> {
        self.all_pages(Range::owner_feeds(owner).query(self)).await
    }

    /// The feed a token opens, unless it is unknown or revoked.
    pub async fn live_feed(&self, token: &str) -> Result<Option<Feed>, StoreError> {
        let feed: Option<Feed> = self
            .get(&keys::feed(&token_hash(token)))
            .await?
            .map(from_item)
            .transpose()?;
        Ok(feed.filter(|f| f.revoked_at.is_none()))
    }

    /// Revokes `owner`'s feed `id`: the feed as it ends up, or `None` if the owner has no such feed.
    /// Revoking a revoked feed answers it unchanged.
    pub async fn revoke_feed(
        &self,
        owner: Uuid,
        id: Uuid,
        now: UtcTime,
    ) -> Result<Option<Feed>, StoreError> {
        let Some(mut feed) = self.feeds_of(owner).await?.into_iter().find(|f| f.id == id) else {
            return Ok(None);
        };
        if feed.revoked_at.is_some() {
            return Ok(Some(feed));
        }
        let update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&feed.key())))
            .update_expression("SET revokedAt = if_not_exists(revokedAt, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", s(now.to_string()));
        super::retry::answered("revoke feed", || update.clone().send())
            .await?
            .map_err(StoreError::from)?;
        feed.revoked_at = Some(now);
        Ok(Some(feed))
    }

    /// What a feed shows: the owner's appointments starting from 30 days before `now` to a year after,
    /// soonest first, at most [`MAX_EVENTS`], each with its slot's room for an in-person visit.
    pub async fn feed_events(
        &self,
        feed: &Feed,
        now: UtcTime,
    ) -> Result<Vec<(Appointment, Option<String>)>, StoreError> {
        let (from, to) = (Some(now.plus(-BACK)), Some(now.plus(AHEAD)));
        let range = match feed.owner_role {
            FeedRole::Patient => {
                Range::patient_appointments(PatientId::from_uuid(feed.owner_id), from, to)
            }
            FeedRole::Provider => {
                Range::provider_appointments(ProviderId::from_uuid(feed.owner_id), from, to)
            }
        };
        let appointments: Vec<Appointment> = self
            .pages_up_to(range.query(self).limit(500), MAX_EVENTS)
            .await?;
        let rooms: Vec<Key> = appointments
            .iter()
            .filter(|a| a.consultation_type == ConsultationType::InPerson)
            .map(|a| keys::slot(a.slot_id))
            .collect();
        let slots = self.get_many(&rooms).await?;
        Ok(appointments
            .into_iter()
            .map(|a| {
                let room = slots
                    .get(&keys::slot(a.slot_id))
                    .cloned()
                    .and_then(|i| from_item::<Slot>(i).ok())
                    .and_then(|s| s.room_number);
                (a, room)
            })
            .collect())
    }
}
