//! Booking and cancelling over HTTP against the local stack: the request budget, cancellation rules,
//! and what the table looks like afterwards. The races are in races.rs.

use clinic_tests::{refused, Booking, Done, NewSlot, TestApp};
use shared::domain::AppointmentStatus;

#[tokio::test]
async fn a_cancelled_seat_goes_to_the_next_patient() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let (first, second) = (app.patient().await, app.patient().await);
    let slot = app.slot(&provider, 30, 1).await;

    let booked = app.book(&first, &slot).await.done();
    refused(&app.book(&second, &slot).await, 409, "slot_full");

    let cancelled = app
        .cancel(&first, &booked.id.to_string(), "feeling better")
        .await
        .done();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 0);

    app.book(&second, &slot).await.done();
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
    // The first patient's time was freed too: they can book the same time elsewhere.
    let other = app.slot(&app.provider().await, 30, 1).await;
    app.book(&first, &other).await.done();
}

#[tokio::test]
async fn booking_costs_three_requests_cancel_two_and_get_one() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 2).await;

    app.counter.take();
    let booked = app.book(&patient, &slot).await.done().id.to_string();
    let counts = app.counter.take();
    assert_eq!(counts.values().sum::<u32>(), 3, "{counts:?}");
    // The batch read, the provider's settings (the slot names the provider), the transaction.
    assert_eq!(
        (
            counts["BatchGetItem"],
            counts["GetItem"],
            counts["TransactWriteItems"]
        ),
        (1, 1, 1)
    );

    let keyed = app
        .book(
            &app.patient().await,
            Booking {
                slot: &slot,
                key: Some("k-1"),
                ..Default::default()
            },
        )
        .await;
    assert!(keyed.is_ok(), "{keyed:?}");
    assert_eq!(
        app.counter.take().values().sum::<u32>(),
        3,
        "an Idempotency-Key costs no extra request"
    );

    let got = app.appointment(&patient, &booked).await;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(app.counter.take(), [("GetItem".to_owned(), 1)].into());

    let cancelled = app.cancel(&patient, &booked, "conflict at work").await;
    assert!(cancelled.is_ok(), "{cancelled:?}");
    let counts = app.counter.take();
    assert_eq!(
        counts,
        [
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ]
        .into()
    );
}

#[tokio::test]
async fn cancelling_twice_or_after_completion_is_an_invalid_transition() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    app.cancel(&patient, &id, "moving away").await.done();
    let again = app.cancel(&patient, &id, "moving away").await;
    refused(&again, 409, "invalid_transition");
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings,
        0,
        "the seat is freed once"
    );

    // A completed appointment (written as the lifecycle endpoints will) cannot be cancelled either.
    let other = app.slot(&provider, 40, 1).await;
    let done = app.book(&patient, &other).await.done().id.to_string();
    app.set_appointment_field(&done, "status", "completed")
        .await;
    refused(
        &app.cancel(&patient, &done, "too late").await,
        409,
        "invalid_transition",
    );
}

#[tokio::test]
async fn cancelling_within_a_day_of_the_start_is_late() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let soon = app.slot(&provider, 3, 1).await;
    let later = app.slot(&provider, 80, 1).await;
    let a = app.book(&patient, &soon).await.done().id.to_string();
    let b = app.book(&patient, &later).await.done().id.to_string();
    let late = app.cancel(&patient, &a, "sick").await.done();
    assert_eq!(late.late_cancellation, Some(true));
    let early = app.cancel(&patient, &b, "sick").await.done();
    assert_eq!(early.late_cancellation, Some(false));
    assert_eq!(early.cancelled_by, Some(patient.id));
}

#[tokio::test]
async fn a_slot_that_has_started_cannot_be_booked() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    // Written through the store, since the API refuses to create a slot in the past.
    let slot = shared::domain::SlotId::new().to_string();
    app.put_slot(
        &slot,
        provider.id,
        clinic_tests::whole_minutes_from_now(-30),
        60,
        2,
    )
    .await;
    refused(&app.book(&patient, &slot).await, 409, "slot_unavailable");
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 0);
}

#[tokio::test]
async fn a_patient_holds_at_most_the_configured_number_of_active_appointments() {
    let app = TestApp::spawn_configured(
        clinic_tests::Aws::Faithful,
        shared::domain::Clock::manual("2030-05-06T08:00:00Z".parse().unwrap()),
        &[("MaxActiveAppointmentsPerPatient", "2")],
    )
    .await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slots = [
        app.slot_at(&provider, NewSlot::at("2030-05-06T09:00:00Z"))
            .await,
        app.slot_at(&provider, NewSlot::at("2030-05-06T10:00:00Z"))
            .await,
        app.slot_at(&provider, NewSlot::at("2030-05-06T11:00:00Z"))
            .await,
    ];
    app.book(&patient, &slots[0]).await.done();
    app.book(&patient, &slots[1]).await.done();

    let before = app.items().await.len();
    let too_many = app.book(&patient, &slots[2]).await;
    refused(&too_many, 409, "too_many_appointments");
    assert!(
        too_many.as_ref().unwrap_err().detail.contains('2'),
        "{too_many:?}"
    );
    assert_eq!(
        app.items().await.len(),
        before,
        "a refused booking changes nothing"
    );
    assert_eq!(app.stored_slot(&slots[2]).await.current_bookings, 0);

    // Once the first has ended, it no longer counts.
    app.travel_to("2030-05-06T09:31:00Z");
    app.book(&patient, &slots[2]).await.done();
}

#[tokio::test]
async fn the_same_idempotency_key_with_a_different_request_is_refused() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 2).await;
    let visit = |consultation| Booking {
        slot: &slot,
        consultation: Some(consultation),
        key: Some("visit-42"),
        ..Default::default()
    };
    let first = app.book(&patient, visit("video")).await.done();
    let replayed = app.book(&patient, visit("video")).await.done();
    assert_eq!(replayed.id, first.id);

    let before = app.items().await;
    let changed = app.book(&patient, visit("phone")).await;
    refused(&changed, 422, "idempotency_key_reused");
    assert_eq!(app.items().await, before, "nothing booked");
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
}
