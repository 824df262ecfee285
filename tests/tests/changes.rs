//! Changing an appointment with PATCH: the transition table, notes, the consultation type.

use clinic_tests::api::NewSlot;
use clinic_tests::{ok, problem, TestApp};
use serde_json::{json, Value};

const EARLY: &str = "2027-06-01T07:00:00Z";

#[tokio::test]
async fn patch_follows_the_transition_table_and_guards_notes() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let slot_start = "2027-06-01T09:00:00Z";
    let id = app
        .booked_at(&provider, &patient, slot_start, "in_person")
        .await;

    for to in ["in_progress", "completed", "scheduled", "rescheduled"] {
        problem(
            &app.patch(&provider, &id, json!({"status": to})).await,
            409,
            "invalid_transition",
        );
    }
    problem(
        &app.patch(&provider, &id, json!({"status": "done"})).await,
        400,
        "validation_failed",
    );
    problem(
        &app.patch(&provider, &id, json!({})).await,
        400,
        "validation_failed",
    );
    problem(
        &app.patch(&provider, &id, json!({"notes": 5})).await,
        400,
        "validation_failed",
    );
    problem(
        &app.patch(&provider, &id, json!({"status": "cancelled", "notes": "x"}))
            .await,
        400,
        "validation_failed",
    );
    problem(
        &app.patch(&patient, &id, json!({"notes": "let me in"}))
            .await,
        403,
        "forbidden",
    );
    problem(
        &app.patch(&app.provider().await, &id, json!({"notes": "not mine"}))
            .await,
        404,
        "not_found",
    );

    app.counter.take();
    let noted = app
        .patch(
            &provider,
            &id,
            json!({"notes": "Bring previous lab results."}),
        )
        .await;
    ok(&noted, 200);
    assert_eq!(app.counter.take(), [("UpdateItem".to_owned(), 1)].into());
    let switched = app
        .patch(&patient, &id, json!({"consultationType": "video"}))
        .await;
    ok(&switched, 200);
    assert_eq!(
        (
            switched.body["consultationType"].as_str(),
            switched.body["notes"].as_str()
        ),
        (Some("video"), Some("Bring previous lab results."))
    );

    problem(
        &app.patch(&patient, &id, json!({"status": "confirmed"}))
            .await,
        422,
        "check_in_window",
    );
    app.travel_to("2027-06-01T08:50:00Z");
    ok(
        &app.patch(&patient, &id, json!({"status": "confirmed"}))
            .await,
        200,
    );
    let cancelled = app
        .patch(
            &patient,
            &id,
            json!({"status": "cancelled", "cancellationReason": "family emergency"}),
        )
        .await;
    ok(&cancelled, 200);
    assert_eq!(
        (
            cancelled.body["status"].as_str(),
            cancelled.body["lateCancellation"].as_bool()
        ),
        (Some("cancelled"), Some(true))
    );
    let slot = cancelled.body["slotId"].as_str().unwrap();
    assert_eq!(
        app.stored_slot(slot).await.current_bookings,
        0,
        "a PATCH cancellation frees the seat"
    );

    let events = app
        .wait_for_kinds(
            &id,
            &[
                "appointment.created",
                "appointment.updated",
                "appointment.updated",
                "appointment.checked_in",
                "appointment.cancelled",
            ],
        )
        .await;
    // The bus keeps no order: the two updates in any order, each naming what it changed.
    let mut changed: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "appointment.updated")
        .map(|e| &e["detail"]["changedFields"])
        .collect();
    changed.sort_by_key(|v| v.to_string());
    assert_eq!(
        changed,
        [&json!(["consultationType"]), &json!(["notes"])],
        "{events:#?}"
    );
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains("lab results"));
}

#[tokio::test]
async fn patch_keeps_the_consultation_type_to_what_the_appointment_type_offers() {
    let app = TestApp::spawn_at(EARLY).await;
    let (staff, provider, patient) = (app.staff().await, app.provider().await, app.patient().await);
    let video_only = app
        .post(
            "/appointment-types",
            &staff.token,
            json!({"name": "Tele-dermatology", "durationMinutes": 20, "consultationTypes": ["video"]}),
        )
        .await
        .id();
    let slot = app
        .slot_at(&provider, NewSlot::at("2027-06-01T09:00:00Z"))
        .await;
    let r = app
        .post(
            "/appointments",
            &patient.token,
            json!({"slotId": slot, "appointmentTypeId": video_only}),
        )
        .await;
    ok(&r, 201);
    let id = r.id();
    assert_eq!(r.body["consultationType"], "video");
    let before = app.items().await;
    problem(
        &app.patch(&patient, &id, json!({"consultationType": "in_person"}))
            .await,
        409,
        "consultation_type_not_offered",
    );
    assert_eq!(app.items().await, before);
    // Someone who may not see it learns nothing from the type's rules.
    problem(
        &app.patch(
            &app.patient().await,
            &id,
            json!({"consultationType": "in_person"}),
        )
        .await,
        404,
        "not_found",
    );
    ok(
        &app.patch(&patient, &id, json!({"consultationType": "video"}))
            .await,
        200,
    );
}
