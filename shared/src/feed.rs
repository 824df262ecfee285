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
use crate::domain::{Clock, ProviderId, UtcTime};
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

/// How many days of providers' slots one Slot file holds, about: 100 providers at the 14 days
/// `SlotFeedDays` gives by default, 23 at its 60. The writer reads and writes the directory a part at
/// a time, so that what it holds at once is one part's lines, whatever the directory's size. A slot
/// line is 420 bytes, 520 with a booking phone: a part of 100 providers with 16 slots a day is some
/// 12 MB of text, where the whole feed of 10,000 providers is some 1.2 GB. `make bench-feed` at 100
/// providers: a run's peak 38.9 MB as one part, 20.1 MB in parts of 25, 16.1 MB in parts of 10 (the
/// process alone about 14 MB). Parts of 100 keep the files few: a finder fetches every one.
pub const PROVIDER_DAYS_PER_FILE: usize = 1_400;

/// About how many providers one Slot file holds when the feed publishes `days` days.
pub fn providers_per_file(days: u32) -> usize {
    (PROVIDER_DAYS_PER_FILE / (days.max(1) as usize)).max(1)
}

/// How many providers' slot Queries are in flight at once: a Query of one provider's days takes a
/// few milliseconds, and 10,000 one after another would be most of the function's 60 s.
const CONCURRENT_QUERIES: usize = 8;

pub struct FeedWriter {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub booking: Booking,
    /// How far ahead slots are published.
    pub days: u32,
    pub clock: Clock,
    /// [`providers_per_file`] of `days`, but for tests and benchmarks.
    pub providers_per_file: usize,
}

/// How many parts `providers` are split into, `per_file` or fewer to a part as the ids fall: a power
/// of two, so that when the directory grows past one, each part splits in two and the others' files
/// keep their content (and `lastModified`).
pub fn parts(providers: usize, per_file: usize) -> u64 {
    (providers.div_ceil(per_file.max(1)).max(1) as u64).next_power_of_two()
}

/// The part of `parts` a provider's slots are in: the low bits of its id, random in a v4 UUID (a
/// Cognito `sub`), so parts are about even and a provider stays in its part as others come and go.
pub fn part_of(provider: ProviderId, parts: u64) -> u64 {
    (provider.uuid().as_u128() % u128::from(parts)) as u64
}

/// The key of the Slot file of `state`'s slots in part `part`. A state's code of letters and digits
/// (MA, NRW) is the key's as it is; any other (a location's region is free text: "N-Y", "Île-de-France",
/// "New York") keeps its letters and digits and adds the first 8 hex digits of its SHA-256, so that two
/// states never share a file, where the second written would replace the first.
fn slot_key(state: &str, part: u64) -> String {
    let kept: String = state.chars().filter(char::is_ascii_alphanumeric).collect();
    if kept == state && !kept.is_empty() {
        return format!("{PREFIX}slots-{kept}-{part}.ndjson");
    }
    let hash = crate::store::sha256_hex(state.as_bytes());
    format!("{PREFIX}slots-{kept}-{}-{part}.ndjson", &hash[..8])
}

/// NDJSON lines being gathered into one file's body: each minified, one a line.
#[derive(Default)]
struct Body {
    text: String,
    lines: usize,
}

impl Body {
    fn push(&mut self, line: &Value) {
        self.push_text(&line.to_string());
    }

