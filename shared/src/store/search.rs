//! The search index (issue 20, sections 2 and 3; DESIGN.md section 15): openings kept by `publish`
//! from the stream, read by a search a bounded number of requests a page, and the consistent read
//! that confirms what the index offered.
//!
//! | item | PK | SK | carries |
//! |---|---|---|---|
//! | opening | `OPEN#<typeId, ANY or ALL>#<UTC day>#<shard>` | `<start>#<slotId>` | the slot's end, seats left and location; the provider's primary languages, telehealth regions, specialty codes, types offered, zone and whether they take new patients; `expiresAt` a day after the slot ends |
//! | patient seen | `SEEN#<pid>` | `PROVIDER#<providerId>` | the patient has completed a visit with the provider (an established patient); a partition of its own, so `publish` may write there and nowhere else of the patient's |
//!
//! The opening partitions are in the base table (no index): their keys are the search's, and the
//! items are written by `publish` alone.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use serde::{Deserialize, Serialize};

use super::keys::{self, Key};
use super::{s, Item, Store, StoreError};
use crate::domain::opening::{self, openings, partition, utc_day, OpeningKey, TypeKey};
use crate::domain::search::Searchable;
use crate::domain::settings::Rules;
use crate::domain::{PatientId, ProviderId, Slot, SlotId, UtcTime};

/// One opening as stored (with its `PK`, `SK` and `expiresAt`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Opening {
    pub slot_id: SlotId,
    pub provider_id: ProviderId,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    pub seats_left: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(flatten)]
    pub provider: Searchable,
}

impl Opening {
    /// Its sort key, which is also a search's position (`<start>#<slotId>`).
    pub fn position(&self) -> String {
        keys::by_start(self.start_time, self.slot_id)
    }
}

/// The key of "the patient has been seen by the provider".
pub fn patient_seen(patient: PatientId, provider: ProviderId) -> Key {
    Key {
        pk: format!("SEEN#{patient}"),
        sk: format!("PROVIDER#{provider}"),
    }
}

/// The part of a slot its openings show: when nothing of it changed, neither did they.
fn shown(
    slot: Option<&Slot>,
    shards: u32,
) -> Option<(Vec<OpeningKey>, u32, UtcTime, Option<&str>)> {
    let s = slot?;
    let keys = openings(s, shards);
    (!keys.is_empty()).then(|| (keys, s.seats_left(), s.end_time, s.location_id.as_deref()))
}

/// The writes that make `slot`'s openings what it is now (`provider`: the provider's searchable
/// facts; `None`, not searchable, deletes them), deleting those `before` had and it lost. Public for
/// the benchmark that seeds an index of 10,000 providers (`make bench-search`).
pub fn slot_writes(
    before: Option<&Slot>,
    after: Option<&Slot>,
    provider: Option<&Searchable>,
    shards: u32,
) -> Result<Vec<WriteRequest>, StoreError> {
    let (mut put, mut gone) = opening::reopening(before, after, shards);
    if provider.is_none() {
        gone.append(&mut put);
    }
    let mut writes = vec![];
    if let (Some(slot), Some(provider)) = (after, provider) {
        let opening = Opening {
            slot_id: slot.id,
            provider_id: slot.provider_id,
            start_time: slot.start_time,
            end_time: slot.end_time,
            seats_left: slot.seats_left(),
            location_id: slot.location_id.clone(),
            provider: provider.clone(),
        };
        let mut item: Item = serde_dynamo::to_item(&opening)?;
        // An opening outlives its slot's end by a day, then TTL deletes it (free of charge); a search
        // never answers a slot that has started in the meantime.
        let expires = slot.end_time.timestamp().as_second() + 86_400;
        item.insert(keys::EXPIRES_AT.into(), super::n(expires));
        for key in put {
            let mut item = item.clone();
            item.insert(keys::PK.into(), s(key.pk));
            item.insert(keys::SK.into(), s(key.sk));
            writes.push(super::batch::put_request(item)?);
        }
    }
    for key in gone {
        let key = super::key_item(&Key {
            pk: key.pk,
            sk: key.sk,
        });
        writes.push(
            WriteRequest::builder()
                .delete_request(DeleteRequest::builder().set_key(Some(key)).build()?)
                .build(),
        );
    }
    Ok(writes)
}

