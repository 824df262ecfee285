//! A visit from booking to its end: check-in, start, complete, the no-show and its report, and what
//! nobody but staff may do once it has ended.

use aws_sdk_dynamodb::types::AttributeValue;
use clinic_tests::{ok, problem, refused, Done, NewSlot, TestApp};
use serde_json::json;
use shared::domain::{AppointmentStatus, UtcTime};

const EARLY: &str = "2027-06-01T07:00:00Z";

#[tokio::test]
async fn a_video_visit_from_check_in_to_completion() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient, staff) = (app.provider().await, app.patient().await, app.staff().await);
    let id = app
        .booked_at(&provider, &patient, "2027-06-01T09:00:00Z", "video")
        .await;
    app.set_appointment_attribute(&id, "consultationFee", AttributeValue::N("80".into()))
        .await;

    // Check-in opens half an hour before the start.
    app.travel_to("2027-06-01T08:00:00Z");
    refused(&app.check_in(&patient, &id).await, 422, "check_in_window");
    app.travel_to("2027-06-01T08:45:00Z");
    app.counter.take();
    let checked_in = app.check_in(&patient, &id).await.unwrap();
    assert_eq!(
        app.counter.take(),
        [("UpdateItem".to_owned(), 1)].into(),
        "check-in is one request"
    );
    assert_eq!(checked_in.status, AppointmentStatus::Confirmed);
    assert_eq!(checked_in.check_in_time, Some(t("2027-06-01T08:45:00Z")));

    // The provider starts it; a video visit gets its room.
    refused(&app.start(&patient, &id).await, 403, "forbidden");
    app.travel_to("2027-06-01T09:05:00Z");
    let started = app.start(&provider, &id).await.unwrap();
    assert_eq!(
        app.counter.take().values().sum::<u32>(),
        2,
        "start reads once for the wait time"
    );
    assert_eq!(started.wait_time, Some(20));
    assert_eq!(started.actual_start_time, Some(t("2027-06-01T09:05:00Z")));
    let room = started.video_room_url.clone().unwrap();
    assert!(
        room.starts_with("https://video.clinic.invalid/rooms/")
            && room.ends_with(started.video_room_id.as_deref().unwrap())
    );

    // Only the clinician completes it, with valid vitals and a follow-up after today.
    refused(
        &app.complete(&staff, &id, json!({})).await,
        403,
        "forbidden",
    );
    let bad = app
        .complete(
            &provider,
            &id,
            json!({"vitals": {"bloodPressure": "80/120", "temperature": 370}}),
        )
        .await;
    refused(&bad, 400, "validation_failed");
    assert_eq!(
        bad.unwrap_err().fields,
        ["vitals.bloodPressure", "vitals.temperature"]
    );
    refused(
        &app.complete(&provider, &id, json!({"vitals": {"pulse": 60}}))
            .await,
        400,
        "validation_failed",
    );
    refused(
        &app.complete(
            &provider,
            &id,
            json!({"followUpDate": "2027-05-01", "followUpRequired": true}),
        )
        .await,
        400,
        "validation_failed",
    );

    app.travel_to("2027-06-01T09:31:00Z");
    app.counter.take();
    let done = app
        .complete(
            &provider,
            &id,
            json!({
                "notes": "Stable; continue medication.", "privateNotes": "Possible white-coat effect.",
                "vitals": {"bloodPressure": "128/82", "heartRate": 71, "temperature": 36.7},
                "followUpRequired": true, "followUpDate": "2027-09-01", "followUpNotes": "Repeat labs"
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        app.counter.take(),
        [("UpdateItem".to_owned(), 1)].into(),
        "complete is one request"
    );
    assert_eq!(done.status, AppointmentStatus::Completed);
    assert_eq!(done.actual_end_time, Some(t("2027-06-01T09:31:00Z")));
    assert_eq!(done.vitals.as_ref().and_then(|v| v.heart_rate), Some(71));
    assert_eq!(
        done.private_notes.as_deref(),
        Some("Possible white-coat effect.")
    );
    refused(
        &app.complete(&provider, &id, json!({})).await,
        409,
        "invalid_transition",
    );

    // Private notes are the clinician's: not the patient's, not staff's, not in lists.
    for who in [&patient, &staff] {
        assert_eq!(app.appointment(who, &id).await.unwrap().private_notes, None);
    }
    let history = app.appointments(&patient, "history", "").await.unwrap();
    assert_eq!(history.data[0].id.to_string(), id);
    assert_eq!(
        history.data[0].private_notes, None,
        "lists hide private notes too"
    );

    let events = app
        .wait_for_kinds(
            &id,
            &[
                "appointment.created",
                "appointment.updated",
                "appointment.checked_in",
                "appointment.started",
                "appointment.completed",
                "payment.requested",
                "appointment.follow_up_requested",
            ],
        )
        .await;
    let text = serde_json::to_string(&events).unwrap();
    for secret in ["white-coat", "medication", "Repeat labs", "128/82"] {
        assert!(!text.contains(secret), "{secret} leaked into events");
    }
    let payment = events
        .iter()
        .find(|e| e["detail-type"] == "payment.requested")
        .unwrap();
    assert_eq!(payment["detail"]["amount"], 80.0);
    let started = events
        .iter()
        .find(|e| e["detail-type"] == "appointment.started")
        .unwrap();
    assert_eq!(started["detail"]["videoRoomUrl"], json!(room));
}

fn t(s: &str) -> UtcTime {
    s.parse().unwrap()
}

#[tokio::test]
async fn a_no_show_is_recorded_only_after_the_end_and_reported() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient, other) = (
        app.provider().await,
        app.patient().await,
        app.patient().await,
    );
    let missed = app
        .booked_at(&provider, &patient, "2027-06-01T09:00:00Z", "in_person")
        .await;
    let kept = app
        .booked_at(&provider, &other, "2027-06-01T10:00:00Z", "in_person")
        .await;
    let cancelled = app
        .booked_at(&provider, &other, "2027-06-01T11:00:00Z", "in_person")
        .await;
    app.cancel(&other, &cancelled, "sick").await.done();

    app.travel_to("2027-06-01T09:10:00Z");
    refused(
        &app.no_show(&provider, &missed).await,
        422,
        "appointment_not_over",
    );
    refused(&app.no_show(&patient, &missed).await, 403, "forbidden");
    app.travel_to("2027-06-01T09:30:00Z");
    app.counter.take();
    app.no_show(&provider, &missed).await.unwrap();
    assert_eq!(app.counter.take().values().sum::<u32>(), 1);
    refused(
        &app.no_show(&provider, &missed).await,
        409,
        "invalid_transition",
    );
    refused(
        &app.check_in(&patient, &missed).await,
        409,
        "invalid_transition",
    );

    app.travel_to("2027-06-01T09:55:00Z");
    app.check_in(&other, &kept).await.unwrap();

    let path = format!(
        "/appointments/reports/no-shows?providerId={}&startDate=2027-06-01&endDate=2027-06-01",
        provider.id
    );
    let report = app
        .no_show_report(&provider, &provider, "2027-06-01", "2027-06-01")
        .await
        .done();
    assert_eq!(
        (report.total_appointments, report.no_shows),
        (2, 1),
        "{report:?}"
    );
    assert_eq!(report.no_show_rate, 0.5);
    let by_patient = &report.by_patient[0];
    assert_eq!(
        (
            by_patient.patient_id.uuid(),
            by_patient.appointments,
            by_patient.no_shows
        ),
        (patient.id, 1, 1)
    );
    problem(
        &app.get(&path, &app.provider().await.token).await,
        403,
        "forbidden",
    );
    problem(&app.get(&path, &patient.token).await, 403, "forbidden");
    ok(&app.get(&path, &app.staff().await.token).await, 200);
    let backwards = format!(
        "/appointments/reports/no-shows?providerId={}&startDate=2027-06-02&endDate=2027-06-01",
        provider.id
    );
    problem(
        &app.get(&backwards, &provider.token).await,
        400,
        "validation_failed",
    );
}

