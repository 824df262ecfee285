//! Rescheduling: one transaction moves the seat and the patient's time, under booking's rules.

use aws_sdk_dynamodb::types::AttributeValue;
use clinic_tests::{ok, problem, refused, Booking, Done, NewSlot, TestApp};
use serde_json::{json, Value};
use shared::domain::AppointmentStatus;

const EARLY: &str = "2027-06-01T07:00:00Z";

#[tokio::test]
async fn rescheduling_moves_the_seat_and_the_patients_time_in_one_step() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let old = app
        .booked_at(&provider, &patient, "2027-06-01T09:00:00Z", "in_person")
        .await;
    let old_slot = app
        .appointment(&patient, &old)
        .await
        .unwrap()
        .slot_id
        .to_string();
    // Overlaps only the old time: allowed, since that time is being given up.
    let target = app
        .slot_at(
            &app.provider().await,
            NewSlot::at("2027-06-01T09:15:00Z").seats(2),
        )
        .await;

    app.counter.take();
    let moved = app
        .reschedule(&patient, &old, &target, Some("earlier bus"))
        .await
        .done();
    let counts = app.counter.take();
    // The appointment, the batch (slot, guard, the old provider's settings), the new slot's provider's
    // settings (another provider: one GetItem more), the transaction.
    assert_eq!(counts.values().sum::<u32>(), 4, "{counts:?}");
    assert_eq!(counts["GetItem"], 2, "{counts:?}");
    let new = moved.id.to_string();
    assert_eq!(
        (
            moved.rescheduled_from.map(|a| a.to_string()),
            moved.previous_appointment_id.map(|a| a.to_string())
        ),
        (Some(old.clone()), Some(old.clone()))
    );
    let before = app.appointment(&patient, &old).await.unwrap();
    assert_eq!(
        (before.status, before.rescheduled_to.map(|a| a.to_string())),
        (AppointmentStatus::Rescheduled, Some(new.clone()))
    );
    assert_eq!(app.stored_slot(&old_slot).await.current_bookings, 0);
    assert_eq!(app.stored_slot(&target).await.current_bookings, 1);

    problem(
        &app.post(
            &format!("/appointments/{old}/reschedule"),
            &patient.token,
            json!({"newSlotId": old_slot}),
        )
        .await,
        409,
        "invalid_transition",
    );
    problem(
        &app.post(
            &format!("/appointments/{new}/reschedule"),
            &patient.token,
            json!({"newSlotId": target}),
        )
        .await,
        409,
        "slot_unavailable",
    );
    problem(
        &app.post(
            &format!("/appointments/{new}/reschedule"),
            &patient.token,
            json!({"newSlotId": "x"}),
        )
        .await,
        400,
        "validation_failed",
    );
    problem(
        &app.post(
            &format!("/appointments/{new}/reschedule"),
            &patient.token,
            json!({"newSlotId": uuid::Uuid::new_v4()}),
        )
        .await,
        404,
        "not_found",
    );
    // The old time is free again: the patient can book it elsewhere; the new time is taken.
    let same_time_as_new = app
        .slot_at(&app.provider().await, NewSlot::at("2027-06-01T09:20:00Z"))
        .await;
    refused(
        &app.book(&patient, &same_time_as_new).await,
        409,
        "patient_conflict",
    );
    let full = app
        .slot_at(&app.provider().await, NewSlot::at("2027-06-01T13:00:00Z"))
        .await;
    app.book(&app.patient().await, &full).await.done();
    problem(
        &app.post(
            &format!("/appointments/{new}/reschedule"),
            &patient.token,
            json!({"newSlotId": full}),
        )
        .await,
        409,
        "slot_full",
    );

    let events = app
        .wait_for_events(|e| {
            e.iter()
                .any(|e| e["detail-type"] == "appointment.rescheduled")
        })
        .await;
    let r = events
        .iter()
        .find(|e| e["detail-type"] == "appointment.rescheduled")
        .unwrap();
    assert_eq!(
        (
            r["detail"]["appointmentId"].as_str(),
            r["detail"]["previousAppointmentId"].as_str()
        ),
        (Some(new.as_str()), Some(old.as_str()))
    );
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains("earlier bus"));
}

