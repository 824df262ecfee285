//! Holds and requests end to end over HTTP (issue 21, DESIGN.md section 16): a seat kept for a patient
//! while they finish elsewhere, then booked with the hold, released, or lapsed; a booking of a type
//! that requires confirmation waits, pending, for the provider's answer or its deadline. The stories
//! run twice (`both_ways!`), the second time with the emulator's faults on.

use std::sync::Arc;

use clinic_tests::{
    both_ways, hold_at_once, join_all, refused, settled, Actor, Answer, Aws, Done, TestApp,
};
use serde_json::json;
use shared::domain::hold::Hold;
use shared::domain::hold::HoldStatus;
use shared::domain::waitlist::EntryStatus;
use shared::domain::Clock;
use shared::jobs::Job;

both_ways!(
    twenty_patients_hold_a_three_seat_slot_at_once_and_three_get_a_seat,
    a_held_seat_is_booked_by_its_patient_while_ten_rivals_try_to_book_it,
    a_hold_left_alone_lapses_on_time_and_its_seat_is_offered_to_the_waitlist,
    a_patient_s_parallel_holds_stop_at_max_holds_per_patient,
    a_released_hold_gives_its_seat_back_at_once,
    a_hold_whose_expiry_is_lost_is_lapsed_by_the_sweeper,
    a_request_is_confirmed_declined_withdrawn_or_declined_at_its_deadline,
    fhir_find_hold_and_book_end_to_end_in_valid_r4,
);

/// The holds granted among `answers`, each answer one of `allowed` (or, with faults, 503 `contended`).
#[track_caller]
fn granted(answers: &[Answer<Hold>], allowed: &[(u16, &str)], aws: Aws) -> Vec<Hold> {
    answers
        .iter()
        .filter(|a| !settled(*a, allowed, aws))
        .filter_map(|a| a.as_ref().ok().cloned())
        .collect()
}

/// A stack with a one-seat slot 30 hours ahead, held by a patient: (app, provider, slot, holder, hold).
async fn one_seat_held(aws: Aws) -> (Arc<TestApp>, Actor, String, Actor, Hold) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let slot = app.slot(&provider, 30, 1).await;
    let holder = app.patient().await;
    let hold = app.hold(&holder, &slot, json!({})).await.done();
    (app, provider, slot, holder, hold)
}

/// The stack's worker with its clock a second past `t` (as if Scheduler fired at `t`).
fn worker_past(app: &TestApp, t: shared::domain::UtcTime) -> shared::jobs::Worker {
    shared::jobs::Worker {
        clock: Clock::manual(t.plus(jiff::SignedDuration::from_secs(1))),
        ..app.worker(app.service_store())
    }
}

/// `worker.sweep()` until it answers (with faults a run may fail; the next scheduled run would retry).
async fn swept(worker: &shared::jobs::Worker, aws: Aws) -> usize {
    loop {
        match worker.sweep().await {
            Ok(n) => return n,
            Err(e) => assert!(aws == Aws::Faulty, "{e}"),
        }
    }
}

/// `worker.run(job)` until it is done (with faults, a run may fail and is run again, as SQS would).
async fn run_job(worker: &shared::jobs::Worker, job: &Job, aws: Aws) {
    loop {
        match worker.run(job).await {
            Ok(()) => return,
            Err(e) => assert!(aws == Aws::Faulty, "{job:?}: {e}"),
        }
    }
}

async fn twenty_patients_hold_a_three_seat_slot_at_once_and_three_get_a_seat(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let slot = app.slot(&provider, 30, 3).await;
    let patients = app.patients(20).await;
    let answers = hold_at_once(&app, &patients, &slot).await;
    let held = granted(&answers, &[(201, ""), (409, "slot_full")], aws);
    if aws == Aws::Faithful {
        assert_eq!(held.len(), 3, "{answers:?}");
    }
    assert!(held.len() <= 3);
    // Exactly the holds answered took the seats, and nothing else did.
    let stored = app.stored_slot(&slot).await;
    assert_eq!(stored.current_bookings as usize, held.len());
    for h in &held {
        assert_eq!(
            (h.status, h.slot_id.to_string()),
            (HoldStatus::Held, slot.clone())
        );
        let ttl = h.expires_at.timestamp().as_second() - h.created_at.timestamp().as_second();
        assert_eq!(ttl, 600, "HoldTtlSeconds by default");
    }
    if held.len() == 3 {
        // Every seat is held: the slot is not on offer, and a booking without a hold is refused.
        let date = app.slot_date(&slot).await;
        let open = app
            .available(
                &patients[0],
                &format!("providerId={}&startDate={date}&endDate={date}", provider.id),
            )
            .await
            .done();
        assert!(open.data.iter().all(|s| s.id.to_string() != slot));
        let outsider = app.patient().await;
        refused(&app.book(&outsider, &slot).await, 409, "slot_full");
    }
    for h in &held {
        app.wait_for_kinds_of("holdId", &h.id.to_string(), &["hold.created"])
            .await;
    }
}

