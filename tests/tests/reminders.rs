//! Reminders on EventBridge Scheduler: one schedule per offset still ahead, fired by the local stack at
//! its time into the jobs queue; the worker records it only for an appointment that still stands, and
//! the stream publishes `appointment.reminder_due`. Cancelling deletes what has not fired.

use std::time::{Duration, Instant};

use clinic_tests::{both_ways, Aws, Done, TestApp};
use serde_json::Value;
use shared::domain::Clock;
use shared::domain::UtcTime;

both_ways!(
    a_reminder_arrives_at_its_time_for_a_standing_appointment,
    a_cancelled_appointment_gets_no_reminder_and_loses_its_schedules,
    a_rescheduled_appointment_hands_its_reminders_to_the_new_one,
);

/// The stack as deployed with reminders allowed one second ahead (the default is a minute), so that
/// a reminder 30 minutes before a start 30 minutes and a few seconds away fires a few seconds later.
async fn app(aws: Aws) -> TestApp {
    TestApp::spawn_configured(aws, Clock::System, &[("ReminderMinimumLeadSeconds", "1")]).await
}

/// A one-seat slot of a new provider starting `ahead` from now (to the second), booked by a patient;
/// the appointment's id and start.
async fn booked_in(app: &TestApp, ahead: Duration) -> (String, UtcTime, clinic_tests::Actor) {
    let provider = app.provider().await;
    let patient = app.patient().await;
    let start = UtcTime::from_timestamp(jiff::Timestamp::now() + ahead);
    let slot = uuid::Uuid::new_v4().to_string();
    app.put_slot(&slot, provider.id, start, 15, 1).await;
    let booked = app.book(&patient, &slot).await.done();
    (booked.id.to_string(), start, patient)
}

/// How many `appointment.reminder_due` events the bus has carried for `appointment`.
async fn reminders_of(app: &TestApp, appointment: &str) -> usize {
    app.events()
        .await
        .into_iter()
        .filter(|e| {
            e["detail-type"] == "appointment.reminder_due"
                && e["detail"]["appointmentId"] == appointment
        })
        .count()
}

async fn a_reminder_arrives_at_its_time_for_a_standing_appointment(aws: Aws) {
    let app = app(aws).await;
    let (id, start, patient) = booked_in(&app, Duration::from_secs(30 * 60 + 4)).await;
    // 24h and 2h are behind; only the 30-minute reminder is scheduled.
    let due_at = start.plus(jiff::SignedDuration::from_mins(-30));
    let names = {
        let mut found = vec![];
        for _ in 0..100 {
            found = app.schedules().await;
            if !found.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        found
    };
    assert_eq!(names, [format!("reminder-{id}-30m")]);

    let events = app
        .wait_for_kinds(&id, &["appointment.created", "appointment.reminder_due"])
        .await;
    let arrived = UtcTime::from_timestamp(jiff::Timestamp::now());
    let late = due_at.until(arrived);
    println!(
        "reminder due {due_at}, on the bus by {arrived} ({} ms late)",
        late.as_millis()
    );
    assert!(late < jiff::SignedDuration::from_secs(10), "{late:?}");
    let reminder: &Value = events
        .iter()
        .find(|e| e["detail-type"] == "appointment.reminder_due")
        .unwrap();
    let detail = &reminder["detail"];
    assert_eq!(detail["offset"], "30m");
    assert_eq!(detail["patientId"], serde_json::json!(patient.id));
    assert_eq!(detail["startTime"], serde_json::json!(start));
    let mut keys: Vec<&str> = detail
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "appointmentId",
            "consultationType",
            "eventId",
            "offset",
            "patientId",
            "providerId",
            "startTime"
        ],
        "ids, times and the offset: nothing about the patient's health"
    );
    // Fired and done: the schedule deleted itself.
    assert!(app.schedules().await.is_empty());

    // Delivered again (at-least-once), the job records nothing more and publishes nothing more.
    let job: shared::jobs::Job = serde_json::from_value(serde_json::json!({
        "type": "reminder-due", "appointmentId": id, "offset": "30m", "startTime": start
    }))
    .unwrap();
    let worker = app.worker(app.store());
    worker.run(&job).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let reminders = reminders_of(&app, &id).await;
    assert_eq!(reminders, 1);
}

async fn a_rescheduled_appointment_hands_its_reminders_to_the_new_one(aws: Aws) {
    let app = app(aws).await;
    let (old, _, patient) = booked_in(&app, Duration::from_secs(30 * 60 + 5)).await;
    let provider = app.provider().await;
    let later = UtcTime::from_timestamp(jiff::Timestamp::now() + Duration::from_secs(30 * 60 + 7));
    let slot = uuid::Uuid::new_v4().to_string();
    app.put_slot(&slot, provider.id, later, 15, 1).await;
    let moved = app
        .reschedule(&patient, &old, &slot, Some("a later bus"))
        .await
        .unwrap();
    let new = moved.id.to_string();
    app.wait_for_kinds(
        &new,
        &["appointment.rescheduled", "appointment.reminder_due"],
    )
    .await;
    let for_old = reminders_of(&app, &old).await;
    assert_eq!(
        for_old, 0,
        "the old appointment's reminder was deleted or dropped"
    );
}

async fn a_cancelled_appointment_gets_no_reminder_and_loses_its_schedules(aws: Aws) {
    let app = app(aws).await;
    // Due 9 s from now: time enough to cancel and see the schedule deleted first, even on a slow run.
    let (id, start, patient) = booked_in(&app, Duration::from_secs(30 * 60 + 9)).await;
    let began = Instant::now();
    for _ in 0..100 {
        if !app.schedules().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.cancel(&patient, &id, "travel").await.done();
    app.wait_for_kinds(&id, &["appointment.created", "appointment.cancelled"])
        .await;
    // Deleted before its time, not merely fired and dropped.
    let mut left = app.schedules().await;
    while !left.is_empty() && began.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = app.schedules().await;
    }
    assert!(left.is_empty(), "still scheduled: {left:?}");
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "deleted before it was due"
    );
    // Past the time the reminder would have fired, and then some: nothing came.
    let due_in = Duration::from_secs(9) + Duration::from_secs(2);
    tokio::time::sleep(due_in.saturating_sub(began.elapsed())).await;
    let reminders: Vec<Value> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e["detail-type"] == "appointment.reminder_due")
        .collect();
    assert!(reminders.is_empty(), "{reminders:#?}");
    let _ = start;
}