impl Store {
    /// The searchable facts of `provider` now: one GetItem of their item.
    pub async fn searchable(&self, provider: ProviderId) -> Result<Option<Searchable>, StoreError> {
        let item = self.profile(provider).await?;
        Ok(self.searchable_of(item.as_ref()))
    }

    /// The searchable facts of a provider's item as read (or as a stream image shows it).
    pub fn searchable_of(
        &self,
        item: Option<&super::items::ProviderProfile>,
    ) -> Option<Searchable> {
        let rules = self.rules_of(item);
        Searchable::of(
            item.and_then(|p| p.profile.as_ref()),
            &rules.time_zone,
            rules.max_appointments_per_day.is_some(),
        )
    }

    /// Keeps a slot's openings in step with a change of it (`publish`): nothing when what they show did
    /// not change (no read, no write); else the provider's facts read and the openings put or deleted.
    /// A provider without an active profile has no openings; their slots' changes write nothing (a
    /// profile turned inactive deleted them: [`Store::reproject`]). Returns the writes made.
    pub async fn reindex_slot(
        &self,
        before: Option<&Slot>,
        after: Option<&Slot>,
        shards: u32,
    ) -> Result<usize, StoreError> {
        if shown(before, shards) == shown(after, shards) {
            return Ok(0);
        }
        let Some(provider_id) = after.or(before).map(|s| s.provider_id) else {
            return Ok(0);
        };
        let Some(provider) = self.searchable(provider_id).await? else {
            return Ok(0);
        };
        let writes = slot_writes(before, after, Some(&provider), shards)?;
        let count = writes.len();
        self.write_batches("write a slot's openings", writes)
            .await?;
        Ok(count)
    }