async fn a_held_seat_is_booked_by_its_patient_while_ten_rivals_try_to_book_it(aws: Aws) {
    let (app, provider, slot, holder, hold) = one_seat_held(aws).await;
    let id = hold.id.to_string();

    // Somebody else's hold is not theirs to see or book; a provider does not see it either.
    let stranger = app.patient().await;
    refused(&app.get_hold(&stranger, &id).await, 404, "not_found");
    refused(&app.book_held(&stranger, &id).await, 404, "not_found");
    refused(&app.get_hold(&provider, &id).await, 404, "not_found");
    assert_eq!(app.get_hold(&app.staff().await, &id).await.done(), hold);

    // The holder books with the hold while ten rivals book the slot: the holder gets it.
    let rivals = app.patients(10).await;
    let mut racers: Vec<_> = rivals
        .iter()
        .cloned()
        .map(|p| {
            let (app, slot) = (app.clone(), slot.clone());
            tokio::spawn(async move { app.book(&p, &slot).await })
        })
        .collect();
    let booked = {
        let (app, holder, id) = (app.clone(), holder.clone(), id.clone());
        tokio::spawn(async move { app.book_held(&holder, &id).await })
    };
    let mut rival_answers = vec![];
    for r in racers.drain(..) {
        rival_answers.push(r.await.unwrap());
    }
    for r in &rival_answers {
        settled(r, &[(409, "slot_full")], aws);
    }
    let mut answer = booked.await.unwrap();
    let appointment = loop {
        // With faults, a 503 leaves the hold held: the patient asks again.
        match answer {
            Ok(a) => break a,
            Err(p) => assert!(aws == Aws::Faulty && p.status == 503, "{p:?}"),
        }
        answer = app.book_held(&holder, &id).await;
    };
    assert_eq!(
        (
            appointment.slot_id.to_string(),
            appointment.patient_id.uuid()
        ),
        (slot.clone(), holder.id)
    );
    let stored = app.stored_slot(&slot).await;
    assert_eq!(
        stored.current_bookings, 1,
        "the held seat became the booking"
    );
    assert_eq!(app.appointments_of_slot(&slot).await, 1);
    // Asked again, the hold answers the appointment it became; it is over.
    let again = app.book_held(&holder, &id).await.done();
    assert_eq!(again.id, appointment.id);
    let converted = app.get_hold(&holder, &id).await.done();
    assert_eq!(
        (converted.status, converted.appointment_id),
        (HoldStatus::Converted, Some(appointment.id))
    );
    refused(&app.release_hold(&holder, &id).await, 409, "hold_ended");
    app.wait_for_kinds_of("holdId", &id, &["hold.created", "hold.converted"])
        .await;
    // The converted hold's event names the appointment too.
    app.wait_for_kinds(
        &appointment.id.to_string(),
        &["appointment.created", "hold.converted"],
    )
    .await;
    assert!(
        app.schedule_fires_at(&format!("hold-{id}")).await.is_none(),
        "a booked hold's expiry schedule is deleted"
    );
}

