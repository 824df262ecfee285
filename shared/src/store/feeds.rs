//! Calendar feeds (DESIGN.md sections 4, 7 and 11): a feed is found by the SHA-256 of its secret token
//! (the token itself is never stored), listed by its owner on GSI1, and revoked by setting `revokedAt`
//! (nothing is deleted). A feed's body is its owner's appointments from 30 days ago to a year ahead.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::items::{item, Stored};
use super::keys::Range;
use super::keys::{self, Key};
use super::{from_item, n, s, Store, StoreError};
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
    super::sha256_hex(token.as_bytes())
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

/// Active feeds an owner may have: each is polled every few minutes by a calendar app.
pub const MAX_ACTIVE_FEEDS: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("at most {MAX_ACTIVE_FEEDS} calendar feeds may be active; revoke one first")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<aws_sdk_dynamodb::error::BuildError> for FeedError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        FeedError::Store(e.into())
    }
}

/// A feed's id item: its token's hash and owner, so a feed is found by its id without an index.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedById {
    id: Uuid,
    owner_id: Uuid,
    token_hash: String,
}

impl Stored for FeedById {
    fn key(&self) -> Key {
        keys::feed_by_id(self.id)
    }
}

/// An owner's feeds as one item: how many are active, and how many times the owner's appointments
/// changed (`publish` counts them), which with the date is a feed's ETag.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerFeeds {
    #[serde(default)]
    pub active: u32,
    #[serde(default)]
    pub changes: u64,
}

impl Store {
    /// Puts a new feed, its id item, and one more active feed on its owner, in one transaction: at
    /// most [`MAX_ACTIVE_FEEDS`] active, however many requests race.
    pub async fn create_feed(&self, feed: &Feed) -> Result<(), FeedError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Feed,
            ById,
            Count,
        }
        let new = |item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .build()
        };
        let by_id = FeedById {
            id: feed.id,
            owner_id: feed.owner_id,
            token_hash: feed.token_hash.clone(),
        };
        let count =
            self.count_one_more(&keys::owner_feeds_state(feed.owner_id), MAX_ACTIVE_FEEDS)?;
        let mut writes = super::Writes::new();
        writes.add(
            W::Feed,
            TransactWriteItem::builder().put(new(item(feed)?)?).build(),
        );
        writes.add(
            W::ById,
            TransactWriteItem::builder()
                .put(new(item(&by_id)?)?)
                .build(),
        );
        writes.add(W::Count, TransactWriteItem::builder().update(count).build());
        let refused =
            super::conditional::patiently("create feed", || self.commit(writes.clone())).await?;
        match refused {
            None => Ok(()),
            Some(r) if r.has(W::Count) => Err(FeedError::TooMany),
            Some(_) => {
                Err(StoreError::Corrupt("a fresh feed token or id already exists".into()).into())
            }
        }
    }

    /// Every feed of `owner`, revoked ones too (one Query per page).
    pub async fn feeds_of(&self, owner: Uuid) -> Result<Vec<Feed>, StoreError> {
        self.all_pages(Range::owner_feeds(owner).query(self)).await
    }

    /// The feed a token opens, unless it is unknown or revoked.
    pub async fn live_feed(&self, token: &str) -> Result<Option<Feed>, StoreError> {
        let feed: Option<Feed> = self.read(&keys::feed(&token_hash(token))).await?;
        Ok(feed.filter(|f| f.revoked_at.is_none()))
    }

    /// How many times `owner`'s appointments changed, as `publish` counted them; `None` for an owner
    /// whose feeds came before the count (their feeds have no ETag).
    pub async fn feed_changes(&self, owner: Uuid) -> Result<Option<u64>, StoreError> {
        Ok(self
            .read::<OwnerFeeds>(&keys::owner_feeds_state(owner))
            .await?
            .map(|o| o.changes))
    }

    /// Counts a change of an appointment of `owner` (a patient's or a provider's), where the owner has
    /// feeds: a no-op for anyone else (the condition fails, which is no error).
    pub async fn count_feed_change(&self, owner: Uuid) -> Result<(), StoreError> {
        let update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::owner_feeds_state(owner))))
            .update_expression("ADD changes :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1));
        super::conditional::made(
            super::conditional::answered("count a feed change", || update.clone().send()).await?,
        )?;
        Ok(())
    }

    /// Revokes `owner`'s feed `id`: the feed as it ends up, or `None` if the owner has no such feed.
    /// Revoking a revoked feed answers it unchanged. The feed is found by its id item (consistent, so a
    /// feed made a moment ago is found), or for a feed made before id items existed, among the owner's.
    pub async fn revoke_feed(
        &self,
        owner: Uuid,
        id: Uuid,
        now: UtcTime,
    ) -> Result<Option<Feed>, StoreError> {
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let by_id: Option<FeedById> = self.read(&keys::feed_by_id(id)).await?;
        let counted = by_id.is_some();
        let feed: Option<Feed> = match by_id {
            Some(f) if f.owner_id == owner => self.read(&keys::feed(&f.token_hash)).await?,
            Some(_) => None,
            None => self.feeds_of(owner).await?.into_iter().find(|f| f.id == id),
        };
        let Some(mut feed) = feed.filter(|f| f.owner_id == owner) else {
            return Ok(None);
        };
        if feed.revoked_at.is_some() {
            return Ok(Some(feed));
        }
        let revoke = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&feed.key())))
            .update_expression("SET revokedAt = :now")
            .condition_expression("attribute_not_exists(revokedAt)")
            .expression_attribute_values(":now", s(now.to_string()))
            .build()?;
        let mut writes = vec![TransactWriteItem::builder().update(revoke).build()];
        if counted {
            // One active feed fewer for its owner (counted when it was made).
            let count = self.count_one_fewer(&keys::owner_feeds_state(owner))?;
            writes.push(TransactWriteItem::builder().update(count).build());
        }
        let refused =
            super::conditional::patiently("revoke feed", || self.transact(writes.clone())).await?;
        if refused.is_some() {
            // Revoked meanwhile by another request: as it is now.
            return self.read(&feed.key()).await;
        }
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
