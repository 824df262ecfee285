//! The waitlist, end to end over HTTP: joining and its refusals, who sees what, a freed seat offered and
//! held against rivals and accepted, an ignored offer moving on, and the races (accept against expiry,
//! two seats for one entry, a job delivered again, a rival against the offer). The stories about seats
//! run twice (`both_ways!`), the second time with the emulator's faults on.

use std::sync::Arc;

use clinic_tests::{
    book_at_once, both_ways, bulk_body, every_day, join_all, refused, settled, Actor, Aws, Booking,
    Done, NewSlot, TestApp,
};
use serde_json::json;
use shared::domain::waitlist::EntryStatus;
use shared::domain::Clock;

both_ways!(
    joining_refuses_bad_input_and_changes_nothing_and_one_entry_per_date_is_active,
    each_sees_only_the_entries_that_are_theirs,
    a_freed_seat_is_offered_held_against_rivals_and_accepted,
    an_ignored_offer_lapses_and_the_seat_moves_to_the_next_entry,
    an_accept_and_the_offer_s_expiry_at_once_end_with_exactly_one,
    two_seats_freed_at_once_for_one_entry_make_one_offer,
    the_same_seat_freed_job_delivered_four_times_at_once_makes_one_offer,
    a_rival_booking_and_the_offer_race_for_a_freed_seat_and_exactly_one_gets_it,
    every_way_a_seat_opens_reaches_the_waiting_patient_it_suits,
    after_max_offers_an_entry_expires_and_its_patient_may_join_again,
    an_offer_expiry_that_comes_early_is_sent_again_and_lapses_the_offer_on_time,
    twenty_accepts_of_one_offer_at_once_book_once_and_all_answer_that_appointment,
    an_offer_whose_expiry_is_lost_is_lapsed_by_the_sweeper_which_otherwise_finds_nothing,
    a_follow_up_with_a_date_is_first_in_line_for_a_seat_that_frees_that_day,
);

/// A date `days` from now (UTC), with no slot on it.
fn days_ahead(days: i64) -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

/// What an accept costs: the entry, the slot with the patient's guard, the transaction.
const ACCEPT: &[(&str, u32)] = &[
    ("GetItem", 1),
    ("BatchGetItem", 1),
    ("TransactWriteItems", 1),
];

/// A patient booked into a new one-seat slot `hours` ahead: (patient, slot, appointment).
async fn booked(app: &TestApp, provider: &Actor, hours: i64) -> (Actor, String, String) {
    let slot = app.slot(provider, hours, 1).await;
    booked_in(app, slot).await
}

/// A one-seat slot of `provider` starting at `start` (RFC 3339), booked by a new patient.
async fn booked_at(app: &TestApp, provider: &Actor, start: &str) -> (Actor, String, String) {
    let slot = app.slot_at(provider, NewSlot::at(start)).await;
    booked_in(app, slot).await
}

async fn booked_in(app: &TestApp, slot: String) -> (Actor, String, String) {
    let patient = app.patient().await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    (patient, slot, id)
}

async fn joining_refuses_bad_input_and_changes_nothing_and_one_entry_per_date_is_active(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let staff = app.staff().await;
    app.slot(&provider, 30, 1).await; // the provider is known by their slots
    let date = days_ahead(10);
    let p = provider.id;
    let bad = [
        (
            json!({"providerId": p, "preferredDate": "2020-01-01"}),
            400,
            "validation_failed",
            Some("preferredDate"),
        ),
        (
            json!({"providerId": p, "preferredDate": date, "preferredTimeSlots": [{"start": "10:00", "end": "09:00"}]}),
            400,
            "validation_failed",
            Some("preferredTimeSlots"),
        ),
        (
            json!({"providerId": p, "preferredDate": date, "preferredTimeSlots": [{"start": "9:00", "end": "10:00"}]}),
            400,
            "validation_failed",
            None,
        ),
        (
            json!({"providerId": p, "preferredDate": date, "preferredTimeSlots": [{"start": "25:00", "end": "26:00"}]}),
            400,
            "validation_failed",
            None,
        ),
        (
            json!({"providerId": p, "preferredDate": "2031-02-30"}),
            400,
            "validation_failed",
            None,
        ),
        (
            json!({"providerId": p, "preferredDate": date, "colour": "blue"}),
            400,
            "validation_failed",
            None,
        ),
        (
            json!({"providerId": p, "preferredDate": date, "notes": "x".repeat(1001)}),
            400,
            "validation_failed",
            Some("notes"),
        ),
        (
            json!({"providerId": p, "preferredDate": date, "priority": 5}),
            403,
            "forbidden",
            None,
        ),
        (
            json!({"providerId": p, "preferredDate": date, "patientId": app.patient().await.id}),
            403,
            "forbidden",
            None,
        ),
        (
            json!({"providerId": uuid::Uuid::new_v4(), "preferredDate": date}),
            404,
            "not_found",
            None,
        ),
        (
            json!({"providerId": p, "preferredDate": date, "appointmentTypeId": uuid::Uuid::new_v4()}),
            404,
            "not_found",
            None,
        ),
    ];
    for (body, status, code, field) in bad {
        let answer = app.join_waitlist(&patient, body.clone()).await;
        refused(&answer, status, code);
        if let (Some(f), Err(problem)) = (field, &answer) {
            assert!(problem.fields.iter().any(|x| x == f), "{body}: {problem:?}");
        }
    }
    refused(
        &app.join_waitlist(&staff, json!({"providerId": p, "patientId": patient.id, "preferredDate": date, "priority": 11})).await,
        400,
        "validation_failed",
    );
    refused(
        &app.join_waitlist(&staff, json!({"providerId": p, "preferredDate": date}))
            .await,
        400,
        "validation_failed",
    );
    assert_eq!(
        app.stored_entries().await,
        0,
        "no refused request wrote anything"
    );

    let first = app.wait_for_seat(&patient, &provider, &date).await;
    assert_eq!(
        (first.status, first.priority, first.offer_count),
        (EntryStatus::Waiting, 0, 0)
    );
    refused(
        &app.join_waitlist(&patient, json!({"providerId": p, "preferredDate": date, "preferredTimeSlots": [{"start": "08:00", "end": "09:00"}]})).await,
        409,
        "already_waiting",
    );
    let other_day = app
        .wait_for_seat(&patient, &provider, &days_ahead(11))
        .await;
    assert_ne!(other_day.id, first.id);
    // Nothing to answer yet.
    refused(
        &app.accept_offer(&patient, &first.id.to_string()).await,
        409,
        "no_offer",
    );
    refused(
        &app.decline_offer(&patient, &first.id.to_string()).await,
        409,
        "no_offer",
    );
    // Leaving frees the date for a new entry; leaving again answers the same.
    let left = app
        .leave_waitlist(&patient, &first.id.to_string())
        .await
        .unwrap();
    assert_eq!(left.status, EntryStatus::Cancelled);
    assert_eq!(
        app.leave_waitlist(&patient, &first.id.to_string())
            .await
            .unwrap(),
        left
    );
    refused(
        &app.accept_offer(&patient, &first.id.to_string()).await,
        409,
        "waitlist_entry_closed",
    );
    let again = app.wait_for_seat(&patient, &provider, &date).await;
    assert_ne!(again.id, first.id);
    // Staff add a patient with a priority.
    let urgent = app
        .join_waitlist(&staff, json!({"providerId": p, "patientId": app.patient().await.id, "preferredDate": date, "priority": 9}))
        .await
        .unwrap();
    assert_eq!(urgent.priority, 9);
    assert_eq!(app.stored_entries().await, 4);
    app.wait_for_kinds_of(
        "entryId",
        &first.id.to_string(),
        &["waitlist.joined", "waitlist.cancelled"],
    )
    .await;
}