async fn a_hold_left_alone_lapses_on_time_and_its_seat_is_offered_to_the_waitlist(aws: Aws) {
    let (app, provider, slot, holder, hold) = one_seat_held(aws).await;
    let id = hold.id.to_string();
    let waiting = app.patient().await;
    let entry = app
        .wait_for_seat(&waiting, &provider, &app.slot_date(&slot).await)
        .await;
    // Its expiry is a Scheduler schedule at its end.
    let fires = app
        .schedule_fires_at(&format!("hold-{id}"))
        .await
        .expect("a hold's expiry is scheduled");
    let off = fires.duration_since(hold.expires_at.timestamp()).abs();
    assert!(off < jiff::SignedDuration::from_secs(60), "fires {fires}");

    // Scheduler fires anywhere in the minute of its time: a job now is early and lapses nothing.
    let job = Job::HoldExpired { hold_id: hold.id };
    run_job(&app.worker(app.service_store()), &job, aws).await;
    assert_eq!(
        app.get_hold(&holder, &id).await.done().status,
        HoldStatus::Held
    );
    // At its end (the worker's clock a second past it), the same job lapses it.
    let worker = worker_past(&app, hold.expires_at);
    run_job(&worker, &job, aws).await;
    let lapsed = app.get_hold(&holder, &id).await.done();
    assert_eq!(lapsed.status, HoldStatus::Expired);
    // Its seat came back and went to the waiting patient.
    let offered = app
        .entry_when(&entry.id.to_string(), |e| e.status == EntryStatus::Offered)
        .await;
    assert_eq!(
        offered.offered_slot_id.map(|s| s.to_string()),
        Some(slot.clone())
    );
    refused(&app.book_held(&holder, &id).await, 409, "hold_expired");
    // Run again (a redelivery), it changes nothing.
    run_job(&worker, &job, aws).await;
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings,
        1,
        "the offer's seat"
    );
    app.wait_for_kinds_of("holdId", &id, &["hold.created", "hold.expired"])
        .await;
}

/// The sweeper lapses a hold past its end whose expiry never came (its schedule lost), so no seat stays
/// held past `expiresAt` plus the sweeper's period; before the end, and after, it finds nothing.
async fn a_hold_whose_expiry_is_lost_is_lapsed_by_the_sweeper(aws: Aws) {
    let (app, _, slot, holder, hold) = one_seat_held(aws).await;
    let id = hold.id.to_string();
    let name = format!("hold-{id}");
    assert!(
        app.schedule_fires_at(&name).await.is_some() && app.lose_schedule(&name).await,
        "the schedule existed and had not fired yet"
    );
    assert_eq!(
        swept(&worker_past(&app, hold.created_at), aws).await,
        0,
        "not overdue before its end"
    );
    assert_eq!(
        app.get_hold(&holder, &id).await.done().status,
        HoldStatus::Held
    );
    assert_eq!(
        swept(&worker_past(&app, hold.expires_at), aws).await,
        1,
        "the sweeper lapses it"
    );
    assert_eq!(
        app.get_hold(&holder, &id).await.done().status,
        HoldStatus::Expired
    );
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 0);
    assert_eq!(
        swept(&worker_past(&app, hold.expires_at), aws).await,
        0,
        "nothing is left to sweep"
    );
}

async fn a_patient_s_parallel_holds_stop_at_max_holds_per_patient(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let patient = app.patient().await;
    let mut slots = vec![];
    for day in 0..8 {
        slots.push(app.slot(&provider, 30 + 24 * day, 1).await);
    }
    let answers = join_all(
        slots
            .iter()
            .cloned()
            .map(|slot| {
                let (app, patient) = (app.clone(), patient.clone());
                async move { app.hold(&patient, &slot, json!({})).await }
            })
            .collect(),
    )
    .await;
    let held = granted(&answers, &[(201, ""), (409, "too_many_holds")], aws);
    if aws == Aws::Faithful {
        assert_eq!(held.len(), 3, "MaxHoldsPerPatient by default: {answers:?}");
    }
    assert!(held.len() <= 3);
    let taken: u32 = {
        let mut n = 0;
        for s in &slots {
            n += app.stored_slot(s).await.current_bookings;
        }
        n
    };
    assert_eq!(
        taken as usize,
        held.len(),
        "only the holds answered took seats"
    );
    // Released, a hold makes room for another.
    if let Some(first) = held.first() {
        let released = app
            .release_hold(&patient, &first.id.to_string())
            .await
            .done();
        assert_eq!(released.status, HoldStatus::Released);
        let free = slots
            .iter()
            .find(|s| held.iter().all(|h| h.slot_id.to_string() != **s))
            .unwrap();
        loop {
            match app.hold(&patient, free, json!({})).await {
                Ok(h) => {
                    assert_eq!(h.status, HoldStatus::Held);
                    break;
                }
                Err(p) => assert!(aws == Aws::Faulty && p.status == 503, "{p:?}"),
            }
        }
    }
}