#[tokio::test]
async fn a_provider_reschedules_only_into_their_own_slots() {
    let app = TestApp::spawn_at(EARLY).await;
    let (x, y, patient) = (
        app.provider().await,
        app.provider().await,
        app.patient().await,
    );
    let id = app
        .booked_at(&x, &patient, "2027-06-01T09:00:00Z", "in_person")
        .await;
    let theirs = app.slot_at(&y, NewSlot::at("2027-06-01T10:00:00Z")).await;
    let before = app.items().await;
    let r = app
        .post(
            &format!("/appointments/{id}/reschedule"),
            &x.token,
            json!({"newSlotId": theirs}),
        )
        .await;
    problem(&r, 403, "forbidden");
    assert_eq!(app.items().await, before, "nothing moved, no seat taken");

    let own = app.slot_at(&x, NewSlot::at("2027-06-01T11:00:00Z")).await;
    let r = app
        .post(
            &format!("/appointments/{id}/reschedule"),
            &x.token,
            json!({"newSlotId": own}),
        )
        .await;
    ok(&r, 201);
    // The patient may move to any slot they could book, another provider's included.
    let r = app
        .post(
            &format!("/appointments/{}/reschedule", r.id()),
            &patient.token,
            json!({"newSlotId": theirs}),
        )
        .await;
    ok(&r, 201);
}

#[tokio::test]
async fn rescheduling_applies_bookings_type_rules() {
    let app = TestApp::spawn_at(EARLY).await;
    let (staff, provider, patient) = (app.staff().await, app.provider().await, app.patient().await);
    let new_type = |name: &str, kinds: Value| json!({"name": name, "durationMinutes": 30, "consultationTypes": kinds});
    let kind = |name: &str, kinds: Value| {
        let app = &app;
        let staff = staff.clone();
        let body = new_type(name, kinds);
        async move { app.create_type(&staff, body).await.done().id.to_string() }
    };
    let t1 = kind("T1", json!(["video", "in_person"])).await;
    let t2 = kind("T2", json!(["in_person"])).await;
    let first = app
        .slot_at(&provider, NewSlot::at("2027-06-01T09:00:00Z"))
        .await;
    let typed = app
        .book(
            &patient,
            Booking {
                slot: &first,
                appointment_type: Some(&t1),
                consultation: Some("video"),
                ..Default::default()
            },
        )
        .await
        .done()
        .id
        .to_string();
    let only_t2 = app
        .slot_at(&provider, NewSlot::at("2027-06-01T10:00:00Z").types(&[&t2]))
        .await;
    let before = app.items().await;
    refused(
        &app.reschedule(&patient, &typed, &only_t2, None).await,
        409,
        "appointment_type_not_allowed",
    );
    // An appointment of no type cannot move into a slot that admits only some types either.
    let noon = app
        .slot_at(&provider, NewSlot::at("2027-06-01T12:00:00Z"))
        .await;
    let untyped = app.book(&patient, &noon).await.done().id.to_string();
    let before_untyped = app.items().await;
    refused(
        &app.reschedule(&patient, &untyped, &only_t2, None).await,
        409,
        "appointment_type_not_allowed",
    );
    assert_eq!(app.items().await, before_untyped);

    // A slot that admits T1, once T1 is deactivated.
    let t1_slot = app
        .slot_at(&provider, NewSlot::at("2027-06-01T14:00:00Z").types(&[&t1]))
        .await;
    app.update_type(&staff, &t1, json!({"isActive": false}))
        .await
        .done();
    refused(
        &app.reschedule(&patient, &typed, &t1_slot, None).await,
        409,
        "appointment_type_inactive",
    );
    let appointments = |items: Vec<std::collections::HashMap<String, AttributeValue>>| {
        items
            .into_iter()
            .filter(|i| {
                let id = i.get("id").and_then(|v| v.as_s().ok());
                id.and_then(|id| id.parse().ok()).is_some_and(|id| {
                    shared::store::keys::appointment(id).pk == *i["PK"].as_s().unwrap()
                })
            })
            .collect::<Vec<_>>()
    };
    let (now, then) = (appointments(app.items().await), appointments(before));
    assert_eq!(
        now.len(),
        then.len() + 1,
        "only the untyped booking came since"
    );
    assert!(then.iter().all(|a| now.contains(a)), "no appointment moved");
}
