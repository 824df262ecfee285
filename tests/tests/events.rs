//! The asynchronous path: table -> stream -> publish -> EventBridge (seen through the bus tap) and
//! -> SQS -> worker. Every scenario runs twice (`both_ways!`), the second time with PutEvents entries,
//! SendMessage calls and the table's writes failing as AWS's do.

use aws_sdk_dynamodb::types::AttributeValue;
use clinic_tests::{book_at_once, both_ways, ok, settled, Aws, Done, TestApp};
use serde_json::{json, Value};
use shared::domain::Clock;

both_ways!(
    booking_and_cancelling_publish_one_event_each_without_patient_data,
    a_cancellation_reaches_the_worker_which_offers_the_seat_once,
    a_race_publishes_one_event_per_committed_booking_and_none_for_the_rolled_back,
    a_poison_record_is_parked_and_the_records_behind_it_are_published,
    a_poison_job_goes_to_the_dead_letter_queue_after_its_receives_and_the_jobs_beside_it_run,
);

/// A patient waiting for `slot`'s UTC date with `provider` (who has no stored zone: UTC); the entry id.
async fn waiting_for(app: &TestApp, provider: &clinic_tests::Actor, slot: &str) -> String {
    let start = app.stored_slot(slot).await.start_time;
    let date = start.timestamp().to_zoned(jiff::tz::TimeZone::UTC).date();
    let patient = app.patient().await;
    app.wait_for_seat(&patient, provider, &date.to_string())
        .await
        .id
        .to_string()
}

fn of<'a>(events: &'a [Value], kind: &str, appointment: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["detail-type"] == kind && e["detail"]["appointmentId"] == appointment)
        .collect()
}

async fn booking_and_cancelling_publish_one_event_each_without_patient_data(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let booked = app
        .post(
            "/appointments",
            &patient.token,
            json!({"slotId": slot, "reasonForVisit": "persistent migraine", "symptoms": ["aura", "nausea"], "chiefComplaint": "headache for 3 weeks"}),
        )
        .await;
    ok(&booked, 201);
    let id = booked.id();
    app.cancel(&patient, &id, "found another clinic")
        .await
        .done();

    let events: Vec<Value> = app
        .wait_for_kinds(&id, &["appointment.created", "appointment.cancelled"])
        .await
        .into_iter()
        .filter(|e| e["detail"]["appointmentId"] == id.as_str())
        .collect();

    let allowed = [
        "eventId",
        "appointmentId",
        "patientId",
        "providerId",
        "slotId",
        "startTime",
        "endTime",
        "status",
        "consultationType",
        "occurredAt",
        "lateCancellation",
        // The patient's manage link (a credential for this one visit, issue 23), on created only.
        "manageUrl",
    ];
    for e in &events {
        assert_eq!(e["source"], "appointments");
        let detail = e["detail"].as_object().unwrap();
        for key in detail.keys() {
            assert!(
                allowed.contains(&key.as_str()),
                "{key} must not be in an event"
            );
        }
        let text = e.to_string();
        for phi in ["migraine", "aura", "nausea", "headache", "another clinic"] {
            assert!(!text.contains(phi), "{phi:?} leaked into {text}");
        }
        assert_eq!(detail["slotId"], json!(slot));
        assert_eq!(
            detail.contains_key("manageUrl"),
            e["detail-type"] == "appointment.created",
            "{e}"
        );
        if let Some(url) = detail.get("manageUrl") {
            assert!(url.as_str().unwrap().contains("/manage/"), "{url}");
        }
    }
    let cancelled = of(&events, "appointment.cancelled", &id)[0];
    assert_eq!(cancelled["detail"]["status"], "cancelled");
    assert_eq!(cancelled["detail"]["lateCancellation"], false);
    assert_ne!(
        events[0]["detail"]["eventId"],
        events[1]["detail"]["eventId"]
    );
}

async fn a_cancellation_reaches_the_worker_which_offers_the_seat_once(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    let waiting = waiting_for(&app, &provider, &slot).await;
    app.cancel(&patient, &id, "travel").await.done();

    let offered = app
        .entry_when(&waiting, |e| e.status.as_str() == "offered")
        .await;
    assert_eq!(
        offered.offered_slot_id.map(|s| s.to_string()),
        Some(slot.clone())
    );
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings,
        1,
        "the seat is held"
    );

    // Delivered again (at-least-once), the job changes nothing: the seat is held already.
    let job: shared::jobs::Job = serde_json::from_value(json!({
        "type": "seat-freed", "jobId": uuid::Uuid::new_v4(), "slotId": slot, "appointmentId": id,
        "freedAt": offered.updated_at
    }))
    .unwrap();
    let worker = app.worker(app.store());
    worker.run(&job).await.unwrap();
    worker.run(&job).await.unwrap();
    let after = app.entry_when(&waiting, |_| true).await;
    assert_eq!(after, offered);
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
    app.wait_for_kinds_of(
        "entryId",
        &waiting,
        &["waitlist.joined", "waitlist.offered"],
    )
    .await;
}

