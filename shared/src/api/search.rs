//! `GET /slots/search` (issue 20, section 2; DESIGN.md section 15): the earliest open seats across
//! providers that match what a patient asks, from the search index `publish` keeps, each confirmed on
//! a consistent read before it is answered. `GET /fhir/Slot` without a schedule and
//! `Appointment/$find` answer from the same search ([`find`]).
//!
//! A page costs, for each UTC day it reads, one Query per partition (the type's and `ANY`'s shards,
//! or `ALL`'s), then one BatchGetItem of at most 100 keys and one Query of the active types: a page
//! of `limit` (at most 25) that the first day fills costs 2 x shards + 2 requests, whatever the
//! network's size. A search for a type longer than some of the page's slots (issue 22) offers the
//! starts of the runs of consecutive slots that cover it, read with one Query more for each provider
//! such a slot is of.

use jiff::tz::TimeZone;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{caller, json, ApiError, Ctx, Reply, Request};
use crate::domain::access::{Caller, Role};
use std::collections::HashMap;

use crate::domain::admission::{fits, run};
use crate::domain::appointment_type::AppointmentType;
use crate::domain::opening::TypeKey;
use crate::domain::profile::Profile;
use crate::domain::search::{self, Confirming, Dropped, Edge, Wanted};
use crate::domain::settings::Rules;
use crate::domain::{ConsultationType, PatientId, ProviderId, Slot, UtcTime, ZoneName};
use crate::store::search::IndexQuery;
use lambda_http::RequestExt;

/// The most seats one page answers: 4 keys each fit one BatchGetItem of 100.
pub const MAX_LIMIT: usize = 25;

/// A search, parsed and checked.
#[derive(Clone, Debug)]
pub struct Search {
    pub wanted: Wanted,
    pub from: UtcTime,
    pub to: UtcTime,
    /// The zone a client displays in (`timeZone`), if it gave one.
    pub display: Option<ZoneName>,
    pub limit: usize,
    /// The patient searching, for `acceptingNewPatients` (`None`: staff browsing for nobody).
    pub patient: Option<PatientId>,
    /// The position after which this page starts (an opened cursor).
    pub after: Option<String>,
    /// A digest of what was asked: a cursor belongs to one search.
    pub scope: String,
}

/// One seat found, with what decided it.
#[derive(Clone, Debug)]
pub struct Hit {
    pub slot: Slot,
    /// A visit longer than `slot`: every slot of the run that covers it, `slot` first; else empty.
    pub run: Vec<Slot>,
    pub profile: Profile,
    pub rules: Rules,
    pub consultation_types: Vec<ConsultationType>,
}

impl Hit {
    /// Where the visit ends: its slot's end, or its run's.
    pub fn end(&self) -> UtcTime {
        self.run.last().unwrap_or(&self.slot).end_time
    }

    /// The seats left for it: its slot's, or the fewest of its run's.
    pub fn seats_left(&self) -> u32 {
        self.run
            .iter()
            .map(Slot::seats_left)
            .min()
            .unwrap_or(self.slot.seats_left())
    }
}

/// A page of seats, and the sealed cursor of the next.
#[derive(Clone, Debug)]
pub struct Found {
    pub hits: Vec<Hit>,
    pub next: Option<String>,
}