async fn a_released_hold_gives_its_seat_back_at_once(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let provider = app.provider().await;
    let staff = app.staff().await;
    let slot = app.slot(&provider, 30, 1).await;
    let patient = app.patient().await;
    // Staff hold for a patient, who sees it as theirs.
    let hold = app
        .hold(&staff, &slot, json!({"patientId": patient.id}))
        .await
        .done();
    let id = hold.id.to_string();
    assert_eq!(hold.patient_id.uuid(), patient.id);
    assert_eq!(hold.held_by, staff.id);
    assert_eq!(app.get_hold(&patient, &id).await.done(), hold);
    // The patient's time is held: no other hold or booking of theirs at that time.
    let same_time = app
        .slot_at(
            &app.provider().await,
            clinic_tests::NewSlot::at(&hold.start_time.to_string()),
        )
        .await;
    refused(
        &app.hold(&patient, &same_time, json!({})).await,
        409,
        "patient_conflict",
    );
    refused(
        &app.book(&patient, &same_time).await,
        409,
        "patient_conflict",
    );
    // Another patient cannot release it.
    refused(
        &app.release_hold(&app.patient().await, &id).await,
        404,
        "not_found",
    );
    let released = app.release_hold(&patient, &id).await.done();
    assert_eq!(released.status, HoldStatus::Released);
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 0);
    // Released again, it answers as it is; booked, it is refused.
    assert_eq!(
        app.release_hold(&patient, &id).await.done().status,
        HoldStatus::Released
    );
    refused(&app.book_held(&patient, &id).await, 409, "hold_expired");
    // The seat and the patient's time are free: anyone books the seat, the patient the other slot.
    app.book(&app.patient().await, &slot).await.done();
    app.book(&patient, &same_time).await.done();
    app.wait_for_kinds_of("holdId", &id, &["hold.created", "hold.released"])
        .await;
    assert!(
        app.schedule_fires_at(&format!("hold-{id}")).await.is_none(),
        "a released hold's expiry schedule is deleted"
    );
}