async fn each_sees_only_the_entries_that_are_theirs(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let (doctor, other_doctor) = (app.provider().await, app.provider().await);
    let (patient, other_patient) = (app.patient().await, app.patient().await);
    let staff = app.staff().await;
    app.slot(&doctor, 30, 1).await;
    app.slot(&other_doctor, 30, 1).await;
    let date = days_ahead(12);
    let mine = app
        .join_waitlist(
            &patient,
            json!({"providerId": doctor.id, "preferredDate": date, "notes": "mornings"}),
        )
        .await
        .unwrap();
    let theirs = app
        .wait_for_seat(&other_patient, &other_doctor, &date)
        .await;
    let id = mine.id.to_string();

    let own = app.waitlist(&patient, "").await.unwrap();
    assert_eq!(own.data.iter().map(|e| e.id).collect::<Vec<_>>(), [mine.id]);
    refused(
        &app.waitlist(&patient, &format!("patientId={}", other_patient.id))
            .await,
        403,
        "forbidden",
    );
    refused(
        &app.waitlist_entry(&other_patient, &id).await,
        404,
        "not_found",
    );
    refused(
        &app.leave_waitlist(&other_patient, &id).await,
        404,
        "not_found",
    );
    refused(
        &app.accept_offer(&other_patient, &id).await,
        404,
        "not_found",
    );

    let queue = app
        .waitlist(&doctor, &format!("date={date}"))
        .await
        .unwrap();
    assert_eq!(
        queue.data.iter().map(|e| e.id).collect::<Vec<_>>(),
        [mine.id]
    );
    assert_eq!(
        app.waitlist_entry(&doctor, &id)
            .await
            .unwrap()
            .notes
            .as_deref(),
        Some("mornings")
    );
    refused(
        &app.waitlist_entry(&other_doctor, &id).await,
        404,
        "not_found",
    );
    refused(&app.accept_offer(&doctor, &id).await, 403, "forbidden");
    refused(
        &app.waitlist(&doctor, &format!("providerId={}", other_doctor.id))
            .await,
        403,
        "forbidden",
    );

    refused(&app.waitlist(&staff, "").await, 400, "validation_failed");
    let by_provider = app
        .waitlist(&staff, &format!("providerId={}", other_doctor.id))
        .await
        .unwrap();
    assert_eq!(
        by_provider.data.iter().map(|e| e.id).collect::<Vec<_>>(),
        [theirs.id]
    );
    let waiting = app
        .waitlist(
            &staff,
            &format!("patientId={}&status=waiting,offered", patient.id),
        )
        .await
        .unwrap();
    assert_eq!(waiting.data.len(), 1);
    let none = app
        .waitlist(&staff, &format!("patientId={}&status=accepted", patient.id))
        .await
        .unwrap();
    assert!(none.data.is_empty());
    refused(
        &app.waitlist(&staff, "patientId=x").await,
        400,
        "validation_failed",
    );
    refused(
        &app.waitlist(&staff, &format!("providerId={}&status=asleep", doctor.id))
            .await,
        400,
        "validation_failed",
    );
    refused(
        &app.waitlist(&patient, &format!("date={date}")).await,
        400,
        "validation_failed",
    );

    let events = app
        .wait_for_kinds_of("entryId", &id, &["waitlist.joined"])
        .await;
    assert!(
        !serde_json::to_string(&events).unwrap().contains("mornings"),
        "notes stay out of events"
    );
}

