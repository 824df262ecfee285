//! The SMART Scheduling Links feed (issue 23, section 2; DESIGN.md section 18): `write-slot-feed` runs
//! every few minutes and writes the feed's NDJSON files and what it published to the feed bucket;
//! `GET /fhir/$bulk-publish` answers the manifest from there, each file a presigned S3 URL, so finders
//! poll static objects and never the table. A file is written only when its content changed, and its
//! `lastModified` is when it did: `_since` lists the files changed after it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::location::Location;
use crate::domain::smart::{self, Booking, File, Published};
use crate::domain::{Clock, UtcTime};
use crate::store::directory::Listing;
use crate::store::keys::Range;
use crate::store::{Store, StoreError};

/// Where the feed's objects live in its bucket.
pub const PREFIX: &str = "slot-feed/";
/// What the writer published: the files, when each changed, the transaction time.
pub const PUBLISHED_KEY: &str = "slot-feed/published.json";

/// How long a presigned file URL works: the manifest is cached 5 minutes, so a client that read it
/// has 55 more to fetch the files.
pub const URL_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the feed bucket: {0}")]
    S3(String),
    #[error("what was published does not read: {0}")]
    Corrupt(String),
}

fn s3_error<E: std::error::Error + Send + Sync + 'static>(
    e: aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> FeedError {
    FeedError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

/// Reads what was last published; `None` before the first run.
async fn published(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<Published>, FeedError> {
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(PUBLISHED_KEY)
        .send()
        .await;
    let object = match got {
        Ok(o) => o,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(s3_error(e)),
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| FeedError::S3(e.to_string()))?
        .into_bytes();
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| FeedError::Corrupt(e.to_string()))
}

pub struct FeedWriter {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub booking: Booking,
    /// How far ahead slots are published.
    pub days: u32,
    pub clock: Clock,
}

/// The feed's lines, gathered from the table.
struct Lines {
    locations: Vec<Value>,
    schedules: Vec<Value>,
    /// Slot lines by the state of their location.
    slots: BTreeMap<String, Vec<Value>>,
}

impl FeedWriter {
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &aws_config::SdkConfig,
    ) -> Result<FeedWriter, crate::config::ConfigError> {
        use crate::config::Config;
        Ok(FeedWriter {
            store: Store::from_config(config, sdk)?,
            s3: crate::audit::s3_client(sdk),
            bucket: Config::require(&config.slot_feed.bucket, "FEED_BUCKET")?,
            booking: config.slot_feed.booking.clone(),
            days: config.slot_feed.days,
            clock: Clock::System,
        })
    }

    /// Every active physical location, every provider in the directory, and each provider's slots of
    /// the coming days at those locations. One Query for the locations and the directory each (a page
    /// per 1 MB), one a provider for their slots.
    async fn lines(&self, now: UtcTime) -> Result<Lines, FeedError> {
        let to = now.plus(jiff::SignedDuration::from_hours(24 * i64::from(self.days)));
        let all: Vec<Location> = self
            .store
            .all_pages(Range::locations_by_name().query(&self.store))
            .await?;
        let mut places: HashMap<String, (Uuid, String)> = HashMap::new();
        let mut locations = vec![];
        for l in all.iter().filter(|l| l.active) {
            if let Some(line) = smart::location(l, &self.booking) {
                let state = line["address"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                places.insert(l.id.to_string(), (l.id, state));
                locations.push(line);
            }
        }
        let providers: Vec<Listing> = self
            .store
            .all_pages(Range::directory(&crate::domain::profile::Facet::All).query(&self.store))
            .await?;
        let mut schedules: BTreeMap<Uuid, Value> = BTreeMap::new();
        let mut slots: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for p in &providers {
            let mine = self.store.slots_between(p.provider_id, now, to).await?;
            let mut types: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
            for s in &mine {
                let Some((location, state)) = s.location_id.as_ref().and_then(|l| places.get(l))
                else {
                    continue;
                };
                if let Some(line) = smart::slot(s, *location, &self.booking) {
                    types
                        .entry(*location)
                        .or_default()
                        .extend(s.allowed_appointment_types.iter().copied());
                    slots.entry(state.clone()).or_default().push(line);
                }
            }
            for (location, admitted) in types {
                let admitted: Vec<Uuid> = admitted.into_iter().collect();
                schedules.insert(
                    smart::schedule_id(p.provider_id, location),
                    smart::schedule(p.provider_id, location, &admitted),
                );
            }
        }
        Ok(Lines {
            locations,
            schedules: schedules.into_values().collect(),
            slots,
        })
    }

    /// One run: the feed read from the table, each file whose content changed written, and what was
    /// published recorded. Returns it.
    pub async fn run(&self) -> Result<Published, FeedError> {
        let now = self.clock.now();
        let before = published(&self.s3, &self.bucket).await?;
        let lines = self.lines(now).await?;
        let mut files: Vec<(String, String, Vec<String>, Vec<Value>)> = vec![
            (
                "Location".into(),
                format!("{PREFIX}locations.ndjson"),
                vec![],
                lines.locations,
            ),
            (
                "Schedule".into(),
                format!("{PREFIX}schedules.ndjson"),
                vec![],
                lines.schedules,
            ),
        ];
        for (state, slots) in lines.slots {
            // A state's code as given (MA, NRW): only letters and digits go into the key.
            let key: String = state.chars().filter(char::is_ascii_alphanumeric).collect();
            files.push((
                "Slot".into(),
                format!("{PREFIX}slots-{key}.ndjson"),
                vec![state],
                slots,
            ));
        }
        let mut out = vec![];
        let mut changed = false;
        for (kind, key, states, content) in files {
            let body = smart::ndjson(&content);
            let sha256 = crate::store::sha256_hex(body.as_bytes());
            let kept = before
                .as_ref()
                .and_then(|b| b.files.iter().find(|f| f.key == key && f.sha256 == sha256));
            let last_modified = match kept {
                Some(f) => f.last_modified,
                None => {
                    self.s3
                        .put_object()
                        .bucket(&self.bucket)
                        .key(&key)
                        .content_type("application/fhir+ndjson")
                        .body(ByteStream::from(body.into_bytes()))
                        .send()
                        .await
                        .map_err(s3_error)?;
                    changed = true;
                    now
                }
            };
            out.push(File {
                kind,
                key,
                states,
                last_modified,
                sha256,
                lines: content.len(),
            });
        }
        let same_files = before.as_ref().is_some_and(|b| {
            b.files
                .iter()
                .map(|f| &f.key)
                .eq(out.iter().map(|f| &f.key))
        });
        let published = Published {
            transaction_time: match &before {
                Some(b) if !changed && same_files => b.transaction_time,
                _ => now,
            },
            files: out,
        };
        if before.as_ref() != Some(&published) {
            let body =
                serde_json::to_vec(&published).map_err(|e| FeedError::Corrupt(e.to_string()))?;
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(PUBLISHED_KEY)
                .content_type("application/json")
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(s3_error)?;
        }
        tracing::info!(
            files = published.files.len(),
            slots = published
                .files
                .iter()
                .filter(|f| f.kind == "Slot")
                .map(|f| f.lines)
                .sum::<usize>(),
            changed,
            "slot feed written"
        );
        Ok(published)
    }
}

/// What `GET /fhir/$bulk-publish` reads: the feed bucket.
#[derive(Clone, Debug)]
pub struct FeedReader {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl FeedReader {
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &aws_config::SdkConfig,
    ) -> Option<FeedReader> {
        Some(FeedReader {
            s3: crate::audit::s3_client(sdk),
            bucket: config.slot_feed.bucket.clone()?,
        })
    }

    /// What was last published (`None` before the first run), and a presigned URL for each file.
    pub async fn read(&self) -> Result<Option<(Published, HashMap<String, String>)>, FeedError> {
        let Some(p) = published(&self.s3, &self.bucket).await? else {
            return Ok(None);
        };
        let presigning = aws_sdk_s3::presigning::PresigningConfig::expires_in(URL_TTL)
            .map_err(|e| FeedError::S3(e.to_string()))?;
        let mut urls = HashMap::new();
        for f in &p.files {
            let signed = self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(&f.key)
                .presigned(presigning.clone())
                .await
                .map_err(s3_error)?;
            urls.insert(f.key.clone(), signed.uri().to_owned());
        }
        Ok(Some((p, urls)))
    }
}
