//! A type's length against its slots (issue 22, section 3): a type that fits is booked as before; a
//! longer one takes the consecutive slots that cover it, as one appointment; where no run covers it,
//! 409 `slot_too_short`, wherever a seat would be taken (holds and series keep to one slot), and the
//! waitlist never offers a typed entry a slot too short for it.

use clinic_tests::{ok, problem, Actor, TestApp};
use serde_json::json;

async fn kind(app: &TestApp, staff: &Actor, name: &str, minutes: u32) -> String {
    let r = app
        .send(
            staff,
            "POST",
            "/appointment-types",
            Some(json!({"name": name, "durationMinutes": minutes})),
        )
        .await;
    ok(&r, 201);
    r.id()
}

async fn slot(app: &TestApp, provider: &Actor, start: &str, end: &str) -> String {
    let r = app
        .send(
            provider,
            "POST",
            "/slots",
            Some(json!({"providerId": provider.id, "startTime": start, "endTime": end})),
        )
        .await;
    ok(&r, 201);
    r.id()
}

#[tokio::test]
async fn a_type_longer_than_its_slot_is_refused_wherever_a_seat_would_be_taken() {
    let app = TestApp::spawn().await;
    let (staff, provider, patient) = (app.staff().await, app.provider().await, app.patient().await);
    let consult = kind(&app, &staff, "New patient consult", 60).await;
    let check = kind(&app, &staff, "Blood pressure check", 20).await;
    let first = slot(
        &app,
        &provider,
        "2031-03-03T09:00:00Z",
        "2031-03-03T09:20:00Z",
    )
    .await;
    let second = slot(
        &app,
        &provider,
        "2031-03-03T09:20:00Z",
        "2031-03-03T09:40:00Z",
    )
    .await;

    let long = app
        .send(
            &patient,
            "POST",
            "/appointments",
            Some(json!({"slotId": first, "appointmentTypeId": consult})),
        )
        .await;
    problem(&long, 409, "slot_too_short");
    assert!(
        long.body["detail"]
            .as_str()
            .unwrap()
            .contains("lasts 60 minutes and this slot 40"),
        "{}",
        long.body
    );
    let held = app
        .send(
            &patient,
            "POST",
            "/holds",
            Some(json!({"slotId": first, "appointmentTypeId": consult})),
        )
        .await;
    problem(&held, 409, "slot_too_short");
    let series = app
        .send(
            &patient,
            "POST",
            "/appointments/recurring",
            Some(json!({"slotId": first, "appointmentTypeId": consult, "frequency": "weekly", "count": 2})),
        )
        .await;
    assert_eq!(series.status / 100, 4, "{}", series.body);

    // A type that fits is booked as before, and moved only to a slot it fits.
    let short = app
        .send(
            &patient,
            "POST",
            "/appointments",
            Some(json!({"slotId": first, "appointmentTypeId": check})),
        )
        .await;
    ok(&short, 201);
    assert_eq!(short.body["endTime"], "2031-03-03T09:20:00Z");
    let tight = slot(
        &app,
        &provider,
        "2031-03-03T10:00:00Z",
        "2031-03-03T10:10:00Z",
    )
    .await;
    let moved = app
        .send(
            &patient,
            "POST",
            &format!("/appointments/{}/reschedule", short.id()),
            Some(json!({"newSlotId": tight})),
        )
        .await;
    problem(&moved, 409, "slot_too_short");
    let moved = app
        .send(
            &patient,
            "POST",
            &format!("/appointments/{}/reschedule", short.id()),
            Some(json!({"newSlotId": second})),
        )
        .await;
    ok(&moved, 201);
}