async fn a_freed_seat_is_offered_held_against_rivals_and_accepted(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let (first, slot, appointment) = booked(&app, &provider, 30).await;
    let date = app.slot_date(&slot).await;
    let waiting = app.patient().await;
    let entry = app.wait_for_seat(&waiting, &provider, &date).await;
    let id = entry.id.to_string();
    app.cancel(&first, &appointment, "moved away").await.done();

    let offered = app
        .entry_when(&id, |e| e.status == EntryStatus::Offered)
        .await;
    assert_eq!(
        offered.offered_slot_id.map(|s| s.to_string()),
        Some(slot.clone())
    );
    assert_eq!(offered.offer_count, 1);
    let until = offered.offer_expires_at.unwrap().timestamp();
    let ttl = until.as_second() - offered.updated_at.timestamp().as_second();
    assert_eq!(ttl, 1800, "the offer holds the seat for OfferTtlSeconds");
    let held = app.stored_slot(&slot).await;
    assert_eq!(held.current_bookings, 1, "the held seat is taken");
    let open = app
        .available(
            &waiting,
            &format!("providerId={}&startDate={date}&endDate={date}", provider.id),
        )
        .await
        .unwrap();
    assert!(
        open.data.iter().all(|s| s.id.to_string() != slot),
        "a held seat is not on offer to others"
    );

    // Rivals, all at once: none gets the held seat.
    let rivals = app.patients(5).await;
    let replies = book_at_once(&app, &rivals, &slot).await;
    for r in &replies {
        settled(r, &[(409, "slot_full")], aws);
    }

    app.counter.take();
    let accepted = app.accept_offer(&waiting, &id).await.unwrap();
    if aws == Aws::Faithful {
        clinic_tests::counted(&app.counter, ACCEPT, "an accept is three requests");
    }
    assert_eq!(accepted.slot_id.to_string(), slot);
    assert_eq!(accepted.patient_id.uuid(), waiting.id);
    let again = app.accept_offer(&waiting, &id).await.unwrap();
    assert_eq!(
        again.id, accepted.id,
        "a repeated accept answers the same appointment"
    );
    let entry = app.waitlist_entry(&waiting, &id).await.unwrap();
    assert_eq!(
        (entry.status, entry.accepted_appointment_id),
        (EntryStatus::Accepted, Some(accepted.id))
    );
    let slot_now = app.stored_slot(&slot).await;
    assert_eq!(
        slot_now.current_bookings, 1,
        "the held seat became the appointment's"
    );
    assert_eq!(
        app.appointments_of_slot(&slot).await,
        2,
        "the cancelled one and the accepted one"
    );
    refused(
        &app.decline_offer(&waiting, &id).await,
        409,
        "waitlist_entry_closed",
    );

    app.wait_for_kinds_of(
        "entryId",
        &id,
        &["waitlist.joined", "waitlist.offered", "waitlist.accepted"],
    )
    .await;
    // The accepted event names the appointment too.
    app.wait_for_kinds(
        &accepted.id.to_string(),
        &["appointment.created", "waitlist.accepted"],
    )
    .await;
}

async fn an_ignored_offer_lapses_and_the_seat_moves_to_the_next_entry(aws: Aws) {
    let app = TestApp::spawn_configured(aws, Clock::System, &[("OfferTtlSeconds", "6")]).await;
    let provider = app.provider().await;
    let staff = app.staff().await;
    let (first, slot, appointment) = booked(&app, &provider, 30).await;
    let date = app.slot_date(&slot).await;
    let (late, early) = (app.patient().await, app.patient().await);
    let by_age = app.wait_for_seat(&early, &provider, &date).await;
    // Joined later, but staff gave it a priority: it is offered first.
    let by_priority = app
        .join_waitlist(&staff, json!({"providerId": provider.id, "patientId": late.id, "preferredDate": date, "priority": 4}))
        .await
        .unwrap();
    let (urgent, next) = (by_priority.id.to_string(), by_age.id.to_string());
    app.cancel(&first, &appointment, "moved away").await.done();

    app.entry_when(&urgent, |e| e.status == EntryStatus::Offered)
        .await;
    // Nobody answers: six seconds later the offer lapses, the entry waits again (one offer of three
    // used), and the seat goes to the next entry.
    let lapsed = app
        .entry_when(&urgent, |e| {
            e.status == EntryStatus::Waiting && e.offer_count == 1
        })
        .await;
    assert_eq!(lapsed.offered_slot_id, None);
    let moved = app
        .entry_when(&next, |e| e.status == EntryStatus::Offered)
        .await;
    assert_eq!(
        moved.offered_slot_id.map(|s| s.to_string()),
        Some(slot.clone())
    );
    refused(
        &app.accept_offer(&late, &urgent).await,
        409,
        "offer_expired",
    );

    // The next one declines: the seat is free again, and not offered twice to the one whose offer lapsed.
    let declined = app.decline_offer(&early, &next).await.unwrap();
    assert_eq!(declined.status, EntryStatus::Declined);
    app.wait_for_kinds_of(
        "entryId",
        &next,
        &["waitlist.joined", "waitlist.offered", "waitlist.declined"],
    )
    .await;
    app.wait_for_kinds_of(
        "entryId",
        &urgent,
        &[
            "waitlist.joined",
            "waitlist.offered",
            "waitlist.offer_expired",
        ],
    )
    .await;
    let free = app.stored_slot(&slot).await;
    assert_eq!(free.current_bookings, 0, "the seat is free");
    let still = app.waitlist_entry(&late, &urgent).await.unwrap();
    assert_eq!((still.status, still.offer_count), (EntryStatus::Waiting, 1));
    // The seat is bookable by anyone again.
    app.book(&app.patient().await, &slot).await.done();
}