/// A type that requires confirmation: each booking is a request (`pending`, the seat taken, no
/// reminders) until the provider confirms it (reminders planned), declines it (the seat to the
/// waitlist), the patient withdraws it (never late), or its deadline passes (declined by its schedule's
/// job or, that lost, by the sweeper).
async fn a_request_is_confirmed_declined_withdrawn_or_declined_at_its_deadline(aws: Aws) {
    use shared::domain::AppointmentStatus;
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let (provider, staff) = (app.provider().await, app.staff().await);
    let kind = app
        .create_type(
            &staff,
            json!({"name": "New-patient consult", "durationMinutes": 30, "consultationTypes": ["video"],
                   "requiresConfirmation": true, "confirmationDeadlineHours": 2}),
        )
        .await
        .done();
    let kind_id = kind.id.to_string();
    let mut requests = vec![];
    for day in 0..5 {
        let slot = app.slot(&provider, 30 + 24 * day, 1).await;
        let patient = app.patient().await;
        let booking = clinic_tests::Booking {
            slot: &slot,
            appointment_type: Some(&kind_id),
            ..Default::default()
        };
        let asked = app.book(&patient, booking).await.done();
        assert_eq!(asked.status, AppointmentStatus::Pending);
        let deadline = asked
            .confirmation_deadline
            .expect("a request has a deadline");
        let hours = deadline.timestamp().as_second() - asked.created_at.timestamp().as_second();
        assert_eq!(hours, 2 * 3600, "confirmationDeadlineHours");
        assert_eq!(
            app.stored_slot(&slot).await.current_bookings,
            1,
            "the seat is taken"
        );
        requests.push((patient, slot, asked));
    }
    let name = |what: &str, id: &shared::domain::AppointmentId| format!("{what}-{id}");
    let (patient, _, asked) = &requests[0];
    let id = asked.id.to_string();
    assert!(app
        .schedule_fires_at(&name("confirm", &asked.id))
        .await
        .is_some());
    assert!(
        app.schedule_fires_at(&format!("reminder-{id}-24h"))
            .await
            .is_none(),
        "no reminders while pending"
    );
    let fhir = app.fhir(patient, &format!("/fhir/Appointment/{id}")).await;
    assert_eq!(fhir.body["status"], "pending");

    // Confirmed by the provider: scheduled, reminders planned, the deadline gone.
    refused(&app.confirm(patient, &id).await, 403, "forbidden");
    let confirmed = app.confirm(&provider, &id).await.done();
    assert_eq!(confirmed.status, AppointmentStatus::Scheduled);
    refused(
        &app.confirm(&provider, &id).await,
        409,
        "invalid_transition",
    );
    app.wait_for_kinds(&id, &["appointment.created", "appointment.confirmed"])
        .await;
    assert!(app
        .schedule_fires_at(&format!("reminder-{id}-24h"))
        .await
        .is_some());
    assert!(app
        .schedule_fires_at(&name("confirm", &asked.id))
        .await
        .is_none());

    // Declined: cancelled, declined, never late; the seat goes to the waiting patient.
    let (_, slot, asked) = &requests[1];
    let waiting = app.patient().await;
    let entry = app
        .wait_for_seat(&waiting, &provider, &app.slot_date(slot).await)
        .await;
    let id = asked.id.to_string();
    let no = app
        .decline(&provider, &id, "needs a referral first")
        .await
        .done();
    assert_eq!(
        (no.status, no.declined, no.late_cancellation),
        (AppointmentStatus::Cancelled, true, Some(false))
    );
    app.wait_for_kinds(&id, &["appointment.created", "appointment.declined"])
        .await;
    let offered = app
        .entry_when(&entry.id.to_string(), |e| e.status == EntryStatus::Offered)
        .await;
    assert_eq!(
        offered.offered_slot_id.map(|s| s.to_string()),
        Some(slot.clone())
    );
    let seated = app
        .accept_offer(&waiting, &entry.id.to_string())
        .await
        .done();
    assert_eq!(seated.slot_id.to_string(), *slot);

    // Withdrawn by the patient: cancelled, not late, not declined.
    let (patient, slot, asked) = &requests[2];
    let id = asked.id.to_string();
    let withdrawn = app.cancel(patient, &id, "found another time").await.done();
    assert_eq!(
        (
            withdrawn.status,
            withdrawn.declined,
            withdrawn.late_cancellation
        ),
        (AppointmentStatus::Cancelled, false, Some(false))
    );
    assert_eq!(app.stored_slot(slot).await.current_bookings, 0);

    // Nobody answers: at the deadline its job declines it (an early one changes nothing).
    let (_, slot, asked) = &requests[3];
    let job = Job::ConfirmationDue {
        appointment_id: asked.id,
    };
    run_job(&app.worker(app.service_store()), &job, aws).await;
    let id = asked.id.to_string();
    assert_eq!(
        app.appointment(&staff, &id).await.done().status,
        AppointmentStatus::Pending
    );
    let deadline = asked.confirmation_deadline.unwrap();
    run_job(&worker_past(&app, deadline), &job, aws).await;
    let lapsed = app.appointment(&staff, &id).await.done();
    assert_eq!(
        (lapsed.status, lapsed.declined),
        (AppointmentStatus::Cancelled, true)
    );
    assert_eq!(app.stored_slot(slot).await.current_bookings, 0);
    app.wait_for_kinds(&id, &["appointment.created", "appointment.declined"])
        .await;

    // Its schedule lost, the sweeper declines it once the deadline has passed, and finds nothing after.
    let (_, _, asked) = &requests[4];
    assert!(app.lose_schedule(&name("confirm", &asked.id)).await);
    let deadline = asked.confirmation_deadline.unwrap();
    assert_eq!(
        swept(
            &worker_past(&app, deadline.plus(jiff::SignedDuration::from_secs(-60))),
            aws
        )
        .await,
        0
    );
    assert_eq!(swept(&worker_past(&app, deadline), aws).await, 1);
    assert_eq!(swept(&worker_past(&app, deadline), aws).await, 0);
    let id = asked.id.to_string();
    assert!(app.appointment(&staff, &id).await.done().declined);
}