/// The defect of the first local stack: a rolled-back transaction left its records on a stream shard
/// that was then replaced, so a race published an event for an appointment that never existed and
/// nothing after it was published at all.
async fn a_race_publishes_one_event_per_committed_booking_and_none_for_the_rolled_back(aws: Aws) {
    let app = std::sync::Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let first = app.patient().await;
    let warm_up = app.slot(&provider, 20, 1).await;
    let before = app.book(&first, &warm_up).await.done();

    let raced = app.slot(&provider, 30, 1).await;
    let patients = app.patients(8).await;
    let replies = book_at_once(&app, &patients, &raced).await;
    for r in &replies {
        settled(r, &[(201, ""), (409, "slot_full")], aws);
    }
    let winners: Vec<String> = replies
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|a| a.id.to_string())
        .collect();
    assert!(winners.len() <= 1);

    // After the race: one more booking and a cancellation must still be published.
    let after_slot = app.slot(&provider, 40, 1).await;
    let after = app.book(&first, &after_slot).await.done();
    app.cancel(&first, &after.id.to_string(), "plans changed")
        .await
        .done();
    let mut expected: Vec<(&str, String)> = vec![
        ("appointment.created", before.id.to_string()),
        ("appointment.created", after.id.to_string()),
        ("appointment.cancelled", after.id.to_string()),
    ];
    expected.extend(winners.iter().map(|w| ("appointment.created", w.clone())));
    let events = app
        .wait_for_events(|e| expected.iter().all(|(kind, id)| of(e, kind, id).len() == 1))
        .await;

    tokio::time::sleep(std::time::Duration::from_millis(500)).await; // would a stray event follow?
    let events_now = app.events().await;
    assert_eq!(
        events_now.len(),
        events.len().max(expected.len()),
        "{events_now:#?}"
    );
    let for_raced: Vec<&Value> = events_now
        .iter()
        .filter(|e| e["detail"]["slotId"] == raced.as_str())
        .collect();
    assert_eq!(
        for_raced.len(),
        winners.len(),
        "exactly one event per committed booking of the raced slot: {for_raced:#?}"
    );
    for e in &for_raced {
        let id = e["detail"]["appointmentId"].as_str().unwrap();
        assert!(
            winners.iter().any(|w| w == id),
            "an event for {id}, which was rolled back"
        );
    }
}

/// A record `publish` can never handle is retried `MaximumRetryAttempts` times, then its metadata goes
/// to the stream's on-failure queue, and the stream moves on.
/// A record `publish` can never decode (an appointment item of a shape it does not know) is parked
/// at once, its keys on the parking queue and nothing of its attributes there; the records behind it
/// are published, nothing reaches the on-failure destination, and a replay finds it still refused.
async fn a_poison_record_is_parked_and_the_records_behind_it_are_published(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let poison = uuid::Uuid::new_v4();
    let key = shared::store::keys::appointment(shared::domain::AppointmentId::from_uuid(poison));
    app.db
        .put_item()
        .table_name(&app.table)
        .item("PK", AttributeValue::S(key.pk.clone()))
        .item("SK", AttributeValue::S(key.sk.clone()))
        .item("status", AttributeValue::S("no-such-status".into()))
        .item("notes", AttributeValue::S("patient is anxious".into()))
        .send()
        .await
        .unwrap();

    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let booked = app.book(&patient, &slot).await.done();
    app.wait_for_events(|e| of(e, "appointment.created", &booked.id.to_string()).len() == 1)
        .await;

    let parked = app
        .message_on("ParkedRecordsQueue", |m| m["keys"]["PK"] == key.pk.as_str())
        .await;
    assert_eq!(parked["keys"]["SK"], "APPT");
    assert_eq!(parked["eventName"], "INSERT");
    assert!(parked["sequenceNumber"].is_string(), "{parked}");
    assert!(
        parked["error"]
            .as_str()
            .unwrap()
            .contains("appointment image"),
        "{parked}"
    );
    let text = parked.to_string();
    assert!(
        !text.contains("anxious") && !text.contains("no-such-status"),
        "no attribute leaves the table: {text}"
    );
    assert_eq!(
        app.queue_depth("StreamFailuresQueue").await,
        0,
        "nothing was discarded"
    );
    let replay = app.replay_parked().await;
    assert_eq!(
        (replay.replayed, replay.still_failing),
        (0, 1),
        "{replay:?}"
    );
    assert_eq!(
        app.queue_depth("ParkedRecordsQueue").await,
        1,
        "it stays parked"
    );
}

/// A job the worker can never run comes back after each visibility timeout and, after the redrive
/// policy's `maxReceiveCount` (5), lands on the dead-letter queue; the queue goes on serving other jobs.
/// The stack is deployed with a 1-second visibility timeout so that this takes seconds, not minutes.
async fn a_poison_job_goes_to_the_dead_letter_queue_after_its_receives_and_the_jobs_beside_it_run(
    aws: Aws,
) {
    let app =
        TestApp::spawn_configured(aws, Clock::System, &[("JobsQueue.VisibilityTimeout", "1")])
            .await;
    let url = app
        .stack
        .stack
        .reference("JobsQueue", None)
        .unwrap()
        .clone();
    aws_sdk_sqs::Client::new(&app.inspector)
        .send_message()
        .queue_url(&url)
        .message_body(r#"{"type": "no-such-job", "jobId": "x"}"#)
        .send()
        .await
        .unwrap();

    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    let waiting = waiting_for(&app, &provider, &slot).await;
    app.cancel(&patient, &id, "travel").await.done();

    let dead = app.drain_queue("JobsDeadLetterQueue").await;
    assert_eq!(dead, vec![json!({"type": "no-such-job", "jobId": "x"})]);
    // The seat-freed job beside it ran: the waiting patient holds the seat.
    app.entry_when(&waiting, |e| e.status.as_str() == "offered")
        .await;
}
