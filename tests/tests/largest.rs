//! The largest requests: bulk creation, blocks and a day's schedule at and past their bounds. Apart from
//! calendar.rs because they load the (serial) emulator for seconds, which would slow every test sharing it.

use std::time::Instant;

use clinic_tests::{bulk_body, every_day, refused, Done, NewSlot, TestApp};
use serde_json::json;

const EARLY: &str = "2027-06-01T07:00:00Z";

#[tokio::test]
async fn ninety_days_of_sixteen_slots_cost_one_batch_read_and_one_transaction_a_day() {
    let app = TestApp::spawn_at(EARLY).await;
    let provider = app.provider().await;
    let body = bulk_body(
        &provider,
        "Europe/London",
        "2027-07-01",
        "2027-09-28",
        every_day("08:00", "16:00"),
    );
    app.counter.take();
    let started = Instant::now();
    let first = app.bulk(&provider, body.clone()).await.done();
    let took = started.elapsed();
    assert_eq!(first.created, 90 * 16);
    let counts = app.counter.take();
    assert_eq!(
        (
            counts["BatchGetItem"],
            counts["TransactWriteItems"],
            counts.values().sum::<u32>()
        ),
        (1, 90, 91),
        "{counts:?}"
    );
    println!(
        "bulk of 90 days x 16 slots against the emulator: {} ms, {counts:?}",
        took.as_millis()
    );

    let again = app.bulk(&provider, body).await.done();
    assert_eq!((again.created, again.existing), (0, 1440));
    assert_eq!(
        app.counter.take(),
        [("BatchGetItem".to_owned(), 1)].into(),
        "a repeat reads and writes nothing"
    );

    // London summer time: 08:00 BST is 07:00 UTC.
    assert_eq!(
        first.slots[0].start_time.to_string(),
        "2027-07-01T07:00:00Z"
    );
}

#[tokio::test]
async fn bulk_and_block_refuse_more_than_their_bounds_and_change_nothing() {
    let app = TestApp::spawn_at(EARLY).await;
    let provider = app.provider().await;
    let before = app.items().await.len();

    // More appointment types than a slot admits: a day's transaction would grow past 4 MB.
    let mut body = bulk_body(
        &provider,
        "UTC",
        "2027-07-01",
        "2027-07-01",
        every_day("08:00", "09:00"),
    );
    body["allowedAppointmentTypes"] = json!((0..21)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect::<Vec<_>>());
    let r = app.bulk(&provider, body).await;
    refused(&r, 400, "validation_failed");
    assert_eq!(r.unwrap_err().fields, ["allowedAppointmentTypes"]);

    // A year of 24 slots a day is 8,760 slots: more than one request may create.
    let mut body = bulk_body(
        &provider,
        "UTC",
        "2027-07-01",
        "2028-06-29",
        every_day("00:00", "12:00"),
    );
    body["slotDuration"] = json!(30);
    let r = app.bulk(&provider, body).await;
    refused(&r, 400, "validation_failed");
    let detail = &r.unwrap_err().messages[0];
    assert!(
        detail.contains("8760 slots") && detail.contains("2500"),
        "{detail}"
    );
    assert_eq!(app.items().await.len(), before, "nothing written");

    // 11 days of 96 slots: 1,056 slots, more than one block may touch; 10 days is within the bound.
    let mut body = bulk_body(
        &provider,
        "UTC",
        "2027-07-01",
        "2027-07-11",
        every_day("00:00", "08:00"),
    );
    body["slotDuration"] = json!(5);
    let made = app.bulk(&provider, body).await.done();
    assert_eq!(made.created, 11 * 96);
    let items = app.items().await;
    let block = |from: &str, to: &str| json!({"providerId": provider.id, "startTime": from, "endTime": to, "reason": "leave"});
    let r = app
        .block(
            &provider,
            block("2027-07-01T00:00:00Z", "2027-07-12T00:00:00Z"),
        )
        .await;
    refused(&r, 400, "validation_failed");
    let problem = r.unwrap_err();
    assert!(problem.messages[0].contains("1056 slots"), "{problem:?}");
    assert_eq!(app.items().await, items, "nothing blocked");
    let r = app
        .block(
            &provider,
            block("2027-07-01T00:00:00Z", "2027-07-11T00:00:00Z"),
        )
        .await
        .done();
    assert_eq!(r.blocked.len(), 960);
    let made_ids: Vec<_> = made.slots[..960].iter().map(|s| s.id).collect();
    assert_eq!(r.blocked, made_ids, "in start order");
}

#[tokio::test]
async fn the_day_schedule_reads_every_booking_of_a_busy_day() {
    use shared::domain::{Appointment, AppointmentId, ConsultationType};
    let app = TestApp::spawn_at("2030-03-01T00:00:00Z").await;
    let provider = app.provider().await;
    // Eleven group sessions of 100 seats, every seat taken: more bookings than one page of a query.
    let mut writes = vec![];
    for hour in 8..19 {
        let slot = app
            .slot_at(
                &provider,
                NewSlot::at(&format!("2030-03-04T{hour:02}:00:00Z")).seats(100),
            )
            .await;
        let slot = app.stored_slot(&slot).await;
        for _ in 0..100 {
            let a = Appointment::scheduled(
                AppointmentId::new(),
                shared::domain::PatientId::from_uuid(uuid::Uuid::new_v4()),
                slot.provider_id,
                slot.id,
                slot.start_time,
                slot.end_time,
                ConsultationType::InPerson,
                slot.created_at,
            );
            let item = shared::store::items::item(&a).unwrap();
            writes.push(shared::store::batch::put_request(item).unwrap());
        }
    }
    for chunk in writes.chunks(25) {
        let out = app
            .db
            .batch_write_item()
            .request_items(&app.table, chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    }

    let day = app
        .schedule(&provider, &provider, "date=2030-03-04&timeZone=UTC")
        .await
        .done();
    assert_eq!(day.slots.len(), 11);
    let bookings: usize = day.slots.iter().map(|s| s.bookings.len()).sum();
    assert_eq!(
        bookings, 1100,
        "every booking of the day, past the first page"
    );
}
