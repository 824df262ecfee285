//! The concurrency suite: many clients at once on one slot, one patient, one key. Each scenario runs
//! twice (`both_ways!`): against the faithful emulator, and against one that injects the failures AWS
//! produces (conflicting transactions, throttling, unprocessed keys). The invariants hold both ways:
//! seats taken == appointments <= capacity, no patient overlap, nothing lost; the only 5xx allowed is a
//! 503 `contended` with `Retry-After`.

use std::sync::Arc;

use clinic_tests::{
    book_at_once, both_ways, join_all, refused, settled, Aws, Booking, Done, NewSlot, TestApp,
};
use shared::domain::{AppointmentStatus, Clock};

const EARLY: &str = "2027-06-01T07:00:00Z";

both_ways!(
    fifty_patients_race_for_three_seats_and_exactly_three_get_one,
    one_patient_racing_for_ten_overlapping_slots_gets_exactly_one,
    the_same_idempotency_key_five_times_at_once_books_once,
    two_overlapping_slots_created_at_once_yield_exactly_one,
    a_reschedule_and_a_booking_race_for_the_last_seat,
    a_cancel_and_a_check_in_at_once_end_in_one_consistent_state,
);

async fn fifty_patients_race_for_three_seats_and_exactly_three_get_one(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let slot = app.slot(&provider, 48, 3).await;
    let patients = app.patients(50).await;
    let replies = book_at_once(&app, &patients, &slot).await;
    let mut gave_up = 0;
    for r in &replies {
        gave_up += usize::from(settled(r, &[(201, ""), (409, "slot_full")], aws));
    }
    let booked = replies.iter().filter(|r| r.is_ok()).count();
    assert!(booked <= 3, "{booked} bookings of 3 seats");
    assert!(
        booked + gave_up >= 3,
        "a seat was left although nobody gave up"
    );
    if aws == Aws::Faithful {
        assert_eq!(booked, 3);
    }
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings as usize,
        booked
    );
    assert_eq!(app.appointments_of_slot(&slot).await, booked);
}

async fn one_patient_racing_for_ten_overlapping_slots_gets_exactly_one(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let patient = app.patient().await;
    let mut slots = vec![];
    for i in 0..10 {
        // Ten providers, each with a slot that overlaps the others by at least 20 minutes.
        let provider = app.provider().await;
        let start = clinic_tests::whole_minutes_from_now(72 * 60).to_string();
        let slot = NewSlot::at(&start).minutes(30 + i);
        slots.push(app.slot_at(&provider, slot).await);
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
    let mut gave_up = 0;
    for r in &replies {
        gave_up += usize::from(settled(r, &[(201, ""), (409, "patient_conflict")], aws));
    }
    let booked = replies.iter().filter(|r| r.is_ok()).count();
    assert!(
        booked == 1 || (booked == 0 && gave_up > 0),
        "{booked} overlapping bookings"
    );
    let mut held = 0;
    for s in &slots {
        held += app.stored_slot(s).await.current_bookings as usize;
    }
    assert_eq!(held, booked, "only the winning slot lost a seat");
}

async fn the_same_idempotency_key_five_times_at_once_books_once(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 50, 5).await;
    let replies = join_all(
        (0..5)
            .map(|_| {
                let (app, p, s) = (app.clone(), patient.clone(), slot.clone());
                async move { app.book(&p, keyed(&s, "visit-2027-01-05")).await }
            })
            .collect(),
    )
    .await;
    for r in &replies {
        settled(r, &[(201, "")], aws);
    }
    let ids: Vec<String> = replies
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|a| a.id.to_string())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "every reply names the one appointment: {ids:?}"
    );
    // A retry after the race answers with the one appointment, whoever won.
    let again = app
        .book(&patient, keyed(&slot, "visit-2027-01-05"))
        .await
        .unwrap()
        .id
        .to_string();
    assert!(ids.iter().all(|id| *id == again));
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
    assert_eq!(app.appointments_of_slot(&slot).await, 1);

    // The same key for another slot is refused and takes nothing.
    let other = app.slot(&provider, 60, 1).await;
    let reused = app.book(&patient, keyed(&other, "visit-2027-01-05")).await;
    refused(&reused, 422, "idempotency_key_reused");
    assert_eq!(app.stored_slot(&other).await.current_bookings, 0);
}

async fn two_overlapping_slots_created_at_once_yield_exactly_one(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    for round in 0..5 {
        let start = clinic_tests::whole_minutes_from_now((24 + round * 2) * 60).to_string();
        let (a, b) = tokio::join!(
            app.create_slot(&provider, NewSlot::at(&start).minutes(30)),
            app.create_slot(&provider, NewSlot::at(&start).minutes(45))
        );
        let allowed = [(201, ""), (409, "slot_overlap")];
        let gave_up =
            usize::from(settled(&a, &allowed, aws)) + usize::from(settled(&b, &allowed, aws));
        let created = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert!(
            created == 1 || (created == 0 && gave_up > 0),
            "round {round}: {a:?} / {b:?}"
        );
    }
    // Back to back is not an overlap; another provider's calendar is separate.
    let start = clinic_tests::whole_minutes_from_now(100 * 60);
    let at = |from: i64| {
        start
            .plus(jiff::SignedDuration::from_mins(from))
            .to_string()
    };
    let (on_the_hour, half_past, quarter_past) = (at(0), at(30), at(15));
    app.slot_at(&provider, NewSlot::at(&on_the_hour)).await;
    app.slot_at(&provider, NewSlot::at(&half_past)).await;
    refused(
        &app.create_slot(&provider, NewSlot::at(&quarter_past)).await,
        409,
        "slot_overlap",
    );
    let other = app.provider().await;
    app.slot_at(&other, NewSlot::at(&quarter_past)).await;
}

