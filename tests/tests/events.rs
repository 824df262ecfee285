//! The asynchronous path: table -> stream -> publish -> EventBridge (seen through the bus tap) and
//! -> SQS -> worker.

use std::time::Duration;

use clinic_tests::TestApp;
use serde_json::{json, Value};

fn of<'a>(events: &'a [Value], kind: &str, appointment: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["detail-type"] == kind && e["detail"]["appointmentId"] == appointment)
        .collect()
}

#[tokio::test]
async fn booking_and_cancelling_publish_one_event_each_without_patient_data() {
    let app = TestApp::spawn().await;
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
    assert_eq!(booked.status, 201, "{}", booked.body);
    let id = booked.id();
    assert_eq!(
        app.cancel(&patient, &id, "found another clinic")
            .await
            .status,
        200
    );

    app.wait_for_events(|e| of(e, "appointment.cancelled", &id).len() == 1)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // would a duplicate follow?
    let events = app
        .events()
        .await
        .into_iter()
        .filter(|e| e["detail"]["appointmentId"] == id.as_str())
        .collect::<Vec<_>>();
    assert_eq!(
        of(&events, "appointment.created", &id).len(),
        1,
        "{events:#?}"
    );
    assert_eq!(
        of(&events, "appointment.cancelled", &id).len(),
        1,
        "{events:#?}"
    );
    assert_eq!(events.len(), 2);

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
    }
    let cancelled = of(&events, "appointment.cancelled", &id)[0];
    assert_eq!(cancelled["detail"]["status"], "cancelled");
    assert_eq!(cancelled["detail"]["lateCancellation"], false);
    let ids: Vec<&Value> = events.iter().map(|e| &e["detail"]["eventId"]).collect();
    assert_ne!(ids[0], ids[1], "each change has its own event id");
}

#[tokio::test]
async fn a_cancellation_reaches_the_worker_which_records_the_freed_seat_once() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.id();
    assert_eq!(app.cancel(&patient, &id, "travel").await.status, 200);

    let key = format!("FREED#{id}");
    let mut recorded = vec![];
    for _ in 0..200 {
        recorded = app
            .items()
            .await
            .into_iter()
            .filter(|i| i.get("SK").and_then(|v| v.as_s().ok()) == Some(&key))
            .collect();
        if !recorded.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(recorded.len(), 1, "the worker recorded the freed seat");
    let item = &recorded[0];
    assert_eq!(item["PK"].as_s().unwrap(), &format!("SLOT#{slot}"));
    assert!(
        item.contains_key("expiresAt"),
        "the record expires through the table's TTL"
    );

    // Delivered again (at-least-once), the job changes nothing.
    let job: shared::jobs::Job = serde_json::from_value(json!({
        "type": "seat-freed", "jobId": uuid::Uuid::new_v4(), "slotId": slot, "appointmentId": id,
        "freedAt": item["freedAt"].as_s().unwrap()
    }))
    .unwrap();
    let worker = shared::jobs::Worker { store: app.store() };
    worker.run(&job).await.unwrap();
    let again: Vec<_> = app
        .items()
        .await
        .into_iter()
        .filter(|i| i.get("SK").and_then(|v| v.as_s().ok()) == Some(&key))
        .collect();
    assert_eq!(again, recorded);
}