/// A freed 20-minute seat skips the entry that waits for a 60-minute visit (it joined first) and goes to
/// the one after it, which waits for any visit.
#[tokio::test]
async fn the_waitlist_offers_a_freed_seat_only_to_entries_whose_visit_fits() {
    let app = TestApp::spawn().await;
    let (staff, provider) = (app.staff().await, app.provider().await);
    let (booker, long_wait, any_wait) = (
        app.patient().await,
        app.patient().await,
        app.patient().await,
    );
    let consult = kind(&app, &staff, "New patient consult", 60).await;
    let seat = slot(
        &app,
        &provider,
        "2031-03-04T15:00:00Z",
        "2031-03-04T15:20:00Z",
    )
    .await;
    let booked = app
        .send(
            &booker,
            "POST",
            "/appointments",
            Some(json!({"slotId": seat})),
        )
        .await;
    ok(&booked, 201);
    let long_entry = app
        .send(
            &long_wait,
            "POST",
            "/waitlist",
            Some(json!({"providerId": provider.id, "preferredDate": "2031-03-04", "appointmentTypeId": consult})),
        )
        .await;
    ok(&long_entry, 201);
    assert_eq!(long_entry.body["visitMinutes"], 60, "{}", long_entry.body);
    let any_entry = app
        .send(
            &any_wait,
            "POST",
            "/waitlist",
            Some(json!({"providerId": provider.id, "preferredDate": "2031-03-04"})),
        )
        .await;
    ok(&any_entry, 201);
    ok(
        &app.send(
            &booker,
            "POST",
            &format!("/appointments/{}/cancel", booked.id()),
            Some(json!({"reason": "cannot come"})),
        )
        .await,
        200,
    );
    let offered = app
        .entry_when(&any_entry.id(), |e| {
            e.status == shared::domain::waitlist::EntryStatus::Offered
        })
        .await;
    assert_eq!(
        offered.offered_slot_id.map(|s| s.to_string()),
        Some(seat.clone())
    );
    let skipped = app
        .get(&format!("/waitlist/{}", long_entry.id()), &long_wait.token)
        .await;
    assert_eq!(skipped.body["status"], "waiting", "{}", skipped.body);
}

/// Three 20-minute one-seat slots of `provider` from `start` (UTC, `YYYY-MM-DDTHH:MM`), consecutive.
async fn three(app: &TestApp, provider: &Actor, day: &str, hour: u32) -> Vec<String> {
    let mut ids = vec![];
    for i in 0..3 {
        let at = |m: u32| format!("{day}T{:02}:{:02}:00Z", hour + m / 60, m % 60);
        ids.push(slot(app, provider, &at(20 * i), &at(20 * i + 20)).await);
    }
    ids
}

async fn seats_taken(app: &TestApp, ids: &[String]) -> Vec<u32> {
    let store = app.store();
    let mut out = vec![];
    for id in ids {
        let s = store
            .slots_by_id(&[id.parse().unwrap()])
            .await
            .unwrap()
            .pop()
            .unwrap();
        out.push(s.current_bookings);
    }
    out
}

/// A 60-minute type on 20-minute slots takes three in one transaction, as one appointment with its
/// `slotIds`; a rival in the middle one first makes it 409 naming that slot; rescheduling moves the
/// run; cancelling frees all three and offers each to the waitlist.
#[tokio::test]
async fn a_visit_longer_than_a_slot_takes_the_run_that_covers_it() {
    let app = TestApp::spawn().await;
    let (staff, provider) = (app.staff().await, app.provider().await);
    let (patient, rival) = (app.patient().await, app.patient().await);
    let consult = kind(&app, &staff, "New patient consult", 60).await;
    let book = |who: &Actor, slot: &str| {
        let (who, slot, consult) = (who.clone(), slot.to_owned(), consult.clone());
        let app = &app;
        async move {
            app.send(
                &who,
                "POST",
                "/appointments",
                Some(json!({"slotId": slot, "appointmentTypeId": consult})),
            )
            .await
        }
    };

    // A rival holds the middle seat of one morning: the long visit cannot start before it.
    let blocked_run = three(&app, &provider, "2031-04-07", 9).await;
    ok(
        &app.send(
            &rival,
            "POST",
            "/appointments",
            Some(json!({"slotId": blocked_run[1]})),
        )
        .await,
        201,
    );
    let refused = book(&patient, &blocked_run[0]).await;
    problem(&refused, 409, "slot_full");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains(&blocked_run[1]),
        "names the slot: {}",
        refused.body
    );
    assert_eq!(
        seats_taken(&app, &blocked_run).await,
        [0, 1, 0],
        "nothing taken"
    );

    // Another morning is free: three slots, one appointment.
    let run = three(&app, &provider, "2031-04-08", 9).await;
    let booked = book(&patient, &run[0]).await;
    ok(&booked, 201);
    assert_eq!(
        (
            booked.body["slotId"].as_str(),
            booked.body["endTime"].as_str(),
            booked.body["slotIds"].clone()
        ),
        (
            Some(run[0].as_str()),
            Some("2031-04-08T10:00:00Z"),
            json!(run)
        ),
        "{}",
        booked.body
    );
    assert_eq!(seats_taken(&app, &run).await, [1, 1, 1]);
    // As FHIR: one R4 Appointment naming its three slots (validated by tests/python/fhir_check.py).
    let fhir = app
        .fhir(&patient, &format!("/fhir/Appointment/{}", booked.id()))
        .await;
    ok(&fhir, 200);
    let slots: Vec<String> = run.iter().map(|s| format!("Slot/{s}")).collect();
    assert_eq!(
        fhir.body["slot"],
        json!(slots
            .iter()
            .map(|s| json!({"reference": s}))
            .collect::<Vec<_>>()),
        "{}",
        fhir.body
    );

    // Moved to the afternoon: the new run taken, the old freed, in one transaction.
    let later = three(&app, &provider, "2031-04-08", 14).await;
    let moved = app
        .send(
            &patient,
            "POST",
            &format!("/appointments/{}/reschedule", booked.id()),
            Some(json!({"newSlotId": later[0]})),
        )
        .await;
    ok(&moved, 201);
    assert_eq!(moved.body["slotIds"], json!(later), "{}", moved.body);
    assert_eq!(seats_taken(&app, &run).await, [0, 0, 0]);
    assert_eq!(seats_taken(&app, &later).await, [1, 1, 1]);

    // Three patients wait for that day; cancelling frees the three seats, each offered.
    let mut entries = vec![];
    for _ in 0..3 {
        let waiter = app.patient().await;
        let e = app
            .send(
                &waiter,
                "POST",
                "/waitlist",
                Some(
                    json!({"providerId": provider.id, "preferredDate": "2031-04-08",
                    "preferredTimeSlots": [{"start": "14:00", "end": "15:00"}]}),
                ),
            )
            .await;
        ok(&e, 201);
        entries.push(e.id());
    }
    ok(
        &app.send(
            &patient,
            "POST",
            &format!("/appointments/{}/cancel", moved.id()),
            Some(json!({"reason": "feeling better"})),
        )
        .await,
        200,
    );
    let mut offered = vec![];
    for e in &entries {
        let entry = app
            .entry_when(e, |e| {
                e.status == shared::domain::waitlist::EntryStatus::Offered
            })
            .await;
        offered.push(entry.offered_slot_id.unwrap().to_string());
    }
    offered.sort();
    let mut want = later.clone();
    want.sort();
    assert_eq!(offered, want, "each freed seat offered once");
}

