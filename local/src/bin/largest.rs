//! `make bench-largest`: the largest requests the service accepts, each measured as its function would
//! run it: wall time against the emulator, CPU time, peak memory (high-water RSS of this process, which
//! holds the local server and the client), DynamoDB requests and response size. Pollers do not run, so
//! the CPU is the handler's (plus the client's share). What template.yaml gives bulk, block and schedule
//! (`Timeout`, `MemorySize`) comes from these figures: Lambda gives a function CPU in proportion to its
//! memory, one vCPU at 1,769 MB (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).

use local::client::{call, http, token, Http};
use local::counter::RequestCounter;
use local::emulator::{Emulator, Faults};
use local::server::Server;
use local::stack::Stack;
use serde_json::{json, Value};

use local::measure::Stretch;

struct Bench {
    http: Http,
    base: String,
    counter: RequestCounter,
}

impl Bench {
    async fn measure(
        &self,
        name: &str,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let stretch = Stretch::start(&self.counter);
        let (status, size, reply) = call(
            &self.http,
            method,
            &format!("{}{path}", self.base),
            Some(token),
            body,
        )
        .await;
        let m = stretch.end();
        println!(
            "{name:<44} {status:>4} {:>9.0} {:>8.0} {:>8.1} {:>9} {:>10.2}",
            m.wall_ms,
            m.cpu_ms,
            m.peak_mb,
            m.requests,
            size as f64 / 1e6
        );
        reply
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), local::Error> {
    let emulator = Emulator::start_with(0, &Faults::off())?;
    let sdk = local::sdk_config(&emulator.url);
    let counter = RequestCounter::default();
    let counted = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let template = local::template::Template::load(&local::template_path())?;
    let stack = std::sync::Arc::new(Stack::provision(template, "largest", sdk.clone()).await?);
    let table = stack.table_name().ok_or("no table")?.clone();
    let server = std::sync::Arc::new(Server::new(
        stack.clone(),
        aws_sdk_dynamodb::Client::from_conf(counted),
        Default::default(),
    )?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(server.serve(listener));
    let bench = Bench {
        http: http(),
        base: base.clone(),
        counter,
    };
    let (a, a_token) = token(&bench.http, &base, &["provider"]).await;
    let (b, b_token) = token(&bench.http, &base, &["provider"]).await;
    let today = jiff::Zoned::now().date();
    let day = |n: i64| {
        today
            .checked_add(jiff::Span::new().days(n))
            .expect("a date")
    };
    let every_day = |start: &str, end: &str| {
        let d = json!({"morning": {"start": start, "end": end}});
        json!({"monday": d, "tuesday": d, "wednesday": d, "thursday": d, "friday": d, "saturday": d, "sunday": d})
    };

    println!(
        "{:<44} {:>4} {:>9} {:>8} {:>8} {:>9} {:>10}",
        "request", "", "wall ms", "CPU ms", "peak MB", "DynamoDB", "response MB"
    );
    bench
        .measure(
            "bulk: 366 days x 6 slots (366 transactions)",
            "POST",
            "/slots/bulk",
            &a_token,
            Some(
                json!({"providerId": a, "timeZone": "UTC", "startDate": day(1), "endDate": day(366),
                "workingHours": every_day("08:00", "14:00"), "slotDuration": 60}),
            ),
        )
        .await;
    let made = bench
        .measure(
            "bulk: 26 days x 96 slots of 100 seats",
            "POST",
            "/slots/bulk",
            &b_token,
            Some(json!({"providerId": b, "timeZone": "UTC", "startDate": day(1), "endDate": day(26),
                "workingHours": every_day("00:00", "08:00"), "slotDuration": 5, "maxBookings": 100})),
        )
        .await;
    let from = format!("{}T00:00:00Z", day(1));
    let to = format!("{}T03:20:00Z", day(11));
    bench
        .measure(
            "block: 1,000 slots",
            "POST",
            "/slots/block",
            &b_token,
            Some(json!({"providerId": b, "startTime": from, "endTime": to, "reason": "leave"})),
        )
        .await;

    // A day of 96 slots with all 100 seats booked: 9,600 appointments, written straight to the table.
    let busy = day(20);
    let store_db = aws_sdk_dynamodb::Client::new(&sdk);
    let slots: Vec<shared::domain::Slot> = made["slots"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|s| {
                    s["startTime"]
                        .as_str()
                        .is_some_and(|t| t.starts_with(&busy.to_string()))
                })
                .filter_map(|s| serde_json::from_value(s.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let mut writes = vec![];
    for slot in &slots {
        for _ in 0..100 {
            let a = shared::domain::Appointment::scheduled(
                shared::domain::AppointmentId::new(),
                shared::domain::PatientId::from_uuid(uuid::Uuid::new_v4()),
                slot.provider_id,
                slot.id,
                slot.start_time,
                slot.end_time,
                shared::domain::ConsultationType::InPerson,
                slot.created_at,
            );
            writes.push(shared::store::batch::put_request(
                shared::store::items::item(&a)?,
            )?);
        }
    }
    for chunk in writes.chunks(25) {
        store_db
            .batch_write_item()
            .request_items(&table, chunk.to_vec())
            .send()
            .await?;
    }
    // What this process built to seed the day is freed, so that the peak below is the request's.
    let (slot_count, bookings) = (slots.len(), writes.len());
    drop((writes, slots, made));
    bench
        .measure(
            &format!("schedule: {slot_count} slots, {bookings} bookings"),
            "GET",
            &format!("/providers/{b}/schedule?date={busy}&timeZone=UTC"),
            &b_token,
            None,
        )
        .await;
    drop(emulator);
    Ok(())
}
