//! `make bench-feed`: `write-slot-feed` over a directory of FEED_BENCH_PROVIDERS providers (default
//! 100) with 16 half-hour slots a day for the 14 days the feed publishes, at physical locations in four
//! states (with a booking phone, so each slot line is the feed's longest), written straight to the
//! table. Each run is measured as the function runs it: wall and CPU time and peak memory of this
//! process (the writer alone: the emulator is another process), DynamoDB requests, files written and
//! lines. Runs: the directory in parts of FEED_BENCH_PER_FILE providers (default 25; 100 deployed),
//! the same again with nothing changed (every file kept), and the directory as one part, as the writer
//! held it before it was split: what a part costs in memory, and what the whole would.
//!
//! Wall time is moto's, not DynamoDB's: moto answers a Query of an index by evaluating every item of
//! the table in Python (some 4 s a provider's Query at 89,600 slots), which is why the defaults are
//! small; DynamoDB reads a Query by key.

use std::time::Instant;

use local::counter::RequestCounter;
use local::emulator::{Emulator, Faults};
use local::measure::Stretch;
use local::stack::Stack;
use shared::domain::location::{Address, Location, Telecom, TelecomSystem};
use shared::domain::{Interval, ProviderId, Slot, SlotId, UtcTime};
use shared::feed::FeedWriter;

const SLOTS_A_DAY: i64 = 16;
const DAYS: i64 = 14;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), local::Error> {
    let providers = local::env_parsed("FEED_BENCH_PROVIDERS", 100usize, "a count")?;
    let per_file = local::env_parsed("FEED_BENCH_PER_FILE", 25usize, "a count")?;
    let emulator = Emulator::start_with(0, &Faults::off())?;
    let sdk = local::sdk_config(&emulator.url);
    let template = local::template::Template::load(&local::template_path())?;
    let stack = Stack::provision(template, "feed", sdk.clone()).await?;
    let function = stack
        .functions
        .iter()
        .find(|f| f.binary == "write-slot-feed")
        .ok_or("template.yaml has no write-slot-feed")?;
    let mut config = stack.config_for(function)?;
    config.slot_feed.booking.phone = Some("+1 617 555 0100".into());
    let counter = RequestCounter::default();
    let counted = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let store = shared::store::Store::new(
        aws_sdk_dynamodb::Client::from_conf(counted),
        stack.table_name().ok_or("no table")?.clone(),
    );

    let seeding = Instant::now();
    let now = UtcTime::from_timestamp(jiff::Timestamp::now());
    let mut places = vec![];
    for (state, city) in [
        ("MA", "Boston"),
        ("NY", "Albany"),
        ("IL", "Chicago"),
        ("CA", "Fresno"),
    ] {
        let id = uuid::Uuid::new_v4();
        store
            .put_location(&Location {
                id,
                name: format!("{city} Clinic"),
                address: Some(Address {
                    lines: vec!["1 Main St".into()],
                    city: city.into(),
                    region: Some(state.into()),
                    postal_code: Some("02116".into()),
                    country: "US".into(),
                }),
                time_zone: "UTC".into(),
                telecom: vec![Telecom {
                    system: TelecomSystem::Phone,
                    value: "+1 617 555 0100".into(),
                }],
                active: true,
                is_virtual: false,
                created_at: now,
                updated_at: now,
                version: 1,
            })
            .await?;
        places.push(id.to_string());
    }
    let day = jiff::Zoned::now()
        .date()
        .checked_add(jiff::Span::new().days(1))?;
    let first: UtcTime = format!("{day}T08:00:00Z").parse()?;
    let mut writes = vec![];
    for i in 0..providers {
        let provider = ProviderId::new();
        let profile: shared::domain::profile::Profile =
            serde_json::from_value(serde_json::json!({"displayName": format!("Provider {i:05}")}))?;
        store.relist(provider, None, Some(&profile)).await?;
        for d in 0..DAYS {
            for n in 0..SLOTS_A_DAY {
                let start = first.plus(jiff::SignedDuration::from_mins(24 * 60 * d + 30 * n));
                let mut slot = Slot::open(
                    SlotId::new(),
                    provider,
                    Interval::new(start, start.plus(jiff::SignedDuration::from_mins(30)))?,
                    1,
                    now,
                );
                slot.location_id = Some(places[i % places.len()].clone());
                writes.push(shared::store::batch::put_request(
                    shared::store::items::item(&slot)?,
                )?);
            }
        }
    }
    let slots = writes.len();
    store
        .write_batches("seed the bench's slots", writes)
        .await?;
    println!(
        "seeded {providers} providers x {SLOTS_A_DAY} slots a day x {DAYS} days: {slots} slots at 4 \
         locations in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    println!(
        "{:<44} {:>5} {:>8} {:>6} {:>8} {:>8} {:>8} {:>6}",
        "run", "parts", "requests", "files", "lines", "wall ms", "CPU ms", "MB"
    );
    let writer = |per_file: usize| FeedWriter {
        store: store.clone(),
        providers_per_file: per_file,
        ..FeedWriter::from_config(&config, &stack.sdk_for(function))
            .expect("the writer's configuration")
    };
    let runs = [
        (format!("parts of {per_file}, first run"), writer(per_file)),
        (
            format!("parts of {per_file} again, nothing changed"),
            writer(per_file),
        ),
        (
            "one part (the whole feed at once)".to_owned(),
            writer(usize::MAX),
        ),
    ];
    let mut before: Option<shared::domain::smart::Published> = None;
    for (name, writer) in runs {
        let stretch = Stretch::start(&counter);
        let published = writer.run().await?;
        let m = stretch.end();
        // Written by this run: a file the last one did not publish as it is.
        let written = published
            .files
            .iter()
            .filter(|f| before.as_ref().is_none_or(|b| !b.files.contains(f)))
            .count();
        let lines: usize = published.files.iter().map(|f| f.lines).sum();
        println!(
            "{name:<44} {:>5} {:>8} {:>6} {lines:>8} {:>8.0} {:>8.0} {:>6.1}",
            shared::feed::parts(providers, writer.providers_per_file),
            m.requests,
            format!("{written}/{}", published.files.len()),
            m.wall_ms,
            m.cpu_ms,
            m.peak_mb,
        );
        before = Some(published);
    }
    drop(emulator);
    Ok(())
}