async fn booked_at(
    app: &TestApp,
    provider: &clinic_tests::Actor,
    patient: &clinic_tests::Actor,
    start: &str,
) -> (String, String) {
    let slot = app.slot_at(provider, NewSlot::at(start)).await;
    let r = app.book(patient, &slot).await.done();
    (r.id.to_string(), slot)
}

async fn a_reschedule_and_a_booking_race_for_the_last_seat(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::manual(EARLY.parse().unwrap())).await);
    let provider = app.provider().await;
    for round in 0..6 {
        let (mover, booker) = (app.patient().await, app.patient().await);
        let (old, old_slot) = booked_at(
            &app,
            &provider,
            &mover,
            &format!("2027-06-0{}T09:00:00Z", round + 2),
        )
        .await;
        let last = app
            .slot_at(
                &app.provider().await,
                NewSlot::at(&format!("2027-06-0{}T15:00:00Z", round + 2)),
            )
            .await;
        let (a, b) = (app.clone(), app.clone());
        let (mv, bk) = (mover.clone(), booker.clone());
        let (o, l1, l2) = (old.clone(), last.clone(), last.clone());
        let (moved, booked) = tokio::join!(
            tokio::spawn(async move { a.reschedule(&mv, &o, &l1, None).await }),
            tokio::spawn(async move { b.book(&bk, &l2).await })
        );
        let (moved, booked) = (moved.unwrap(), booked.unwrap());
        let gave_up = usize::from(settled(&moved, &[(201, ""), (409, "slot_full")], aws))
            + usize::from(settled(&booked, &[(201, ""), (409, "slot_full")], aws));
        let winners = [moved.is_ok(), booked.is_ok()]
            .iter()
            .filter(|w| **w)
            .count();
        assert!(
            winners == 1 || (winners == 0 && gave_up > 0),
            "round {round}: {moved:?} / {booked:?}"
        );
        assert_eq!(
            app.stored_slot(&last).await.current_bookings as usize,
            winners
        );
        assert_eq!(
            app.stored_slot(&old_slot).await.current_bookings,
            if moved.is_ok() { 0 } else { 1 }
        );
        assert_eq!(app.appointments_of_slot(&last).await, winners);
    }
}

async fn a_cancel_and_a_check_in_at_once_end_in_one_consistent_state(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::manual(EARLY.parse().unwrap())).await);
    let provider = app.provider().await;
    for round in 0..6 {
        let patient = app.patient().await;
        app.travel_to(EARLY);
        let start = format!("2027-06-0{}T09:00:00Z", round + 2);
        let (id, slot) = booked_at(&app, &provider, &patient, &start).await;
        app.travel_to(&format!("2027-06-0{}T08:50:00Z", round + 2));
        let (a, b, p1, p2, i1, i2) = (
            app.clone(),
            app.clone(),
            patient.clone(),
            patient.clone(),
            id.clone(),
            id.clone(),
        );
        let (cancel, check_in) = tokio::join!(
            tokio::spawn(async move { a.cancel(&p1, &i1, "changed my mind").await }),
            tokio::spawn(async move { b.check_in(&p2, &i2).await })
        );
        let (cancel, check_in) = (cancel.unwrap(), check_in.unwrap());
        // Cancel wins in the end (from scheduled, or from confirmed after the check-in), unless it
        // gave up under injected faults.
        let cancel_gave_up = settled(&cancel, &[(200, "")], aws);
        settled(&check_in, &[(200, ""), (409, "invalid_transition")], aws);
        let stored = app.appointment(&patient, &id).await.unwrap();
        let seats = app.stored_slot(&slot).await.current_bookings;
        if cancel_gave_up {
            assert_eq!(
                seats,
                u32::from(stored.status != AppointmentStatus::Cancelled)
            );
            continue;
        }
        assert_eq!(stored.status, AppointmentStatus::Cancelled);
        assert_eq!(
            stored.check_in_time.is_some(),
            check_in.is_ok(),
            "check-in time only if it happened"
        );
        assert_eq!(seats, 0);
        // The patient's time is free again.
        app.travel_to(EARLY);
        let again = app
            .slot_at(&app.provider().await, NewSlot::at(&start))
            .await;
        app.book(&patient, &again).await.done();
    }
}

/// A booking of `slot` with an `Idempotency-Key`.
fn keyed<'a>(slot: &'a str, key: &'a str) -> Booking<'a> {
    Booking {
        slot,
        key: Some(key),
        ..Default::default()
    }
}