/// Booking a run costs one Query more than booking one slot: the batch read, the provider's rules, the
/// slots after the first, one transaction; cancelling it stays two requests.
#[tokio::test]
async fn a_run_costs_one_query_more() {
    use shared::domain::{AppointmentType, PatientId, ProviderId, SlotId, UtcTime};
    use shared::store::booking::{Booked, NewBooking};
    let (_stack, store, counter) = clinic_tests::counted_store().await;
    let now = UtcTime::from_timestamp(jiff::Timestamp::now());
    let provider = ProviderId::new();
    let ids: Vec<SlotId> = (0..3).map(|_| SlotId::new()).collect();
    for (i, id) in ids.iter().enumerate() {
        let start: UtcTime = format!("2031-05-05T09:{:02}:00Z", 20 * i).parse().unwrap();
        local::put_slot(&store, &id.to_string(), &provider.to_string(), start, 20, 1)
            .await
            .unwrap();
    }
    let kind = AppointmentType::new(
        "New patient consult",
        60,
        vec![shared::domain::ConsultationType::InPerson],
        now,
    );
    store.put_type(&kind).await.unwrap();
    counter.take();
    let patient = PatientId::new();
    let booking = NewBooking {
        caller: patient.uuid(),
        idempotency_key: None,
        slot_id: ids[0],
        patient_id: patient,
        consultation_type: None,
        appointment_type_id: Some(kind.id),
        overbook: false,
        reason_for_visit: None,
        symptoms: vec![],
        chief_complaint: None,
        max_active: 100,
        hold_id: None,
    };
    let Booked::New(a) = store.book(&booking, now).await.unwrap() else {
        panic!("a new booking");
    };
    assert_eq!(a.slot_ids, ids);
    clinic_tests::counted(
        &counter,
        &[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("Query", 1),
            ("TransactWriteItems", 1),
        ],
        "a run",
    );
    let by = shared::domain::Caller {
        id: patient.uuid(),
        roles: vec![shared::domain::Role::Patient],
    };
    store
        .cancel(
            a.id,
            &by,
            "changed plans",
            jiff::SignedDuration::from_hours(24),
            Default::default(),
            now,
        )
        .await
        .unwrap();
    clinic_tests::counted(
        &counter,
        &[("GetItem", 1), ("TransactWriteItems", 1)],
        "its cancellation",
    );
}
