//! `make bench-search`: a search page against an index of 10,000 providers x 16 slots of one type on
//! one day (160,000 openings, 20,000 to a partition over 8 shards), each page measured as its
//! function runs it: DynamoDB requests, openings read (the queries' ScannedCount), read units, wall
//! and CPU time, peak memory (high-water RSS of this process, which holds the local server and the
//! client). The index is written straight to the table with the functions `publish` uses
//! ([`shared::store::search::slot_writes`]); the slots' own items are written for the first hour of
//! the day (what the pages confirm), not all 160,000. Wall time is moto's (see below), CPU time and
//! peak memory this process's (the handler's and the client's).

use std::time::Instant;

use local::client::{call, http, token};
use local::counter::RequestCounter;
use local::emulator::{Emulator, Faults};
use local::server::Server;
use local::stack::Stack;
use serde_json::{json, Value};
use shared::domain::search::Searchable;
use shared::domain::{Interval, ProviderId, Slot, SlotId, UtcTime};
use shared::store::batch::put_request;

const PROVIDERS: usize = 10_000;
const SLOTS_A_DAY: i64 = 16;

use local::measure::Stretch;

/// The search-slots line's figures summed so far (`GET /_local/metrics`).
async fn figures(http: &local::client::Http, base: &str) -> Value {
    let (_, _, body) = call(http, "GET", &format!("{base}/_local/metrics"), None, None).await;
    let mut sum = json!({});
    for f in body["data"].as_array().into_iter().flatten() {
        if f["function"] == "search-slots" {
            for (k, v) in f["counts"].as_object().into_iter().flatten() {
                let before = sum[k].as_f64().unwrap_or(0.0);
                sum[k] = json!(before + v.as_f64().unwrap_or(0.0));
            }
        }
    }
    sum
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), local::Error> {
    let emulator = Emulator::start_with(0, &Faults::off())?;
    let sdk = local::sdk_config(&emulator.url);
    let counter = RequestCounter::default();
    let counted = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let mut template = local::template::Template::load(&local::template_path())?;
    // moto reads a Query's partition item by item (a partition of 20,000 openings takes it about half
    // a second a query, on one Python thread); DynamoDB reads by key, and a page's latency there does
    // not grow with the partition. The function is given the time moto needs, so that the page's
    // requests, reads and memory are measured; its wall time here is moto's, not DynamoDB's.
    if let Some(f) = template.resources.get_mut("SearchSlotsFunction") {
        f.properties["Timeout"] = serde_yaml::Value::from(300);
    }
    let stack = std::sync::Arc::new(Stack::provision(template, "search", sdk.clone()).await?);
    let table = stack.table_name().ok_or("no table")?.clone();
    let server = std::sync::Arc::new(Server::new(
        stack.clone(),
        aws_sdk_dynamodb::Client::from_conf(counted),
        Default::default(),
    )?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(server.serve(listener));
    let client = http();
    let (_, admin) = token(&client, &base, &["admin"]).await;
    let (_, patient) = token(&client, &base, &["patient"]).await;
    let (status, _, kind) = call(
        &client,
        "POST",
        &format!("{base}/appointment-types"),
        Some(&admin),
        Some(json!({"name": "Video visit", "durationMinutes": 30, "consultationTypes": ["video"]})),
    )
    .await;
    assert_eq!(status, 201, "{kind}");
    let kind: uuid::Uuid = kind["id"].as_str().ok_or("no type id")?.parse()?;

    // The day after tomorrow, 08:00 to 16:00 UTC, every provider's 16 half-hour slots.
    let day = jiff::Zoned::now()
        .date()
        .checked_add(jiff::Span::new().days(2))?;
    let first: UtcTime = format!("{day}T08:00:00Z").parse()?;
    let now = UtcTime::from_timestamp(jiff::Timestamp::now());
    let seeding = Instant::now();
    let mut writes = vec![];
    let mut confirmable = 0;
    for i in 0..PROVIDERS {
        let provider = ProviderId::new();
        let profile: shared::domain::profile::Profile = serde_json::from_value(json!({
            "displayName": format!("Provider {i:05}"),
            "languages": if i % 3 == 0 { json!(["es", "en"]) } else { json!(["en"]) },
            "telehealthRegions": if i % 4 == 0 { json!(["US-CA"]) } else { json!(["US-NY"]) },
        }))?;
        let item = shared::store::items::ProviderProfile {
            provider_id: provider,
            time_zone: Some("UTC".into()),
            settings: None,
            settings_updated_at: None,
            settings_version: 0,
            profile: Some(profile.clone()),
            profile_updated_at: Some(now),
            profile_version: 1,
            updated_at: now,
        };
        writes.push(put_request(shared::store::items::item(&item)?)?);
        let facts = Searchable::of(Some(&profile), "UTC", false).ok_or("inactive")?;
        for n in 0..SLOTS_A_DAY {
            let start = first.plus(jiff::SignedDuration::from_mins(30 * n));
            let mut slot = Slot::open(
                SlotId::new(),
                provider,
                Interval::new(start, start.plus(jiff::SignedDuration::from_mins(30)))?,
                1,
                now,
            );
            slot.allowed_appointment_types = vec![kind];
            writes.extend(shared::store::search::slot_writes(
                None,
                Some(&slot),
                Some(&facts),
                shared::domain::opening::DEFAULT_SHARDS,
            )?);
            if n < 2 {
                writes.push(put_request(shared::store::items::item(&slot)?)?);
                confirmable += 1;
            }
        }
    }
    let total = writes.len();
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let mut tasks = tokio::task::JoinSet::new();
    for (k, chunk) in writes
        .chunks(25)
        .map(<[_]>::to_vec)
        .collect::<Vec<_>>()
        .into_iter()
        .enumerate()
    {
        let (db, table) = (db.clone(), table.clone());
        tasks.spawn(async move {
            let mut pending = chunk;
            while !pending.is_empty() {
                let out = db
                    .batch_write_item()
                    .request_items(&table, pending.clone())
                    .send()
                    .await?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&table))
                    .unwrap_or_default();
            }
            Ok::<usize, local::Error>(k)
        });
        while tasks.len() >= 4 {
            tasks.join_next().await.ok_or("no task")???;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    drop(writes);
    println!(
        "seeded {PROVIDERS} providers x {SLOTS_A_DAY} slots on {day}: {total} items ({confirmable} slots, \
         the openings of every slot under ALL and the type) in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    println!(
        "{:<52} {:>4} {:>6} {:>8} {:>9} {:>8} {:>8} {:>8} {:>5}",
        "page", "", "seats", "requests", "openings", "RCU", "wall ms", "CPU ms", "MB"
    );
    let pages = [
        ("the earliest 25 of the type", format!("appointmentTypeId={kind}&from={day}&to={day}&limit=25")),
        ("the earliest 25, Spanish", format!("appointmentTypeId={kind}&from={day}&to={day}&limit=25&language=es")),
        ("the earliest 25, video in California", format!("appointmentTypeId={kind}&from={day}&to={day}&limit=25&consultationType=video&region=US-CA")),
        ("the earliest 10, no type (ALL)", format!("from={day}&to={day}&limit=10")),
    ];
    let mut cursor_page = None;
    for (name, query) in pages {
        let reply = measure(&client, &base, &counter, &patient, name, &query).await;
        if cursor_page.is_none() {
            if let Some(c) = reply["nextCursor"].as_str() {
                cursor_page = Some(format!("{query}&cursor={c}"));
            }
        }
    }
    if let Some(query) = cursor_page {
        measure(
            &client,
            &base,
            &counter,
            &patient,
            "its next page (the cursor)",
            &query,
        )
        .await;
    }
    drop(emulator);
    Ok(())
}

async fn measure(
    client: &local::client::Http,
    base: &str,
    counter: &RequestCounter,
    token: &str,
    name: &str,
    query: &str,
) -> Value {
    let before = figures(client, base).await;
    let stretch = Stretch::start(counter);
    let (status, _, reply) = call(
        client,
        "GET",
        &format!("{base}/slots/search?{query}"),
        Some(token),
        None,
    )
    .await;
    let m = stretch.end();
    let after = figures(client, base).await;
    let delta = |k: &str| after[k].as_f64().unwrap_or(0.0) - before[k].as_f64().unwrap_or(0.0);
    let seats = reply["data"].as_array().map_or(0, Vec::len);
    println!(
        "{name:<52} {status:>4} {seats:>6} {:>8} {:>9} {:>8.1} {:>8.0} {:>8.0} {:>5.1}",
        m.requests,
        delta("IndexItemsRead"),
        delta("ReadUnits"),
        m.wall_ms,
        m.cpu_ms,
        m.peak_mb,
    );
    reply
}