async fn an_accept_and_the_offer_s_expiry_at_once_end_with_exactly_one(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let mut offers = vec![];
    for day in 0..4 {
        let (first, slot, appointment) = booked(&app, &provider, 30 + 24 * day).await;
        let patient = app.patient().await;
        let entry = app
            .wait_for_seat(&patient, &provider, &app.slot_date(&slot).await)
            .await;
        app.cancel(&first, &appointment, "moved away").await.done();
        let id = entry.id.to_string();
        app.entry_when(&id, |e| e.status == EntryStatus::Offered)
            .await;
        offers.push((patient, id, slot));
    }
    // For each offer, the patient's accept and the worker's lapse of it (as if its schedule fired just
    // then: its clock is past the offer's end) at the same moment.
    let outcomes = join_all(
        offers
            .iter()
            .map(|(patient, id, _)| {
                let (app, patient, id) = (app.clone(), patient.clone(), id.clone());
                async move {
                    let lapse = {
                        let store = app.service_store();
                        let id = id.parse().unwrap();
                        async move {
                            let later = shared::domain::UtcTime::from_timestamp(
                                jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
                            );
                            loop {
                                match store.lapse_offer(id, 1, 3, later).await {
                                    Ok(e) => return e,
                                    Err(e) => assert!(aws == Aws::Faulty, "{e}"),
                                }
                            }
                        }
                    };
                    let (accepted, lapsed) = tokio::join!(app.accept_offer(&patient, &id), lapse);
                    (accepted, lapsed)
                }
            })
            .collect(),
    )
    .await;
    for ((accepted, _), (_, id, slot)) in outcomes.iter().zip(&offers) {
        let entry = app.entry_when(id, |_| true).await;
        let seat = app.stored_slot(slot).await;
        match accepted {
            Ok(appointment) => {
                assert_eq!(
                    entry.status,
                    EntryStatus::Accepted,
                    "the accept won, so the lapse did nothing"
                );
                assert_eq!(entry.accepted_appointment_id, Some(appointment.id));
                assert_eq!(seat.current_bookings, 1);
            }
            Err(p) => {
                assert!(
                    p.code == "offer_expired" || (aws == Aws::Faulty && p.code == "contended"),
                    "{p:?}"
                );
                let back = app
                    .entry_when(id, |e| e.status == EntryStatus::Waiting)
                    .await;
                assert_eq!((back.offer_count, back.accepted_appointment_id), (1, None));
                assert_eq!(seat.current_bookings, 0, "the lapse gave the seat back");
            }
        }
        let scheduled = app
            .appointments(
                &app.staff().await,
                "",
                &format!("providerId={}&status=scheduled", provider.id),
            )
            .await
            .unwrap();
        assert_eq!(
            scheduled
                .data
                .iter()
                .filter(|a| a.slot_id.to_string() == *slot)
                .count(),
            usize::from(accepted.is_ok())
        );
    }
}

async fn two_seats_freed_at_once_for_one_entry_make_one_offer(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    // 10:00 and 11:00 UTC two days from now: one date whatever the time the test runs.
    let day = days_ahead(2);
    let (a, first_slot, first) = booked_at(&app, &provider, &format!("{day}T10:00:00Z")).await;
    let (b, second_slot, second) = booked_at(&app, &provider, &format!("{day}T11:00:00Z")).await;
    let date = app.slot_date(&first_slot).await;
    assert_eq!(date, app.slot_date(&second_slot).await, "both on one date");
    let entry = app
        .wait_for_seat(&app.patient().await, &provider, &date)
        .await;
    let id = entry.id.to_string();
    let replies = join_all(vec![
        {
            let (app, first) = (app.clone(), first.clone());
            Box::pin(async move { app.cancel(&a, &first, "x").await })
                as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
        },
        {
            let (app, second) = (app.clone(), second.clone());
            Box::pin(async move { app.cancel(&b, &second, "x").await })
        },
    ])
    .await;
    for r in replies {
        r.done();
    }
    let offered = app
        .entry_when(&id, |e| e.status == EntryStatus::Offered)
        .await;
    // Both seat-freed jobs have run once the cancellations' events are out and the worker is idle; run
    // them again to be sure, as a redelivery would.
    let worker = app.worker(app.service_store());
    for (slot, appointment) in [(&first_slot, &first), (&second_slot, &second)] {
        let job = seat_freed(slot, appointment);
        worker.run(&job).await.unwrap();
    }
    app.wait_for_kinds_of("entryId", &id, &["waitlist.joined", "waitlist.offered"])
        .await;
    let held: Vec<u32> = [
        app.stored_slot(&first_slot).await.current_bookings,
        app.stored_slot(&second_slot).await.current_bookings,
    ]
    .to_vec();
    let mut sorted = held.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1], "one seat held, the other free: {held:?}");
    let held_slot = if held[0] == 1 {
        &first_slot
    } else {
        &second_slot
    };
    assert_eq!(
        offered.offered_slot_id.map(|s| s.to_string()).as_ref(),
        Some(held_slot)
    );
}