/// The digest a search's cursors are bound to: every parameter but the cursor and the page size.
pub fn scope(params: &[(&str, String)]) -> String {
    let mut sorted: Vec<String> = params
        .iter()
        .filter(|(k, _)| !["cursor", "limit", "_count", "_cursor"].contains(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    sorted.sort();
    let digest = Sha256::digest(sorted.join("&").as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Who may search: patients (for themself), staff and admins (for a patient, or for nobody).
pub fn searcher(who: &Caller, asked: Option<PatientId>) -> Result<Option<PatientId>, ApiError> {
    if who.is_staff() {
        return Ok(asked);
    }
    if who.has(Role::Patient) {
        let me = PatientId::from_uuid(who.id);
        return match asked {
            Some(p) if p != me => Err(ApiError::forbidden("a patient searches only for themself")),
            _ => Ok(Some(me)),
        };
    }
    Err(ApiError::forbidden(
        "patients, staff and admins search for open seats",
    ))
}

/// Runs a search: the index's candidates and the active types at once, then one consistent read of
/// the candidates; what no longer holds is dropped (counted and logged: the index lags the table by
/// the stream's delay).
pub async fn find(ctx: &Ctx, s: &Search) -> Result<Found, ApiError> {
    let earliest = s
        .from
        .max(ctx.now().plus(jiff::SignedDuration::from_secs(1)));
    if earliest >= s.to {
        return Ok(Found {
            hits: vec![],
            next: None,
        });
    }
    let query = IndexQuery {
        kinds: TypeKey::searched(s.wanted.appointment_type),
        from: earliest,
        to: s.to,
        after: s.after.clone(),
        appointment_type: s.wanted.appointment_type,
        location: s.wanted.location.clone(),
        language: s.wanted.language.clone(),
        region: s.wanted.region.clone(),
        specialty: s.wanted.specialty.clone(),
        providers: s.wanted.providers.clone(),
        limit: s.limit,
        shards: ctx.config.search_shards,
    };
    let (candidates, types) = tokio::try_join!(
        ctx.store.candidates(&query),
        ctx.store.list_types(true, 1000, None)
    )?;
    let types = types.items;
    let wanted_type: Option<&AppointmentType> = match s.wanted.appointment_type {
        Some(t) => Some(types.iter().find(|x| x.id == t).ok_or_else(|| {
            ApiError::field("appointmentTypeId", "names no active appointment type")
        })?),
        None => None,
    };
    crate::metrics::count("IndexQueries", candidates.queries as u64);
    crate::metrics::count("IndexItemsRead", candidates.items_read as u64);
    let confirmed = if candidates.openings.is_empty() {
        None
    } else {
        Some(ctx.store.confirm(&candidates.openings, s.patient).await?)
    };
    let now = ctx.now();
    let mut hits = vec![];
    let mut dropped: Vec<(&'static str, crate::domain::SlotId)> = vec![];
    if let Some(c) = &confirmed {
        let following = match wanted_type {
            Some(t) => following(ctx, c.slots.values(), t).await?,
            None => HashMap::new(),
        };
        for o in &candidates.openings {
            let rules = c.rules(&ctx.store, o.provider_id);
            let slot = c.slots.get(&o.slot_id);
            let profile = c
                .providers
                .get(&o.provider_id)
                .and_then(|p| p.profile.as_ref());
            let day_full = c
                .full
                .contains(&(o.provider_id, rules.day_of(o.start_time)));
            let seen = s.patient.map(|_| c.seen.contains(&o.provider_id));
            let offered = slot
                .map(|sl| search::consultation_types(sl, wanted_type, &types))
                .unwrap_or_default();
            // A slot too short for the type offers the run that starts with it, if one covers it.
            let run: Vec<Slot> = match (slot, wanted_type) {
                (Some(first), Some(t)) if fits(first, t.duration_minutes).is_err() => {
                    let after = following.get(&o.provider_id).map_or(&[][..], Vec::as_slice);
                    run(first, after, Some(t), s.wanted.consultation, now, false)
                        .map(|(_, r)| r.into_iter().cloned().collect())
                        .unwrap_or_default()
                }
                _ => vec![],
            };
            let judged = s.wanted.admits(
                &Confirming {
                    slot,
                    visit_minutes: wanted_type
                        .map(|t| t.duration_minutes)
                        .filter(|_| run.is_empty()),
                    profile,
                    rules: &rules,
                    day_full,
                    seen,
                },
                &offered,
                now,
            );
            match (judged, slot, profile) {
                (Ok(()), Some(slot), Some(profile)) => hits.push(Hit {
                    slot: slot.clone(),
                    run,
                    profile: profile.clone(),
                    rules,
                    consultation_types: offered,
                }),
                (Err(why), ..) => dropped.push((why.as_str(), o.slot_id)),
                (Ok(()), ..) => dropped.push((Dropped::NotOpen.as_str(), o.slot_id)),
            }
        }
    }
    if !dropped.is_empty() {
        crate::metrics::count("SearchDropped", dropped.len() as u64);
        tracing::info!(dropped = ?dropped, "search candidates dropped on the consistent read");
    }
    let next = candidates
        .next
        .map(|position| ctx.store.cursors.seal_position(&s.scope, &position));
    Ok(Found { hits, next })
}

/// The slots of each provider that follow the given slots too short for `kind`, up to where a visit
/// of `kind` from the latest of them would end (by start): one Query a provider, at once. None when
/// every slot fits.
async fn following<'a>(
    ctx: &Ctx,
    slots: impl Iterator<Item = &'a Slot>,
    kind: &AppointmentType,
) -> Result<HashMap<ProviderId, Vec<Slot>>, ApiError> {
    let visit = jiff::SignedDuration::from_mins(i64::from(kind.duration_minutes));
    let mut spans: HashMap<ProviderId, (UtcTime, UtcTime)> = HashMap::new();
    for s in slots.filter(|s| fits(s, kind.duration_minutes).is_err()) {
        let (from, to) = (s.end_time, s.start_time.plus(visit));
        let span = spans.entry(s.provider_id).or_insert((from, to));
        *span = (span.0.min(from), span.1.max(to));
    }
    let mut reads = tokio::task::JoinSet::new();
    for (p, (from, to)) in spans {
        let store = ctx.store.clone();
        reads.spawn(async move {
            let mut after = store.slots_between(p, from, to).await?;
            after.sort_by_key(|s| s.start_time);
            Ok::<_, crate::store::StoreError>((p, after))
        });
    }
    let mut out = HashMap::new();
    while let Some(read) = reads.join_next().await {
        let (p, after) =
            read.map_err(|e| crate::store::StoreError::internal(format!("a read failed: {e}")))??;
        out.insert(p, after);
    }
    Ok(out)
}

/// What `GET /slots/search` answers for one seat.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub slot: FoundSlot,
    pub provider: ProviderSummary,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FoundSlot {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: crate::domain::SlotId,
    /// UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub start_time: UtcTime,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub end_time: UtcTime,
    pub seats_left: u32,
    /// A visit longer than the slot: the consecutive slots it takes (`id` first), booked together by
    /// booking `id` with the type; `endTime` is the last one's end.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub slot_ids: Vec<crate::domain::SlotId>,
    /// The ways it may be booked: the type's asked for, else those of every active type it admits.
    pub consultation_types: Vec<ConsultationType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// In the provider's zone.
    pub provider_time: LocalTimes,
    /// In the zone the search asked to display (`timeZone`), when it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_time: Option<LocalTimes>,
}

/// A start and an end in one zone, with their offsets (`2030-03-04T09:00:00-08:00`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalTimes {
    pub time_zone: String,
    pub start: String,
    pub end: String,
}

impl LocalTimes {
    fn of(start: UtcTime, end: UtcTime, zone_name: &str) -> LocalTimes {
        let zone = TimeZone::get(zone_name).unwrap_or(TimeZone::UTC);
        let local = |t: UtcTime| {
            t.timestamp()
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        };
        LocalTimes {
            time_zone: zone_name.to_owned(),
            start: local(start),
            end: local(end),
        }
    }
}

/// What a patient chooses a provider by, shown with each seat (never PHI).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub provider_id: ProviderId,
    pub display_name: String,
    pub languages: Vec<String>,
}

impl SearchHit {
    pub fn of(hit: &Hit, display: Option<&ZoneName>) -> SearchHit {
        let (start, end) = (hit.slot.start_time, hit.end());
        SearchHit {
            slot: FoundSlot {
                id: hit.slot.id,
                start_time: start,
                end_time: end,
                seats_left: hit.seats_left(),
                slot_ids: hit.run.iter().map(|s| s.id).collect(),
                consultation_types: hit.consultation_types.clone(),
                location_id: hit.slot.location_id.clone(),
                provider_time: LocalTimes::of(start, end, &hit.rules.time_zone),
                display_time: display.map(|z| LocalTimes::of(start, end, z.as_str())),
            },
            provider: ProviderSummary {
                provider_id: hit.slot.provider_id,
                display_name: hit.profile.display_name.clone(),
                languages: hit.profile.languages.clone(),
            },
        }
    }
}

/// `GET /slots/search?appointmentTypeId&consultationType&region&language&specialty&locationId&providerId*
/// &from&to&timeZone&patientId&limit&cursor`.
pub async fn search(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let mut q = super::Query::of(&req);
    let appointment_type: Option<uuid::Uuid> = q.optional("appointmentTypeId", "must be a UUID");
    let consultation = q.text("consultationType").map(|c| {
        serde_json::from_value::<ConsultationType>(serde_json::Value::String(c.to_owned())).ok()
    });
    if matches!(consultation, Some(None)) {
        q.fail("consultationType", "must be in_person, video or phone");
    }
    let super::ProfileFilters {
        specialty,
        language,
        region,
    } = q.profile_filters();
    let location = q.text("locationId").map(str::to_owned);
    if location
        .as_deref()
        .is_some_and(|l| l.is_empty() || l.chars().count() > 100)
    {
        q.fail("locationId", "must be 1 to 100 characters");
    }
    let providers: Vec<Option<ProviderId>> =
        q.all("providerId").iter().map(|p| p.parse().ok()).collect();
    if providers.iter().any(Option::is_none) {
        q.fail("providerId", "must be a UUID");
    } else if providers.len() > search::MAX_PROVIDERS {
        q.fail("providerId", "may be given at most 20 times");
    }
    let zone: Option<ZoneName> = q.optional(
        "timeZone",
        "must be a geographic IANA time zone such as America/New_York",
    );
    let from: Option<Edge> = q.optional("from", search::EDGE);
    let to: Option<Edge> = q.optional("to", search::EDGE);
    let patient: Option<PatientId> = q.optional("patientId", "must be a UUID");
    let limit: usize = q
        .optional("limit", "must be a whole number from 1 to 25")
        .unwrap_or(10);
    if !(1..=MAX_LIMIT).contains(&limit) {
        q.fail("limit", "must be a whole number from 1 to 25");
    }
    let window = search::window(
        from,
        to,
        &zone.as_ref().map_or(TimeZone::UTC, ZoneName::zone),
        ctx.now(),
    );
    if let Err((field, message)) = window {
        if !q
            .errors
            .iter()
            .any(|e| e.field == "from" || e.field == "to")
        {
            q.fail(field, message);
        }
    }
    let params = req.query_string_parameters();
    let scope = scope(
        &params
            .iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect::<Vec<_>>(),
    );
    let after = q
        .text("cursor")
        .map(|c| ctx.store.cursors.open_position(c, &scope));
    if matches!(after, Some(Err(_))) {
        q.fail("cursor", "is not a cursor of this search");
    }
    let (from, to) = q.finish_with(window)?;
    let patient = searcher(&who, patient)?;
    let s = Search {
        wanted: Wanted {
            appointment_type,
            consultation: consultation.flatten(),
            location,
            language,
            region,
            specialty,
            providers: providers.into_iter().flatten().collect(),
        },
        from,
        to,
        display: zone,
        limit,
        patient,
        after: after.and_then(Result::ok),
        scope,
    };
    let found = find(ctx, &s).await?;
    let data: Vec<SearchHit> = found
        .hits
        .iter()
        .map(|h| SearchHit::of(h, s.display.as_ref()))
        .collect();
    Ok(json(
        200,
        &super::views::Page {
            data,
            next_cursor: found.next,
        },
    ))
}