/// IHE ITI-115, 116 and 117 through FHIR: `$find` proposes a seat, `$hold` holds it (the Appointment
/// `pending`, the Slot `busy-tentative` once its one seat is held), a rival's `$hold` of the same
/// proposal is refused with the native code, and `$book` books it with the hold (`booked`); every
/// answer valid R4 (tests/python/fhir_check.py).
async fn fhir_find_hold_and_book_end_to_end_in_valid_r4(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::System).await);
    let (provider, staff) = (app.provider().await, app.staff().await);
    clinic_tests::ok(
        &app.put_profile(
            &provider,
            &provider,
            json!({"displayName": "Dr. Ines Moreau"}),
            None,
        )
        .await,
        200,
    );
    let kind = app
        .create_type(
            &staff,
            json!({"name": "Telehealth check", "durationMinutes": 30, "consultationTypes": ["video"]}),
        )
        .await
        .done()
        .id;
    let start = clinic_tests::whole_minutes_from_now(26 * 60).to_string();
    let slot = app
        .slot_at(
            &provider,
            clinic_tests::NewSlot::at(&start).types(&[&kind.to_string()]),
        )
        .await;
    let (patient, rival) = (app.patient().await, app.patient().await);
    let find = format!(
        "/fhir/Appointment/$find?service-type=urn:uuid:{kind}&practitioner=Practitioner/{}",
        provider.id
    );
    // The index follows the stream: ask until the seat shows.
    let mut proposed = serde_json::Value::Null;
    for _ in 0..100 {
        let found = app.fhir(&patient, &find).await;
        if let Some(first) = found.body["entry"][0]["resource"].as_object() {
            proposed = serde_json::Value::Object(first.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(proposed["status"], "proposed", "{proposed}");
    assert_eq!(proposed["slot"][0]["reference"], format!("Slot/{slot}"));
    let reference = |id: &serde_json::Value| {
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "appointment-reference", "valueReference": {"reference": format!("Appointment/{}", id.as_str().unwrap())}}
        ]})
    };

    // With faults, a 503 changed nothing: asked again, as a client would.
    let answered = |who: &Actor, op: &'static str, id: &serde_json::Value| {
        let (app, who, body) = (app.clone(), who.clone(), reference(id));
        async move {
            loop {
                let r = app.fhir_post(&who, op, body.clone()).await;
                if !(aws == Aws::Faulty && r.status == 503) {
                    clinic_tests::ok(&r, 200);
                    return r.body;
                }
            }
        }
    };
    let held = answered(&patient, "/fhir/Appointment/$hold", &proposed["id"]).await;
    assert_eq!(
        (held["resourceType"].as_str(), held["status"].as_str()),
        (Some("Appointment"), Some("pending"))
    );
    let hold_id = held["id"].as_str().unwrap().to_owned();
    let read = app
        .fhir(&patient, &format!("/fhir/Appointment/{hold_id}"))
        .await;
    assert_eq!(read.body["status"], "pending");
    let day: jiff::civil::Date = start[..10].parse().unwrap();
    let slot_now = app
        .fhir(
            &patient,
            &format!(
                "/fhir/Slot?schedule=Schedule/{}&start=ge{day}&start=lt{}",
                provider.id,
                day.tomorrow().unwrap()
            ),
        )
        .await;
    assert_eq!(
        slot_now.body["entry"][0]["resource"]["status"], "busy-tentative",
        "{}",
        slot_now.body
    );

    // Its one seat held, the slot is gone from the search (confirmed on a consistent read).
    let search = app
        .send(
            &rival,
            "GET",
            &format!(
                "/slots/search?appointmentTypeId={kind}&providerId={}",
                provider.id
            ),
            None,
        )
        .await;
    if search.status != 503 {
        clinic_tests::ok(&search, 200);
        assert_eq!(search.body["data"], json!([]), "{}", search.body);
    }
    // The same proposal for another patient is not theirs (not found); held again by its own
    // patient, its one seat is taken. OperationOutcomes with the native API's codes.
    for (who, status, code) in [(&rival, 404, "not_found"), (&patient, 409, "slot_full")] {
        let r = app
            .fhir_post(who, "/fhir/Appointment/$hold", reference(&proposed["id"]))
            .await;
        if aws == Aws::Faulty && r.status == 503 {
            continue;
        }
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(r.body["resourceType"], "OperationOutcome");
        assert_eq!(r.body["issue"][0]["details"]["coding"][0]["code"], code);
    }

    let booked = answered(&patient, "/fhir/Appointment/$book", &held["id"]).await;
    assert_eq!(booked["resourceType"], "Bundle");
    let appointment = &booked["entry"][0]["resource"];
    assert_eq!(
        (
            appointment["status"].as_str(),
            appointment["slot"][0]["reference"].clone()
        ),
        (Some("booked"), json!(format!("Slot/{slot}")))
    );
    assert_eq!(
        app.get_hold(&patient, &hold_id).await.done().status,
        HoldStatus::Converted
    );
    assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
    // Booked again, the hold answers the same appointment.
    let again = app
        .fhir_post(&patient, "/fhir/Appointment/$book", reference(&held["id"]))
        .await;
    assert_eq!(again.body["entry"][0]["resource"]["id"], appointment["id"]);
    // The resource itself, without an id: the seat its slot names, for its Patient participant, held
    // and then booked by the hold's id.
    let another = app
        .slot_at(
            &provider,
            clinic_tests::NewSlot::at(&clinic_tests::whole_minutes_from_now(50 * 60).to_string())
                .types(&[&kind.to_string()]),
        )
        .await;
    let resource = json!({"resourceType": "Parameters", "parameter": [{"name": "appointment", "resource": {
        "resourceType": "Appointment", "status": "proposed",
        "slot": [{"reference": format!("Slot/{another}")}],
        "serviceType": [{"coding": [{"system": "urn:ietf:rfc:3986", "code": format!("urn:uuid:{kind}")}]}],
        "participant": [{"actor": {"reference": format!("Patient/{}", patient.id)}, "status": "needs-action"}]}}]});
    let held_too = loop {
        let r = app
            .fhir_post(&patient, "/fhir/Appointment/$hold", resource.clone())
            .await;
        if !(aws == Aws::Faulty && r.status == 503) {
            clinic_tests::ok(&r, 200);
            break r.body;
        }
    };
    assert_eq!(held_too["slot"][0]["reference"], format!("Slot/{another}"));
    let booked_too = answered(&patient, "/fhir/Appointment/$book", &held_too["id"]).await;
    assert_eq!(booked_too["entry"][0]["resource"]["status"], "booked");

    // Not a Parameters resource, or no reference: an OperationOutcome, nothing changed.
    for bad in [
        json!({"resourceType": "Bundle"}),
        json!({"resourceType": "Parameters"}),
    ] {
        let r = app
            .fhir_post(&patient, "/fhir/Appointment/$hold", bad)
            .await;
        assert_eq!(
            (r.status, r.body["resourceType"].as_str()),
            (400, Some("OperationOutcome"))
        );
    }
}