    /// Re-projects a provider's future openings after their searchable facts changed (`publish`, on a
    /// change of their profile or zone): every slot of theirs from `now` on, a page of 100 at a time,
    /// its openings written with the new facts, or deleted when the provider is no longer searchable.
    /// Returns the writes made.
    pub async fn reproject(
        &self,
        provider: ProviderId,
        facts: Option<&Searchable>,
        now: UtcTime,
        shards: u32,
    ) -> Result<usize, StoreError> {
        let range = keys::Range::on(
            keys::GSI1,
            keys::provider_slots(provider),
            Some(now.to_string()),
            None,
        );
        let query = range.query(self).limit(100);
        let mut start: Option<Item> = None;
        let mut count = 0;
        loop {
            let out = super::conditional::patiently("read a provider's future slots", || {
                query.clone().set_exclusive_start_key(start.clone()).send()
            })
            .await?;
            let slots: Vec<Slot> = out
                .items
                .unwrap_or_default()
                .into_iter()
                .map(super::from_item)
                .collect::<Result<_, _>>()?;
            let mut writes = vec![];
            for slot in &slots {
                writes.extend(slot_writes(Some(slot), Some(slot), facts, shards)?);
            }
            count += writes.len();
            self.write_batches("re-project a provider's openings", writes)
                .await?;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// Records that `patient` has been seen by `provider` (`publish`, on a completed visit).
    pub async fn mark_seen(
        &self,
        patient: PatientId,
        provider: ProviderId,
        at: UtcTime,
    ) -> Result<(), StoreError> {
        let mut item = super::key_item(&patient_seen(patient, provider));
        item.insert("seenAt".into(), s(at.to_string()));
        super::conditional::patiently("record a patient seen", || {
            self.db
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .send()
        })
        .await?;
        Ok(())
    }
}

/// What a search reads of the index: the partitions of `kinds` for each UTC day of `[from, to)`, from
/// the position after `after`, filtered on what the openings carry.
#[derive(Clone, Debug)]
pub struct IndexQuery {
    pub kinds: Vec<TypeKey>,
    pub from: UtcTime,
    pub to: UtcTime,
    pub after: Option<String>,
    pub appointment_type: Option<uuid::Uuid>,
    pub location: Option<String>,
    pub language: Option<String>,
    pub region: Option<String>,
    pub specialty: Option<String>,
    pub providers: Vec<ProviderId>,
    pub limit: usize,
    pub shards: u32,
}

/// The candidates of a page, earliest first, and where the next page starts (a position, `None` at
/// the end of the window).
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    pub openings: Vec<Opening>,
    pub next: Option<String>,
    /// Queries made (for the metrics and the tests' request counts).
    pub queries: usize,
    /// Openings the queries read (their ScannedCount: what a filter dropped was read too).
    pub items_read: usize,
}

impl IndexQuery {
    /// The UTC days the window touches.
    fn days(&self) -> Vec<jiff::civil::Date> {
        let first = utc_day(self.from);
        let last = utc_day(self.to.plus(jiff::SignedDuration::from_nanos(-1)));
        let mut out = vec![];
        let mut d = first;
        while d <= last {
            out.push(d);
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        out
    }

    /// The filter on what an opening carries, with its names and values.
    fn filter(&self) -> (Option<String>, BTreeMap<String, AttributeValue>) {
        let mut clauses = vec![];
        let mut values = BTreeMap::new();
        if let Some(l) = &self.location {
            clauses.push("locationId = :location".to_owned());
            values.insert(":location".into(), s(l));
        }
        if let Some(l) = &self.language {
            clauses.push("contains(languages, :language)".to_owned());
            values.insert(":language".into(), s(l));
        }
        if let Some(r) = &self.region {
            clauses.push("contains(regions, :region)".to_owned());
            values.insert(":region".into(), s(r));
        }
        if let Some(c) = &self.specialty {
            clauses.push("contains(specialties, :specialty)".to_owned());
            values.insert(":specialty".into(), s(c));
        }
        if let Some(t) = self.appointment_type {
            // A provider who names the types they offer offers only those.
            clauses.push("(attribute_not_exists(offers) OR contains(offers, :type))".to_owned());
            values.insert(":type".into(), s(t.to_string()));
        }
        if !self.providers.is_empty() {
            let names_of: Vec<String> = (0..self.providers.len())
                .map(|i| format!(":p{i}"))
                .collect();
            clauses.push(format!("providerId IN ({})", names_of.join(", ")));
            for (name, p) in names_of.into_iter().zip(&self.providers) {
                values.insert(name, s(p.to_string()));
            }
        }
        ((!clauses.is_empty()).then(|| clauses.join(" AND ")), values)
    }
}

impl Store {
    /// A page of candidates: day by day from the first day of the window (or the cursor's), every
    /// partition of the day (the kinds asked, each shard) queried at once for at most `limit`
    /// openings after the position; merged by start. A partition that had more than it returned
    /// bounds what is known of the day: only the candidates up to the earliest such bound are
    /// answered, and the next page starts there. The day that fills the page, or bounds it, is the
    /// last read: a page makes at most `kinds x shards` queries per day it reads.
    pub async fn candidates(&self, q: &IndexQuery) -> Result<Candidates, StoreError> {
        let mut out = Candidates::default();
        let lo = match &q.after {
            // Every position has the same length (a fixed-width time, '#', a UUID), so any string
            // after `after` of that length sorts after `after` + any character.
            Some(after) => format!("{after}#"),
            None => q.from.to_string(),
        };
        let hi = q.to.to_string();
        let (filter, values) = q.filter();
        let first_day = q
            .after
            .as_deref()
            .and_then(|a| a.split('#').next())
            .and_then(|t| t.parse::<UtcTime>().ok())
            .map(utc_day);
        let limit = i32::try_from(q.limit).unwrap_or(100);
        for day in q.days() {
            if first_day.is_some_and(|f| day < f) {
                continue;
            }
            let mut tasks = tokio::task::JoinSet::new();
            for kind in &q.kinds {
                for shard in 0..q.shards.clamp(1, opening::MAX_SHARDS) {
                    let mut query = self
                        .db
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
                        .expression_attribute_values(":pk", s(partition(*kind, day, shard)))
                        .expression_attribute_values(":lo", s(&lo))
                        .expression_attribute_values(":hi", s(&hi))
                        .limit(limit);
                    if let Some(f) = &filter {
                        query = query.filter_expression(f);
                        for (k, v) in &values {
                            query = query.expression_attribute_values(k, v.clone());
                        }
                    }
                    tasks.spawn(async move {
                        super::conditional::patiently("read the search index", || {
                            query.clone().send()
                        })
                        .await
                    });
                }
            }
            let mut found: Vec<Opening> = vec![];
            let mut bound: Option<String> = None;
            while let Some(done) = tasks.join_next().await {
                let page = done
                    .map_err(|e| StoreError::internal(format!("an index query panicked: {e}")))??;
                out.queries += 1;
                out.items_read += usize::try_from(page.scanned_count).unwrap_or(0);
                if let Some(last) = page
                    .last_evaluated_key
                    .as_ref()
                    .and_then(|k| k.get(keys::SK))
                    .and_then(|v| v.as_s().ok())
                {
                    if bound.as_ref().is_none_or(|b| last < b) {
                        bound = Some(last.clone());
                    }
                }
                for item in page.items.unwrap_or_default() {
                    found.push(super::from_item(item)?);
                }
            }
            found.sort_by_key(Opening::position);
            let mut seen = HashSet::new();
            found.retain(|o| seen.insert(o.slot_id));
            if let Some(b) = &bound {
                found.retain(|o| o.position() <= *b);
            }
            out.openings.extend(found);
            if out.openings.len() >= q.limit {
                out.openings.truncate(q.limit);
                out.next = out.openings.last().map(Opening::position);
                return Ok(out);
            }
            if bound.is_some() {
                out.next = bound;
                return Ok(out);
            }
        }
        Ok(out)
    }
}

/// A candidate's items, read consistently.
pub struct Confirmed {
    pub slots: HashMap<SlotId, Slot>,
    pub providers: HashMap<ProviderId, super::items::ProviderProfile>,
    /// The (provider, local day) pairs at their daily limit.
    pub full: HashSet<(ProviderId, jiff::civil::Date)>,
    /// The providers the patient has been seen by, among those not taking new patients.
    pub seen: HashSet<ProviderId>,
}

impl Confirmed {
    /// The provider's rules, as the store derives them from their item.
    pub fn rules(&self, store: &Store, provider: ProviderId) -> Rules {
        store.rules_of(self.providers.get(&provider))
    }
}

impl Store {
    /// One consistent BatchGetItem of what decides the candidates now: their slots, their providers'
    /// items, the booked counts of the candidates' local days of the providers with a daily limit (in
    /// the zone the index carries), and, for a patient, whether each provider not taking new patients has seen them. At
    /// most 4 keys a candidate, so a page of 25 is one request of at most 100 keys. A provider whose
    /// zone changed since the index was written has their days counted again (a rare extra read).
    pub async fn confirm(
        &self,
        candidates: &[Opening],
        patient: Option<PatientId>,
    ) -> Result<Confirmed, StoreError> {
        let mut wanted: Vec<Key> = vec![];
        let mut days: Vec<(ProviderId, jiff::civil::Date, Key)> = vec![];
        for o in candidates {
            wanted.push(keys::slot(o.slot_id));
            wanted.push(keys::provider_profile(o.provider_id));
            let zone = jiff::tz::TimeZone::get(&o.provider.zone).unwrap_or(jiff::tz::TimeZone::UTC);
            let day = o.start_time.timestamp().to_zoned(zone).date();
            let key = keys::provider_booked(o.provider_id, day);
            if o.provider.daily_limit {
                wanted.push(key.clone());
            }
            days.push((o.provider_id, day, key));
            if let (Some(p), false) = (patient, o.provider.new_patients) {
                wanted.push(patient_seen(p, o.provider_id));
            }
        }
        let mut found = self.get_many(&wanted).await?;
        let mut out = Confirmed {
            slots: HashMap::new(),
            providers: HashMap::new(),
            full: HashSet::new(),
            seen: HashSet::new(),
        };
        for o in candidates {
            if let Some(item) = found.remove(&keys::slot(o.slot_id)) {
                out.slots.insert(o.slot_id, super::from_item(item)?);
            }
            if let Some(item) = found.remove(&keys::provider_profile(o.provider_id)) {
                out.providers.insert(o.provider_id, super::from_item(item)?);
            }
            if let Some(p) = patient {
                if found.contains_key(&patient_seen(p, o.provider_id)) {
                    out.seen.insert(o.provider_id);
                }
            }
        }
        let mut recount: HashMap<ProviderId, Vec<jiff::civil::Date>> = HashMap::new();
        for (provider, day, key) in days {
            let rules = out.rules(self, provider);
            let Some(limit) = rules.max_appointments_per_day else {
                continue;
            };
            let carried = candidates
                .iter()
                .find(|o| o.provider_id == provider)
                .map(|o| o.provider.zone.as_str());
            let indexed = candidates
                .iter()
                .any(|o| o.provider_id == provider && o.provider.daily_limit);
            if carried != Some(rules.time_zone.as_str()) || !indexed {
                recount.entry(provider).or_default().push(day);
                continue;
            }
            let booked = found
                .get(&key)
                .and_then(|item| item.get("booked"))
                .and_then(|b| b.as_n().ok())
                .and_then(|b| b.parse::<u64>().ok())
                .unwrap_or(0);
            if booked >= u64::from(limit) {
                out.full.insert((provider, day));
            }
        }
        for (provider, _) in recount {
            let rules = out.rules(self, provider);
            let days: Vec<jiff::civil::Date> = candidates
                .iter()
                .filter(|o| o.provider_id == provider)
                .map(|o| rules.day_of(o.start_time))
                .collect();
            for day in self.full_days(provider, &rules, &days).await? {
                out.full.insert((provider, day));
            }
        }
        Ok(out)
    }
}

/// A proposed appointment `Appointment/$find` answered: a seat found for someone, not booked, that
/// `$hold` (issue 21) may name afterwards. Kept for [`PROPOSAL_TTL`], then TTL deletes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    pub id: uuid::Uuid,
    pub slot_id: SlotId,
    /// A visit longer than the slot: the run's slots, `slotId` first (booking the slot with the type
    /// takes them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slot_ids: Vec<SlotId>,
    pub provider_id: ProviderId,
    pub provider_name: String,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_type_id: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
    pub created_at: UtcTime,
    /// When it stops resolving.
    pub expires: UtcTime,
}

/// How long a proposal resolves: an hour, past the longest hold a deployment may configure (1,800 s).
pub const PROPOSAL_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

fn proposal_key(id: uuid::Uuid) -> Key {
    Key {
        pk: format!("PROPOSAL#{id}"),
        sk: "PROPOSAL".into(),
    }
}

impl Store {
    /// Keeps the proposals of a `$find` answer: one BatchWriteItem a 25.
    pub async fn put_proposals(&self, proposals: &[Proposal]) -> Result<(), StoreError> {
        let mut writes = vec![];
        for p in proposals {
            let mut item: Item = serde_dynamo::to_item(p)?;
            item.extend(super::key_item(&proposal_key(p.id)));
            item.insert(
                keys::EXPIRES_AT.into(),
                super::n(p.expires.timestamp().as_second()),
            );
            writes.push(super::batch::put_request(item)?);
        }
        self.write_batches("keep proposed appointments", writes)
            .await
    }

    /// A proposal that still resolves at `now`: one GetItem (TTL deletes late; the expiry decides).
    pub async fn proposal(
        &self,
        id: uuid::Uuid,
        now: UtcTime,
    ) -> Result<Option<Proposal>, StoreError> {
        let found: Option<Proposal> = self.read(&proposal_key(id)).await?;
        Ok(found.filter(|p| p.expires > now))
    }
}