fn seat_freed(slot: &str, appointment: &str) -> shared::jobs::Job {
    serde_json::from_value(json!({
        "type": "seat-freed", "jobId": uuid::Uuid::new_v4(), "slotId": slot,
        "appointmentId": appointment, "freedAt": "2026-11-25T10:00:00Z"
    }))
    .unwrap()
}

async fn the_same_seat_freed_job_delivered_four_times_at_once_makes_one_offer(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let (first, slot, appointment) = booked(&app, &provider, 30).await;
    let date = app.slot_date(&slot).await;
    let (first_waiting, second_waiting) = (app.patient().await, app.patient().await);
    let one = app
        .wait_for_seat(&first_waiting, &provider, &date)
        .await
        .id
        .to_string();
    let two = app
        .wait_for_seat(&second_waiting, &provider, &date)
        .await
        .id
        .to_string();
    app.cancel(&first, &appointment, "moved away").await.done();
    let job = seat_freed(&slot, &appointment);
    let worker = Arc::new(app.worker(app.service_store()));
    let runs = join_all(
        (0..4)
            .map(|_| {
                let (worker, job) = (worker.clone(), job.clone());
                async move { worker.run(&job).await.map_err(|e| e.to_string()) }
            })
            .collect(),
    )
    .await;
    for r in runs {
        if aws == Aws::Faithful {
            r.unwrap();
        }
    }
    // One of the two holds the seat (if they joined in the same second, which is up to their ids).
    let mut states = vec![];
    for id in [&one, &two] {
        let e = app
            .entry_when(id, |e| {
                e.offer_count > 0 || e.status == EntryStatus::Waiting
            })
            .await;
        states.push((e.status, e.offer_count));
    }
    states.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(
        states,
        [(EntryStatus::Offered, 1), (EntryStatus::Waiting, 0)],
        "one offer"
    );
    let offered = app.entry_when(&one, |_| true).await;
    let (holder, other) = if offered.status == EntryStatus::Offered {
        (&one, &two)
    } else {
        (&two, &one)
    };
    app.wait_for_kinds_of("entryId", holder, &["waitlist.joined", "waitlist.offered"])
        .await;
    app.wait_for_kinds_of("entryId", other, &["waitlist.joined"])
        .await;
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);

    // The holder leaves the waitlist: the held seat goes to the other.
    let holder_patient = if holder == &one {
        &first_waiting
    } else {
        &second_waiting
    };
    let left = app.leave_waitlist(holder_patient, holder).await.unwrap();
    assert_eq!(left.status, EntryStatus::Cancelled);
    app.entry_when(other, |e| e.status == EntryStatus::Offered)
        .await;
    app.wait_for_kinds_of(
        "entryId",
        holder,
        &["waitlist.joined", "waitlist.offered", "waitlist.cancelled"],
    )
    .await;
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
}

async fn a_rival_booking_and_the_offer_race_for_a_freed_seat_and_exactly_one_gets_it(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let (first, slot, appointment) = booked(&app, &provider, 30).await;
    let date = app.slot_date(&slot).await;
    let id = app
        .wait_for_seat(&app.patient().await, &provider, &date)
        .await
        .id
        .to_string();
    let rival = app.patient().await;
    let worker = app.worker(app.service_store());
    app.cancel(&first, &appointment, "moved away").await.done();
    // The rival books as soon as the seat is free, against the stream's offer and the worker's own.
    let job = seat_freed(&slot, &appointment);
    let (booking, offer) = tokio::join!(
        app.book(
            &rival,
            Booking {
                slot: &slot,
                ..Default::default()
            }
        ),
        worker.run(&job),
    );
    if aws == Aws::Faithful {
        offer.unwrap();
    }
    // Run the job once more, so that the state below is final.
    while let Err(e) = worker.run(&seat_freed(&slot, &appointment)).await {
        assert!(aws == Aws::Faulty, "{e}");
    }
    let entry = app.entry_when(&id, |_| true).await;
    let seat = app.stored_slot(&slot).await;
    assert_eq!(seat.current_bookings, 1, "exactly one holds the seat");
    match booking {
        Ok(a) => {
            assert_eq!(a.slot_id.to_string(), slot);
            assert_eq!(
                entry.status,
                EntryStatus::Waiting,
                "the rival got it; no offer"
            );
        }
        Err(p) => {
            assert!(
                p.code == "slot_full" || (aws == Aws::Faulty && p.code == "contended"),
                "{p:?}"
            );
            assert_eq!(entry.status, EntryStatus::Offered, "the offer got it");
        }
    }
}