/// Bad input is a 400 and changes nothing; who may hold for whom.
#[tokio::test]
async fn holding_refuses_bad_input_and_other_people_s_patients() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let staff = app.staff().await;
    let slot = app.slot(&provider, 30, 2).await;
    for (who, body, status, code) in [
        (&patient, json!({}), 400, "validation_failed"),
        (
            &patient,
            json!({"slotId": "nope"}),
            400,
            "validation_failed",
        ),
        (
            &patient,
            json!({"slotId": slot, "extra": 1}),
            400,
            "validation_failed",
        ),
        (
            &patient,
            json!({"slotId": slot, "consultationType": "phone-ish"}),
            400,
            "validation_failed",
        ),
        (&staff, json!({"slotId": slot}), 400, "validation_failed"),
        (
            &patient,
            json!({"slotId": slot, "patientId": staff.id}),
            403,
            "forbidden",
        ),
        (
            &provider,
            json!({"slotId": slot, "patientId": patient.id}),
            403,
            "forbidden",
        ),
        (
            &patient,
            json!({"slotId": uuid::Uuid::new_v4()}),
            404,
            "not_found",
        ),
        (
            &patient,
            json!({"slotId": slot, "appointmentTypeId": uuid::Uuid::new_v4()}),
            404,
            "not_found",
        ),
    ] {
        let r = app.send(who, "POST", "/holds", Some(body.clone())).await;
        clinic_tests::problem(&r, status, code);
    }
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings,
        0,
        "nothing was held"
    );
    refused(
        &app.get_hold(&patient, "nope").await,
        400,
        "validation_failed",
    );
    refused(
        &app.get_hold(&patient, &uuid::Uuid::new_v4().to_string())
            .await,
        404,
        "not_found",
    );
    // A booking with a hold names nothing that differs from the hold.
    let hold = app.hold(&patient, &slot, json!({})).await.done();
    let other = app.slot(&provider, 60, 1).await;
    for body in [
        json!({"holdId": hold.id, "slotId": other}),
        json!({"holdId": hold.id, "consultationType": "phone"}),
        json!({"holdId": hold.id, "isOverbook": true}),
        json!({"holdId": "nope"}),
    ] {
        let r = app
            .send(&patient, "POST", "/appointments", Some(body))
            .await;
        clinic_tests::problem(&r, 400, "validation_failed");
    }
    assert_eq!(
        app.stored_slot(&slot).await.current_bookings,
        1,
        "only the hold"
    );
    assert_eq!(app.appointments_of_slot(&slot).await, 0);
}

