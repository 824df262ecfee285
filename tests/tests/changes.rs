//! Changing an appointment with PATCH: the transition table, notes, the consultation type.

use clinic_tests::{refused, Booking, Done, NewSlot, TestApp};
use serde_json::{json, Value};
use shared::domain::{AppointmentStatus, ConsultationType};

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
        refused(
            &app.update(&provider, &id, json!({"status": to})).await,
            409,
            "invalid_transition",
        );
    }
    refused(
        &app.update(&provider, &id, json!({"status": "done"})).await,
        400,
        "validation_failed",
    );
    refused(
        &app.update(&provider, &id, json!({})).await,
        400,
        "validation_failed",
    );
    refused(
        &app.update(&provider, &id, json!({"notes": 5})).await,
        400,
        "validation_failed",
    );
    refused(
        &app.update(&provider, &id, json!({"status": "cancelled", "notes": "x"}))
            .await,
        400,
        "validation_failed",
    );
    refused(
        &app.update(&patient, &id, json!({"notes": "let me in"}))
            .await,
        403,
        "forbidden",
    );
    refused(
        &app.update(&app.provider().await, &id, json!({"notes": "not mine"}))
            .await,
        404,
        "not_found",
    );

    app.counter.take();
    let noted = app
        .update(
            &provider,
            &id,
            json!({"notes": "Bring previous lab results."}),
        )
        .await;
    assert!(noted.is_ok(), "{noted:?}");
    assert_eq!(app.counter.take(), [("UpdateItem".to_owned(), 1)].into());
    let switched = app
        .update(&patient, &id, json!({"consultationType": "video"}))
        .await
        .unwrap();
    assert_eq!(
        (switched.consultation_type, switched.notes.as_deref()),
        (ConsultationType::Video, Some("Bring previous lab results."))
    );

    refused(
        &app.update(&patient, &id, json!({"status": "confirmed"}))
            .await,
        422,
        "check_in_window",
    );
    app.travel_to("2027-06-01T08:50:00Z");
    app.update(&patient, &id, json!({"status": "confirmed"}))
        .await
        .unwrap();
    let cancelled = app
        .update(
            &patient,
            &id,
            json!({"status": "cancelled", "cancellationReason": "family emergency"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (cancelled.status, cancelled.late_cancellation),
        (AppointmentStatus::Cancelled, Some(true))
    );
    let slot = cancelled.slot_id.to_string();
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings,
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
        .create_type(
            &staff,
            json!({"name": "Tele-dermatology", "durationMinutes": 20, "consultationTypes": ["video"]}),
        )
        .await
        .done()
        .id
        .to_string();
    let slot = app
        .slot_at(&provider, NewSlot::at("2027-06-01T09:00:00Z"))
        .await;
    let booked = app
        .book(
            &patient,
            Booking {
                slot: &slot,
                appointment_type: Some(&video_only),
                ..Default::default()
            },
        )
        .await
        .done();
    let id = booked.id.to_string();
    assert_eq!(booked.consultation_type, ConsultationType::Video);
    let before = app.items().await;
    refused(
        &app.update(&patient, &id, json!({"consultationType": "in_person"}))
            .await,
        409,
        "consultation_type_not_offered",
    );
    assert_eq!(app.items().await, before);
    // Someone who may not see it learns nothing from the type's rules.
    refused(
        &app.update(
            &app.patient().await,
            &id,
            json!({"consultationType": "in_person"}),
        )
        .await,
        404,
        "not_found",
    );
    app.update(&patient, &id, json!({"consultationType": "video"}))
        .await
        .unwrap();
}
