//! Booking and cancelling over HTTP against the local stack: the races, idempotency, the request
//! budget, and what the table looks like afterwards.

use clinic_tests::TestApp;
use futures_free::join_all;
use serde_json::json;

mod futures_free {
    /// Runs all futures concurrently on the current runtime and returns their outputs in order.
    pub async fn join_all<F: std::future::Future + Send + 'static>(
        futures: Vec<F>,
    ) -> Vec<F::Output>
    where
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.expect("task completes"));
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_patients_race_for_three_seats_and_exactly_three_get_one() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let provider = app.provider().await;
    let slot = app.slot(&provider, 48, 3).await;
    let mut patients = vec![];
    for _ in 0..50 {
        patients.push(app.patient().await);
    }
    let replies = join_all(
        patients
            .into_iter()
            .map(|p| {
                let (app, slot) = (app.clone(), slot.clone());
                async move { app.book(&p, &slot).await }
            })
            .collect(),
    )
    .await;
    let booked = replies.iter().filter(|r| r.status == 201).count();
    let full = replies
        .iter()
        .filter(|r| r.status == 409 && r.code() == "slot_full")
        .count();
    let others: Vec<_> = replies
        .iter()
        .filter(|r| r.status != 201 && !(r.status == 409 && r.code() == "slot_full"))
        .map(|r| (r.status, r.body.clone()))
        .collect();
    assert_eq!((booked, full), (3, 47), "unexpected replies: {others:?}");
    assert!(replies.iter().all(|r| r.status < 500));
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 3);
    assert_eq!(app.appointments_of_slot(&slot).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_patient_racing_for_ten_overlapping_slots_gets_exactly_one() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let patient = app.patient().await;
    let mut slots = vec![];
    for i in 0..10 {
        // Ten providers, each with a slot that overlaps the others by at least 20 minutes.
        let provider = app.provider().await;
        let r = app.create_slot(&provider, 72, 30 + i, 1).await;
        assert_eq!(r.status, 201, "{}", r.body);
        slots.push(r.id());
    }
    let replies = join_all(
        slots
            .iter()
            .map(|s| {
                let (app, p, s) = (app.clone(), patient.clone(), s.clone());
                async move { app.book(&p, &s).await }
            })
            .collect(),
    )
    .await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.status == 409 && r.code() == "patient_conflict")
            .count(),
        9,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let mut held = 0;
    for s in &slots {
        held += app.stored_slot(s).await.current_bookings;
    }
    assert_eq!(held, 1, "only the winning slot lost a seat");
}

#[tokio::test]
async fn a_cancelled_seat_goes_to_the_next_patient() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let (first, second) = (app.patient().await, app.patient().await);
    let slot = app.slot(&provider, 30, 1).await;

    let booked = app.book(&first, &slot).await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let refused = app.book(&second, &slot).await;
    assert_eq!((refused.status, refused.code()), (409, "slot_full"));
    assert!(refused.is_problem());

    let cancelled = app.cancel(&first, &booked.id(), "feeling better").await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 0);

    let rebooked = app.book(&second, &slot).await;
    assert_eq!(rebooked.status, 201, "{}", rebooked.body);
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
    // The first patient's time was freed too: they can book the same time elsewhere.
    let other = app.slot(&app.provider().await, 30, 1).await;
    assert_eq!(app.book(&first, &other).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_idempotency_key_five_times_at_once_books_once() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 50, 5).await;
    let replies = join_all(
        (0..5)
            .map(|_| {
                let (app, p, s) = (app.clone(), patient.clone(), slot.clone());
                async move { app.book_with_key(&p, &s, "visit-2027-01-05").await }
            })
            .collect(),
    )
    .await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let first = replies[0].id();
    assert!(
        replies.iter().all(|r| r.id() == first),
        "every reply names the one appointment"
    );
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.headers.contains_key("idempotent-replayed"))
            .count(),
        4
    );
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
    assert_eq!(app.appointments_of_slot(&slot).await, 1);

    // A later retry still answers with the first booking; the same key for another slot is refused.
    assert_eq!(
        app.book_with_key(&patient, &slot, "visit-2027-01-05")
            .await
            .id(),
        first
    );
    let other = app.slot(&provider, 60, 1).await;
    let reused = app
        .book_with_key(&patient, &other, "visit-2027-01-05")
        .await;
    assert_eq!(
        (reused.status, reused.code()),
        (422, "idempotency_key_reused")
    );
    assert_eq!(app.stored_slot(&other).await.current_bookings, 0);
}

#[tokio::test]
async fn booking_costs_two_requests_cancel_two_and_get_one() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 2).await;

    app.counter.take();
    let booked = app.book(&patient, &slot).await;
    assert_eq!(booked.status, 201);
    let counts = app.counter.take();
    assert_eq!(counts.values().sum::<u32>(), 2, "{counts:?}");
    assert_eq!(
        (counts["BatchGetItem"], counts["TransactWriteItems"]),
        (1, 1)
    );

    let keyed = app.book_with_key(&app.patient().await, &slot, "k-1").await;
    assert_eq!(keyed.status, 201);
    assert_eq!(
        app.counter.take().values().sum::<u32>(),
        2,
        "an Idempotency-Key costs no extra request"
    );

    let got = app.get_appointment(&patient, &booked.id()).await;
    assert_eq!(got.status, 200);
    assert_eq!(app.counter.take(), [("GetItem".to_owned(), 1)].into());

    let cancelled = app.cancel(&patient, &booked.id(), "conflict at work").await;
    assert_eq!(cancelled.status, 200);
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
    let id = app.book(&patient, &slot).await.id();
    assert_eq!(app.cancel(&patient, &id, "moving away").await.status, 200);
    let again = app.cancel(&patient, &id, "moving away").await;
    assert_eq!((again.status, again.code()), (409, "invalid_transition"));
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings,
        0,
        "the seat is freed once"
    );

    // A completed appointment (written as the lifecycle endpoints will) cannot be cancelled either.
    let other = app.slot(&provider, 40, 1).await;
    let done = app.book(&patient, &other).await.id();
    app.set_appointment_field(&done, "status", "completed")
        .await;
    let refused = app.cancel(&patient, &done, "too late").await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "invalid_transition")
    );
}

#[tokio::test]
async fn cancelling_within_a_day_of_the_start_is_late() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let soon = app.slot(&provider, 3, 1).await;
    let later = app.slot(&provider, 80, 1).await;
    let a = app.book(&patient, &soon).await.id();
    let b = app.book(&patient, &later).await.id();
    let late = app.cancel(&patient, &a, "sick").await;
    assert_eq!(late.body["lateCancellation"], true);
    let early = app.cancel(&patient, &b, "sick").await;
    assert_eq!(early.body["lateCancellation"], false);
    assert_eq!(early.body["cancelledBy"], json!(patient.id));
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
    let r = app.book(&patient, &slot).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "slot_unavailable"),
        "{}",
        r.body
    );
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 0);
}