#[tokio::test]
async fn after_the_end_only_staff_cancel_and_nobody_reschedules_for_the_patient() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient, staff) = (app.provider().await, app.patient().await, app.staff().await);
    let slot = app
        .slot_at(&provider, NewSlot::at("2027-06-01T09:00:00Z").minutes(1))
        .await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    let later = app
        .slot_at(&provider, NewSlot::at("2027-06-02T09:00:00Z"))
        .await;

    app.travel_to("2027-06-01T09:06:00Z");
    let before = app.items().await;
    refused(
        &app.cancel(&patient, &id, "forgot").await,
        422,
        "appointment_over",
    );
    refused(
        &app.update(
            &patient,
            &id,
            json!({"status": "cancelled", "cancellationReason": "forgot"}),
        )
        .await,
        422,
        "appointment_over",
    );
    problem(
        &app.post(
            &format!("/appointments/{id}/reschedule"),
            &patient.token,
            json!({"newSlotId": later}),
        )
        .await,
        422,
        "appointment_over",
    );
    assert_eq!(app.items().await, before, "nothing changed");

    // The provider records the no-show; it shows in the day's report.
    app.no_show(&provider, &id).await.unwrap();
    let report = app
        .no_show_report(&staff, &provider, "2027-06-01", "2027-06-01")
        .await
        .done();
    assert_eq!(report.no_shows, 1, "{report:?}");

    // Another past appointment: staff may still cancel it, with a reason.
    let slot = app
        .slot_at(&provider, NewSlot::at("2027-06-01T10:00:00Z").minutes(1))
        .await;
    app.travel_to("2027-06-01T09:30:00Z");
    let other = app.book(&patient, &slot).await.done().id.to_string();
    app.travel_to("2027-06-01T10:05:00Z");
    let r = app.cancel(&staff, &other, "clinic closed early").await;
    assert_eq!(r.done().status, AppointmentStatus::Cancelled);
}