/// A reschedule away, a new slot, a bulk generation in the provider's zone and a released block each
/// offer their seat to the patient waiting for it; a patient whose window the seat misses is not
/// offered it.
async fn every_way_a_seat_opens_reaches_the_waiting_patient_it_suits(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let provider = app.provider().await;
    let offered = |id: String| {
        let app = &app;
        async move {
            app.entry_when(&id, |e| e.status == EntryStatus::Offered)
                .await
                .offered_slot_id
                .unwrap()
                .to_string()
        }
    };

    // A reschedule away frees the old seat.
    let (patient, old_slot, appointment) = booked(&app, &provider, 30).await;
    let elsewhere = app.slot(&provider, 80, 1).await;
    let waiting = app
        .wait_for_seat(
            &app.patient().await,
            &provider,
            &app.slot_date(&old_slot).await,
        )
        .await;
    app.reschedule(&patient, &appointment, &elsewhere, None)
        .await
        .unwrap();
    assert_eq!(offered(waiting.id.to_string()).await, old_slot);

    // A new slot on a date somebody waits for; the one whose window it misses waits on.
    let day = days_ahead(5);
    let picky = app
        .join_waitlist(
            &app.patient().await,
            json!({"providerId": provider.id, "preferredDate": day, "preferredTimeSlots": [{"start": "07:00", "end": "08:00"}]}),
        )
        .await
        .unwrap();
    let any_time = app
        .wait_for_seat(&app.patient().await, &provider, &day)
        .await;
    let created = app
        .create_slot(&provider, NewSlot::at(&format!("{day}T15:00:00Z")))
        .await
        .unwrap();
    assert_eq!(
        offered(any_time.id.to_string()).await,
        created.id.to_string()
    );

    // Bulk generation in New York: the entry's date is the provider's local date.
    let later = days_ahead(8);
    let in_new_york = app
        .wait_for_seat(&app.patient().await, &provider, &later)
        .await;
    let bulk = app
        .bulk(
            &provider,
            bulk_body(
                &provider,
                "America/New_York",
                &later,
                &later,
                every_day("20:00", "21:00"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(bulk.created, 2);
    let seat = offered(in_new_york.id.to_string()).await;
    assert!(bulk.slots.iter().any(|s| s.id.to_string() == seat));

    // A blocked slot released.
    let blocked_day = days_ahead(9);
    let slot = app
        .create_slot(&provider, NewSlot::at(&format!("{blocked_day}T15:00:00Z")))
        .await
        .unwrap();
    let blocked = app
        .block(
            &provider,
            json!({"providerId": provider.id, "startTime": format!("{blocked_day}T12:00:00Z"), "endTime": format!("{blocked_day}T23:00:00Z")}),
        )
        .await
        .unwrap();
    assert_eq!(blocked.blocked, [slot.id]);
    let after_block = app
        .wait_for_seat(&app.patient().await, &provider, &blocked_day)
        .await;
    app.release(&provider, &slot.id.to_string()).await.unwrap();
    assert_eq!(
        offered(after_block.id.to_string()).await,
        slot.id.to_string()
    );

    app.wait_for_kinds_of("entryId", &picky.id.to_string(), &["waitlist.joined"])
        .await;
}

async fn after_max_offers_an_entry_expires_and_its_patient_may_join_again(aws: Aws) {
    let app = TestApp::spawn_configured(
        aws,
        Clock::System,
        // No least lead: the 2-second offer gets a Scheduler schedule, which the local stack fires (the
        // lapse test's 6-second offers, under the default minute, get a delayed job instead).
        &[
            ("OfferTtlSeconds", "2"),
            ("MaxOffers", "1"),
            ("ReminderMinimumLeadSeconds", "0"),
        ],
    )
    .await;
    let provider = app.provider().await;
    let (first, slot, appointment) = booked(&app, &provider, 30).await;
    let date = app.slot_date(&slot).await;
    let (patient, other) = (app.patient().await, app.patient().await);
    let entry = app.wait_for_seat(&patient, &provider, &date).await;
    let id = entry.id.to_string();
    app.cancel(&first, &appointment, "moved away").await.done();
    app.entry_when(&id, |e| e.status == EntryStatus::Offered)
        .await;
    let expired = app
        .entry_when(&id, |e| e.status == EntryStatus::Expired)
        .await;
    assert_eq!(expired.offer_count, 1);
    refused(&app.accept_offer(&patient, &id).await, 409, "offer_expired");
    app.wait_for_kinds_of(
        "entryId",
        &id,
        &["waitlist.joined", "waitlist.offered", "waitlist.expired"],
    )
    .await;
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 0);

    // The date is free for the patient again.
    let again = app.wait_for_seat(&patient, &provider, &date).await;
    assert_ne!(again.id, entry.id);
    assert_eq!(again.status, EntryStatus::Waiting);
    let _ = other;
}

/// A patient's app sends its accept again and again (a double tap, a retry on a slow network): one
/// appointment is made, the first answer is 201 and every other is 200 with that same appointment.
async fn twenty_accepts_of_one_offer_at_once_book_once_and_all_answer_that_appointment(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let (first, slot, appointment) = booked(&app, &provider, 30).await;
    let waiting = app.patient().await;
    let id = app
        .wait_for_seat(&waiting, &provider, &app.slot_date(&slot).await)
        .await
        .id
        .to_string();
    app.cancel(&first, &appointment, "moved away").await.done();
    app.entry_when(&id, |e| e.status == EntryStatus::Offered)
        .await;
    let replies = join_all(
        (0..20)
            .map(|_| {
                let (app, waiting, path) = (
                    app.clone(),
                    waiting.clone(),
                    format!("/waitlist/{id}/accept"),
                );
                async move { app.send(&waiting, "POST", &path, Some(json!({}))).await }
            })
            .collect(),
    )
    .await;
    let mut created = 0;
    let mut booked_ids = std::collections::BTreeSet::new();
    for r in &replies {
        if settled(r, &[(201, ""), (200, "")], aws) {
            continue;
        }
        created += usize::from(r.status == 201);
        booked_ids.insert(r.id());
    }
    assert_eq!(created, 1, "one accept books");
    assert_eq!(
        booked_ids.len(),
        1,
        "every answer names the one appointment"
    );
    assert_eq!(
        app.appointments_of_slot(&slot).await,
        2,
        "the cancelled one and the new one"
    );
}

/// The sweeper lapses an outstanding offer past its end whose expiry never came (its schedule lost),
/// so no seat stays held; when every expiry comes, it finds nothing.
async fn an_offer_whose_expiry_is_lost_is_lapsed_by_the_sweeper_which_otherwise_finds_nothing(
    aws: Aws,
) {
    let app = Arc::new(
        TestApp::spawn_configured(
            aws,
            Clock::System,
            &[
                ("OfferTtlSeconds", "4"),
                ("ReminderMinimumLeadSeconds", "1"),
            ],
        )
        .await,
    );
    let worker = app.worker(app.service_store());
    let sweep = || async {
        loop {
            match worker.sweep().await {
                Ok(n) => return n,
                Err(e) => assert!(aws == Aws::Faulty, "{e}"),
            }
        }
    };
    assert_eq!(sweep().await, 0, "nothing is outstanding");
    let provider = app.provider().await;
    let (offered, _) = app.a_held_offer(&provider, 30).await;
    let id = offered.id;
    // Its expiry schedule is lost (deleted here; on AWS, any way a timed job can go missing).
    let name = format!("offer-{id}-1");
    assert!(
        app.schedule_fires_at(&name).await.is_some() && app.lose_schedule(&name).await,
        "the schedule existed and had not fired yet"
    );
    assert_eq!(sweep().await, 0, "not overdue before its end");

    let ends = offered.offer_expires_at.unwrap().timestamp();
    let left = std::time::Duration::try_from(ends.duration_since(jiff::Timestamp::now()))
        .unwrap_or_default();
    tokio::time::sleep(left + std::time::Duration::from_secs(1)).await;
    let stuck = app.entry_when(&id.to_string(), |_| true).await;
    assert_eq!(
        (stuck.status, stuck.offer_count),
        (EntryStatus::Offered, 1),
        "past its end, nothing lapsed it"
    );
    assert_eq!(sweep().await, 1, "the sweeper lapses it");
    // Its seat came back: the entry waits again, or has been offered it anew (offer 2, with its own
    // expiry).
    app.entry_when(&id.to_string(), |e| {
        e.status != EntryStatus::Offered || e.offer_count > 1
    })
    .await;
}

/// Scheduler fires a one-time schedule anywhere in the minute of its time, so an offer's expiry can
/// arrive before the offer's end. The worker neither lapses the offer early nor fails the job (which
/// would spend its receives and land it in the dead-letter queue): it sends it again for the time left.
async fn an_offer_expiry_that_comes_early_is_sent_again_and_lapses_the_offer_on_time(aws: Aws) {
    let app =
        Arc::new(TestApp::spawn_configured(aws, Clock::System, &[("OfferTtlSeconds", "6")]).await);
    let provider = app.provider().await;
    let (offered, _) = app.a_held_offer(&provider, 30).await;
    let id = offered.id;
    let ends = offered.offer_expires_at.expect("an offer has an end");

    let early = shared::jobs::Job::OfferExpired {
        entry_id: id,
        offer_count: 1,
    };
    let worker = app.worker(app.service_store());
    loop {
        match worker.run(&early).await {
            Ok(()) => break,
            Err(e) => assert!(aws == Aws::Faulty, "an early expiry is no failure: {e}"),
        }
    }
    let still = app.entry_when(&id.to_string(), |_| true).await;
    assert_eq!(
        (still.status, still.offer_count),
        (EntryStatus::Offered, 1),
        "not lapsed before its end"
    );
    let lapsed = app
        .entry_when(&id.to_string(), |e| {
            e.offer_count > 1 || e.status != EntryStatus::Offered
        })
        .await;
    // Scheduler's whole seconds: a lapse within a second of the end is on time.
    assert!(
        lapsed.updated_at.timestamp() >= ends.timestamp() - jiff::SignedDuration::from_secs(1),
        "lapsed at {} for an end at {ends}",
        lapsed.updated_at
    );
    assert_eq!(app.queue_depth("JobsDeadLetterQueue").await, 0);
}

/// A visit completed with `followUpRequired` and a `followUpDate` puts its patient on the provider's
/// waitlist for that date (the visit's consultation type, priority `FollowUpPriority`), under the entry
/// id its event names: a seat that frees that day is offered to them before a patient who joined
/// earlier by themself.
async fn a_follow_up_with_a_date_is_first_in_line_for_a_seat_that_frees_that_day(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let soon = clinic_tests::whole_minutes_from_now(2).to_string();
    let visit = app.booked_at(&provider, &patient, &soon, "phone").await;
    // Another patient already waits for a day three days on, and that day's one seat is taken.
    let date = days_ahead(3);
    let (taken_by, slot, taken) = booked_at(&app, &provider, &format!("{date}T14:00:00Z")).await;
    let early = app.patient().await;
    let earlier = app.wait_for_seat(&early, &provider, &date).await;
    app.check_in(&patient, &visit).await.done();
    app.start(&provider, &visit).await.done();
    app.complete(
        &provider,
        &visit,
        json!({"followUpRequired": true, "followUpDate": date}),
    )
    .await
    .done();
    let events = app
        .wait_for_kinds(
            &visit,
            &[
                "appointment.created",
                "appointment.checked_in",
                "appointment.started",
                "appointment.completed",
                "appointment.follow_up_requested",
            ],
        )
        .await;
    let asked = events
        .iter()
        .find(|e| e["detail-type"] == "appointment.follow_up_requested")
        .unwrap();
    assert_eq!(asked["detail"]["followUpDate"], json!(date));
    let id = asked["detail"]["waitlistEntryId"]
        .as_str()
        .unwrap()
        .to_owned();
    let entry = app.entry_when(&id, |_| true).await;
    assert_eq!(
        (
            entry.patient_id.uuid(),
            entry.preferred_date.to_string(),
            entry.priority,
            entry.consultation_type.map(|c| c.as_str()),
            entry.follow_up_of.map(|a| a.to_string()),
        ),
        (
            patient.id,
            date.clone(),
            5,
            Some("phone"),
            Some(visit.clone())
        )
    );
    app.wait_for_kinds_of("entryId", &id, &["waitlist.joined"])
        .await;

    // The seat frees: the follow-up is offered it, ahead of the patient who joined first.
    app.cancel(&taken_by, &taken, "moved away").await.done();
    let offered = app
        .entry_when(&id, |e| e.status == EntryStatus::Offered)
        .await;
    assert_eq!(offered.offered_slot_id.map(|s| s.to_string()), Some(slot));
    let other = app
        .waitlist_entry(&early, &earlier.id.to_string())
        .await
        .done();
    assert_eq!(other.status, EntryStatus::Waiting);
    let booked = app.accept_offer(&patient, &id).await.done();
    assert_eq!(
        booked.consultation_type.as_str(),
        "phone",
        "the visit's consultation type"
    );
}

/// DynamoDB requests per waitlist operation, counted on a stack without the stream and queue pollers
/// (so no job of the stack's own runs beside the counted one): an offer 3 (the queue, the slot with the
/// provider's profile, the transaction), 1 for a slot nobody waits for, one GetItem more for a job that
/// does not carry the slot's provider and start; an accept 3; a join 2 (with a stored zone); a decline 2.
#[tokio::test]
async fn waitlist_operations_cost_a_few_requests_each() {
    use shared::domain::waitlist::Ending;
    use shared::domain::UtcTime;
    use shared::store::waitlist::Acceptance;
    let (_stack, store, counter) = clinic_tests::counted_store().await;
    let provider = shared::domain::ProviderId::new();
    let now = UtcTime::from_timestamp(jiff::Timestamp::now());
    let start: UtcTime = "2030-05-06T15:00:00Z".parse().unwrap();
    let (slot, empty) = (shared::domain::SlotId::new(), shared::domain::SlotId::new());
    for (id, at) in [
        (slot, start),
        (empty, "2030-05-20T15:00:00Z".parse().unwrap()),
    ] {
        local::put_slot(&store, &id.to_string(), &provider.to_string(), at, 30, 1)
            .await
            .unwrap();
    }
    store
        .db
        .put_item()
        .table_name(&store.table)
        .set_item(Some(
            shared::store::items::item(&shared::store::items::ProviderProfile {
                provider_id: provider,
                time_zone: Some("Europe/Lisbon".into()),
                settings: None,
                settings_updated_at: None,
                settings_version: 0,
                profile: None,
                profile_updated_at: None,
                profile_version: 0,
                updated_at: now,
            })
            .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    let total = |c: &clinic_tests::RequestCounter| c.take().values().sum::<u32>();
    counter.take();

    let patient = shared::domain::PatientId::new();
    let entry = shared::domain::waitlist::Entry::waiting(
        patient,
        provider,
        "2030-05-06".parse().unwrap(),
        now,
    );
    assert!(store.known_provider_zone(provider).await.unwrap().is_some());
    store.join_waitlist(&entry).await.unwrap();
    assert_eq!(total(&counter), 2, "a join: the profile, the transaction");

    let ttl = jiff::SignedDuration::from_mins(30);
    let empty_start: UtcTime = "2030-05-20T15:00:00Z".parse().unwrap();
    let offer_empty = || store.offer_seats(empty, Some((provider, empty_start)), now, ttl);
    assert!(offer_empty().await.unwrap().is_empty());
    assert_eq!(total(&counter), 1, "a slot nobody waits for: one Query");

    let offered = store
        .offer_seats(slot, Some((provider, start)), now, ttl)
        .await
        .unwrap();
    assert_eq!(offered, [entry.id]);
    clinic_tests::counted(
        &counter,
        &[("Query", 1), ("BatchGetItem", 1), ("TransactWriteItems", 1)],
        "an offer",
    );
    assert!(store
        .offer_seats(slot, None, now, ttl)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        total(&counter),
        2,
        "without the job's provider and start: the slot first, then the queue (nobody waits now)"
    );

    let allow = |_: &shared::domain::waitlist::Entry| Ok(());
    let asked = Acceptance {
        max_active: 100,
        ..Default::default()
    };
    store
        .accept_offer(entry.id, &asked, &allow, now)
        .await
        .unwrap();
    clinic_tests::counted(&counter, ACCEPT, "an accept");

    // A second entry, offered the other slot, declines: 2 requests.
    let mut other = entry.clone();
    other.id = shared::domain::EntryId::new();
    other.patient_id = shared::domain::PatientId::new();
    other.preferred_date = "2030-05-20".parse().unwrap();
    store.join_waitlist(&other).await.unwrap();
    assert_eq!(offer_empty().await.unwrap(), [other.id]);
    counter.take();
    let declined = store
        .end_entry(other.id, Ending::Decline, &allow, now)
        .await
        .unwrap();
    assert_eq!(declined.status, EntryStatus::Declined);
    assert_eq!(total(&counter), 2, "a decline: the entry, the transaction");
}