    fn push_text(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.lines += 1;
    }
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
            providers_per_file: providers_per_file(config.slot_feed.days),
        })
    }

    /// The file at `key` with `body`, as `before` published it when its content is the same, else
    /// written now.
    async fn file(
        &self,
        before: Option<&Published>,
        (kind, key, states): (&str, String, Vec<String>),
        body: Body,
        now: UtcTime,
    ) -> Result<File, FeedError> {
        let sha256 = crate::store::sha256_hex(body.text.as_bytes());
        let kept = before.and_then(|b| b.files.iter().find(|f| f.key == key && f.sha256 == sha256));
        let last_modified = match kept {
            Some(f) => f.last_modified,
            None => {
                self.s3
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .content_type("application/fhir+ndjson")
                    .body(ByteStream::from(body.text.into_bytes()))
                    .send()
                    .await
                    .map_err(s3_error)?;
                now
            }
        };
        Ok(File {
            kind: kind.to_owned(),
            key,
            states,
            last_modified,
            sha256,
            lines: body.lines,
        })
    }

    /// `provider`'s slots from `from` to `to`, with whose they are.
    async fn slots_of(
        &self,
        provider: ProviderId,
        from: UtcTime,
        to: UtcTime,
    ) -> Result<(ProviderId, Vec<crate::domain::slot::Slot>), FeedError> {
        Ok((
            provider,
            self.store.slots_between(provider, from, to).await?,
        ))
    }

    /// One run: the active physical locations, the directory, and each provider's slots of the
    /// coming days at those locations, read from the table (a Query for the locations and the
    /// directory each, a page per 1 MB, and one a provider, [`CONCURRENT_QUERIES`] at a time); each
    /// file whose content changed written; and what was published recorded, last, so that the
    /// manifest never names a file not yet written. Returns it.
    ///
    /// Slots are written a part of the directory at a time ([`parts`]): one file a state and part,
    /// so that the writer holds one part's lines at once, and a booking rewrites only its part's file
    /// of its state.
    pub async fn run(&self) -> Result<Published, FeedError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let now = self.clock.now();
        let to = now.plus(jiff::SignedDuration::from_hours(24 * i64::from(self.days)));
        let before = published(&self.s3, &self.bucket).await?;
        let before = before.as_ref();
        let all: Vec<Location> = self
            .store
            .all_pages(Range::locations_by_name().query(&self.store))
            .await?;
        let mut places: HashMap<String, (Uuid, String)> = HashMap::new();
        let mut locations = Body::default();
        for l in all.iter().filter(|l| l.active) {
            if let Some(line) = smart::location(l, &self.booking) {
                let state = line["address"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                places.insert(l.id.to_string(), (l.id, state));
                locations.push(&line);
            }
        }
        let providers: Vec<Listing> = self
            .store
            .all_pages(Range::directory(&crate::domain::profile::Facet::All).query(&self.store))
            .await?;
        let parts = parts(providers.len(), self.providers_per_file);
        // The providers of each part, in the directory's order: owned ids, and a named async fn below,
        // since a closure over borrowed listings would not be `Send` for every lifetime, which the
        // function's `tokio::spawn` of the run needs.
        let mut by_part: Vec<Vec<ProviderId>> = (0..parts).map(|_| vec![]).collect();
        for p in &providers {
            by_part[part_of(p.provider_id, parts) as usize].push(p.provider_id);
        }
        // Each provider at each location: a line, kept as text.
        let mut schedules: BTreeMap<Uuid, String> = BTreeMap::new();
        let mut slot_files = vec![];
        for (part, mine) in (0u64..).zip(by_part) {
            let mut read = stream::iter(mine)
                .map(|p| self.slots_of(p, now, to))
                .buffered(CONCURRENT_QUERIES);
            let mut by_state: BTreeMap<String, Body> = BTreeMap::new();
            while let Some((provider, slots)) = read.try_next().await? {
                let mut types: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
                for s in &slots {
                    let Some((location, state)) =
                        s.location_id.as_ref().and_then(|l| places.get(l))
                    else {
                        continue;
                    };
                    if let Some(line) = smart::slot(s, *location, &self.booking) {
                        types
                            .entry(*location)
                            .or_default()
                            .extend(s.allowed_appointment_types.iter().copied());
                        by_state.entry(state.clone()).or_default().push(&line);
                    }
                }
                for (location, admitted) in types {
                    let admitted: Vec<Uuid> = admitted.into_iter().collect();
                    schedules.insert(
                        smart::schedule_id(provider, location),
                        smart::schedule(provider, location, &admitted).to_string(),
                    );
                }
            }
            for (state, body) in by_state {
                let named = ("Slot", slot_key(&state, part), vec![state]);
                slot_files.push(self.file(before, named, body, now).await?);
            }
        }
        let mut schedule_lines = Body::default();
        for line in schedules.values() {
            schedule_lines.push_text(line);
        }
        let mut files = vec![
            self.file(
                before,
                ("Location", format!("{PREFIX}locations.ndjson"), vec![]),
                locations,
                now,
            )
            .await?,
            self.file(
                before,
                ("Schedule", format!("{PREFIX}schedules.ndjson"), vec![]),
                schedule_lines,
                now,
            )
            .await?,
        ];
        // Locations, schedules, then slot files by state, each state's in the order of its parts
        // (a stable sort of files written part by part).
        slot_files.sort_by(|a, b| a.states.cmp(&b.states));
        files.extend(slot_files);
        // The same files as before, each kept (a file written has a new hash or a new key): the same
        // transaction, and nothing to record.
        let unchanged = before.is_some_and(|b| b.files == files);
        let published = Published {
            transaction_time: match before {
                Some(b) if unchanged => b.transaction_time,
                _ => now,
            },
            files,
        };
        if !unchanged {
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
            parts,
            slots = published
                .files
                .iter()
                .filter(|f| f.kind == "Slot")
                .map(|f| f.lines)
                .sum::<usize>(),
            changed = !unchanged,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_one_minified_line_a_value() {
        let mut b = Body::default();
        b.push(&serde_json::json!({"a": 1}));
        b.push(&serde_json::json!(2));
        assert_eq!((b.text.as_str(), b.lines), ("{\"a\":1}\n2\n", 2));
    }

    #[test]
    fn states_written_differently_never_share_a_file() {
        assert_eq!(slot_key("MA", 3), format!("{PREFIX}slots-MA-3.ndjson"));
        let keys: BTreeSet<String> = [
            "NY",
            "N-Y",
            "N Y",
            "ny",
            "",
            "-",
            "Île-de-France",
            "le-de-France",
        ]
        .iter()
        .map(|s| slot_key(s, 0))
        .collect();
        assert_eq!(keys.len(), 8, "{keys:?}");
        for key in &keys {
            let name = key.strip_prefix(PREFIX).unwrap();
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)),
                "{key}"
            );
        }
    }

    #[test]
    fn a_file_holds_about_1400_provider_days() {
        assert_eq!(providers_per_file(14), 100);
        assert_eq!(providers_per_file(60), 23);
        assert_eq!(providers_per_file(1), 1_400);
        assert_eq!(providers_per_file(0), 1_400, "never a division by zero");
    }

    #[test]
    fn parts_are_a_power_of_two_with_about_so_many_providers_each() {
        assert_eq!(parts(0, 100), 1, "an empty directory: one part");
        assert_eq!(parts(100, 100), 1);
        assert_eq!(parts(101, 100), 2);
        assert_eq!(parts(300, 100), 4);
        assert_eq!(parts(10_000, 100), 128);
        assert_eq!(parts(5, 0), 8, "a part a provider at least");
        // 10,000 v4 ids from fixed random bytes (splitmix64), so the counts below are always the same.
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let providers: Vec<ProviderId> = (0..10_000)
            .map(|_| {
                let bytes = (u128::from(next()) << 64 | u128::from(next())).to_le_bytes();
                ProviderId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
            })
            .collect();
        let mut sizes = [0usize; 128];
        for p in &providers {
            sizes[part_of(*p, 128) as usize] += 1;
        }
        // 10,000 ids in 128 parts: about 78 each; none is near twice that.
        assert!(sizes.iter().all(|&n| n > 30 && n < 140), "{sizes:?}");
        // When the directory doubles its parts, a part splits in two: its providers go to `part`
        // or `part + 128`, and no other part's.
        for p in &providers {
            let before = part_of(*p, 128);
            assert!([before, before + 128].contains(&part_of(*p, 256)));
        }
    }
}
