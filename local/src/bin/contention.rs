//! `make bench-contention`: 50 patients book a 3-seat slot at once through the local stack over HTTP,
//! against the emulator without faults and then with `transaction_conflict=0.3` (or `EMULATOR_FAULTS`).
//! Prints, per run: successes, 409s, 503s, DynamoDB requests per successful booking (counted on the
//! wire by an SDK interceptor: all requests of the 50 bookings over the successes, so the refused
//! bookings' reads are included), and p50/p99 latency.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use local::client::{call, http, token};
use local::counter::RequestCounter;
use local::emulator::{Emulator, Faults};
use local::{LocalStack, Options};
use serde_json::json;

struct Outcome {
    created: usize,
    conflicts: usize,
    contended: usize,
    requests: u32,
    latencies: Vec<Duration>,
}

async fn run(faults: &Faults) -> Result<Outcome, local::Error> {
    let emulator = Emulator::start_with(0, faults)?;
    let sdk = local::sdk_config(&emulator.url);
    let counter = RequestCounter::default();
    let counted = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let stack = LocalStack::start(Options {
        prefix: "bench".into(),
        sdk: sdk.clone(),
        api_db: Some(aws_sdk_dynamodb::Client::from_conf(counted)),
        clock: Default::default(),
        parameters: vec![],
        addr: ([127, 0, 0, 1], 0).into(),
    })
    .await?;
    let http = http();
    let base = stack.url();
    let (provider, provider_token) = token(&http, &base, &["provider"]).await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48);
    let start = jiff::Timestamp::from_second(start.as_second() / 60 * 60)?;
    let end = start + jiff::SignedDuration::from_mins(30);
    let (status, _, slot) = call(
        &http,
        "POST",
        &format!("{base}/slots"),
        Some(&provider_token),
        Some(json!({"providerId": provider, "startTime": start.to_string(), "endTime": end.to_string(), "maxBookings": 3})),
    )
    .await;
    if status != 201 {
        return Err(format!("slot not created: {status} {slot}").into());
    }
    let slot_id = slot["id"].as_str().unwrap_or_default().to_owned();
    let mut patients = vec![];
    for _ in 0..50 {
        patients.push(token(&http, &base, &["patient"]).await.1);
    }
    counter.take();
    let mut tasks = vec![];
    for patient in patients {
        let (http, url, slot_id) = (
            http.clone(),
            format!("{base}/appointments"),
            slot_id.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let began = Instant::now();
            let (status, _, _) = call(
                &http,
                "POST",
                &url,
                Some(&patient),
                Some(json!({"slotId": slot_id})),
            )
            .await;
            (status, began.elapsed())
        }));
    }
    let mut outcome = Outcome {
        created: 0,
        conflicts: 0,
        contended: 0,
        requests: 0,
        latencies: vec![],
    };
    let mut others: HashMap<u16, usize> = HashMap::new();
    for t in tasks {
        let (status, took) = t.await?;
        outcome.latencies.push(took);
        match status {
            201 => outcome.created += 1,
            409 => outcome.conflicts += 1,
            503 => outcome.contended += 1,
            other => *others.entry(other).or_default() += 1,
        }
    }
    if !others.is_empty() {
        return Err(format!("unexpected answers: {others:?}").into());
    }
    outcome.requests = counter.take().values().sum();
    outcome.latencies.sort();
    drop(stack);
    drop(emulator);
    Ok(outcome)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), local::Error> {
    let mut faulty = Faults::from_env();
    if faulty.spec.is_empty() {
        faulty.spec = "transaction_conflict=0.3".into();
    }
    println!("50 patients, one slot of 3 seats, all at once over HTTP");
    println!(
        "{:<40} {:>8} {:>5} {:>5} {:>9} {:>14} {:>9} {:>9}",
        "emulator", "created", "409", "503", "requests", "requests/201", "p50 ms", "p99 ms"
    );
    for (name, faults) in [
        ("no faults", Faults::off()),
        (faulty.spec.as_str(), faulty.clone()),
    ] {
        let o = run(&faults).await?;
        println!(
            "{:<40} {:>8} {:>5} {:>5} {:>9} {:>14.1} {:>9.1} {:>9.1}",
            name,
            o.created,
            o.conflicts,
            o.contended,
            o.requests,
            f64::from(o.requests) / o.created.max(1) as f64,
            percentile(&o.latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