/// DynamoDB requests per hold operation, counted on a stack without the stream and queue pollers: a
/// hold 3 (the slot, guard and type; the provider's rules; the transaction), its booking 3 (the hold,
/// slot and guard; the rules; the transaction; the handler's read of the hold is one GetItem more), a
/// release 2 (the hold; the transaction), a lapse 2.
#[tokio::test]
async fn hold_operations_cost_a_few_requests_each() {
    use shared::domain::{PatientId, ProviderId, SlotId, UtcTime};
    use shared::store::booking::NewBooking;
    use shared::store::holds::{HoldEnd, NewHold};
    let (_stack, store, counter) = clinic_tests::counted_store().await;
    let provider = ProviderId::new();
    let now = UtcTime::from_timestamp(jiff::Timestamp::now());
    let (first, second) = (SlotId::new(), SlotId::new());
    for (id, at) in [
        (first, "2030-05-06T15:00:00Z"),
        (second, "2030-05-07T15:00:00Z"),
    ] {
        local::put_slot(
            &store,
            &id.to_string(),
            &provider.to_string(),
            at.parse().unwrap(),
            30,
            1,
        )
        .await
        .unwrap();
    }
    counter.take();
    let patient = PatientId::new();
    let asked = |slot| NewHold {
        caller: patient.uuid(),
        slot_id: slot,
        patient_id: patient,
        appointment_type_id: None,
        consultation_type: None,
        ttl: jiff::SignedDuration::from_mins(10),
        max_holds: 3,
        max_active: 100,
    };
    let held = store.create_hold(&asked(first), now).await.unwrap();
    clinic_tests::counted(
        &counter,
        &[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("TransactWriteItems", 1),
        ],
        "a hold",
    );
    let booking = NewBooking {
        caller: patient.uuid(),
        idempotency_key: None,
        slot_id: first,
        patient_id: patient,
        consultation_type: None,
        appointment_type_id: None,
        overbook: false,
        reason_for_visit: None,
        symptoms: vec![],
        chief_complaint: None,
        max_active: 100,
        hold_id: Some(held.id),
    };
    store.book(&booking, now).await.unwrap();
    clinic_tests::counted(
        &counter,
        &[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("TransactWriteItems", 1),
        ],
        "a booking with a hold",
    );
    let other = store.create_hold(&asked(second), now).await.unwrap();
    counter.take();
    let may = |_: &shared::domain::hold::Hold| Ok(());
    store.release_hold(other.id, &may, now).await.unwrap();
    clinic_tests::counted(
        &counter,
        &[("GetItem", 1), ("TransactWriteItems", 1)],
        "a release",
    );
    let third = store.create_hold(&asked(second), now).await.unwrap();
    counter.take();
    let later = third.expires_at.plus(jiff::SignedDuration::from_secs(1));
    assert!(matches!(
        store.lapse_hold(third.id, later).await.unwrap(),
        HoldEnd::EndedNow(_)
    ));
    clinic_tests::counted(
        &counter,
        &[("GetItem", 1), ("TransactWriteItems", 1)],
        "a lapse",
    );
    assert_eq!(store.overdue_holds(later, 25).await.unwrap(), vec![]);
}
