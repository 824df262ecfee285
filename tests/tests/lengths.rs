//! A type's length against its slots (issue 22, section 3): a type that fits is booked as before; a
//! longer one takes the consecutive slots that cover it, as one appointment; where no run covers it,
//! 409 `slot_too_short`, wherever a seat would be taken; a series takes a run each occurrence; a hold keeps a seat of each slot of the run
//! and gives them back together; and the waitlist never offers a typed entry a slot too short for it.

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

/// `who` cancels appointment `id` (200).
async fn cancel(app: &TestApp, who: &Actor, id: &str) {
    let r = app
        .send(
            who,
            "POST",
            &format!("/appointments/{id}/cancel"),
            Some(json!({"reason": "cannot come"})),
        )
        .await;
    ok(&r, 200);
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
    assert_eq!(series.status, 409, "{}", series.body);
    assert!(
        series.body.to_string().contains("slot_too_short"),
        "the occurrence's reason: {}",
        series.body
    );

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

/// A freed lone 20-minute seat skips the entry that waits for a 60-minute visit (it joined first) and
/// goes to the one after it, which waits for any visit; a freed seat that starts a free run of three is
/// offered to the long entry as the run, and accepting it books the three.
#[tokio::test]
async fn the_waitlist_offers_a_long_visit_a_run_and_a_short_seat_to_whom_it_fits() {
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
    cancel(&app, &booker, &booked.id()).await;
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

    // A freed seat that starts a free run covering the visit: the long entry is offered the run (a
    // seat of each slot held), and accepting books the three as one appointment.
    // The run's first slot is booked as soon as it exists, before the two after it are made: a run
    // that opens whole and free is offered to the long entry on opening (the worker's slot-opened
    // job), which raced the booking (a second `make test` met slot_full when the job came first).
    // Made this way, the run is never whole and free until the booking is cancelled.
    let at = |m: u32| format!("2031-03-04T{:02}:{:02}:00Z", 16 + m / 60, m % 60);
    let mut run = vec![slot(&app, &provider, &at(0), &at(20)).await];
    let first = app
        .send(
            &booker,
            "POST",
            "/appointments",
            Some(json!({"slotId": run[0]})),
        )
        .await;
    ok(&first, 201);
    for i in 1..3 {
        run.push(slot(&app, &provider, &at(20 * i), &at(20 * i + 20)).await);
    }
    cancel(&app, &booker, &first.id()).await;
    let offered = app
        .entry_when(&long_entry.id(), |e| {
            e.status == shared::domain::waitlist::EntryStatus::Offered
        })
        .await;
    let ids: Vec<String> = offered
        .offered_slot_ids
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ids, run, "the run offered");
    assert_eq!(
        seats_taken(&app, &run).await,
        [1, 1, 1],
        "held for the offer"
    );
    let accepted = app
        .send(
            &long_wait,
            "POST",
            &format!("/waitlist/{}/accept", long_entry.id()),
            Some(json!({})),
        )
        .await;
    ok(&accepted, 201);
    let booked = &accepted.body;
    assert_eq!(
        (booked["slotIds"].clone(), booked["endTime"].as_str()),
        (json!(run), Some("2031-03-04T17:00:00Z")),
        "{}",
        accepted.body
    );
    assert_eq!(
        seats_taken(&app, &run).await,
        [1, 1, 1],
        "the offer's seats, kept"
    );
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

/// Three patients who join `provider`'s waitlist for `day` (any visit, `body` added): their entries.
async fn three_waiting(
    app: &TestApp,
    provider: &Actor,
    day: &str,
    body: serde_json::Value,
) -> Vec<String> {
    let mut entries = vec![];
    for _ in 0..3 {
        let waiter = app.patient().await;
        let mut asked = json!({"providerId": provider.id, "preferredDate": day});
        if let (Some(a), Some(more)) = (asked.as_object_mut(), body.as_object()) {
            a.extend(more.clone());
        }
        let e = app.send(&waiter, "POST", "/waitlist", Some(asked)).await;
        ok(&e, 201);
        entries.push(e.id());
    }
    entries
}

/// Waits until each of `entries` is offered a seat, and asserts that they were offered `seats`, each once.
async fn each_offered_once(app: &TestApp, entries: &[String], seats: &[String]) {
    let mut offered = vec![];
    for e in entries {
        let entry = app
            .entry_when(e, |e| {
                e.status == shared::domain::waitlist::EntryStatus::Offered
            })
            .await;
        offered.push(entry.offered_slot_id.unwrap().to_string());
    }
    offered.sort();
    let mut want = seats.to_vec();
    want.sort();
    assert_eq!(offered, want, "each freed seat offered once");
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

    // The provider's day lists the visit under each of its three slots.
    let day = app
        .send(
            &provider,
            "GET",
            &format!(
                "/providers/{}/schedule?date=2031-04-08&timeZone=UTC",
                provider.id
            ),
            None,
        )
        .await;
    ok(&day, 200);
    let listed: Vec<serde_json::Value> = day.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["bookings"][0]["appointmentId"].clone())
        .collect();
    assert_eq!(listed, vec![json!(booked.id()); 3], "{}", day.body);

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
    let entries = three_waiting(
        &app,
        &provider,
        "2031-04-08",
        json!({"preferredTimeSlots": [{"start": "14:00", "end": "15:00"}]}),
    )
    .await;
    cancel(&app, &patient, &moved.id()).await;
    each_offered_once(&app, &entries, &later).await;
}

/// A hold of a 60-minute type on 20-minute slots keeps a seat of each of the three (nobody else books
/// the middle one), its booking takes them over as one appointment; a hold released gives all three
/// back, each offered to the waitlist.
#[tokio::test]
async fn a_hold_of_a_long_visit_keeps_its_whole_run() {
    let app = TestApp::spawn().await;
    let (staff, provider) = (app.staff().await, app.provider().await);
    let (patient, rival) = (app.patient().await, app.patient().await);
    let consult = kind(&app, &staff, "New patient consult", 60).await;
    let hold = |slot: &str| {
        let body = json!({"slotId": slot, "appointmentTypeId": consult});
        let (app, patient) = (&app, patient.clone());
        async move { app.send(&patient, "POST", "/holds", Some(body)).await }
    };

    let run = three(&app, &provider, "2031-04-09", 9).await;
    let held = hold(&run[0]).await;
    ok(&held, 201);
    assert_eq!(
        (held.body["slotIds"].clone(), held.body["endTime"].as_str()),
        (json!(run), Some("2031-04-09T10:00:00Z")),
        "{}",
        held.body
    );
    assert_eq!(seats_taken(&app, &run).await, [1, 1, 1]);
    let middle = app
        .send(
            &rival,
            "POST",
            "/appointments",
            Some(json!({"slotId": run[1]})),
        )
        .await;
    problem(&middle, 409, "slot_full");
    // As FHIR, the held Appointment names its three slots.
    let fhir = app
        .fhir(&patient, &format!("/fhir/Appointment/{}", held.id()))
        .await;
    ok(&fhir, 200);
    assert_eq!(
        fhir.body["slot"].as_array().map(Vec::len),
        Some(3),
        "{}",
        fhir.body
    );
    let booked = app
        .send(
            &patient,
            "POST",
            "/appointments",
            Some(json!({"holdId": held.id()})),
        )
        .await;
    ok(&booked, 201);
    assert_eq!(
        (
            booked.body["slotIds"].clone(),
            booked.body["endTime"].as_str()
        ),
        (json!(run), Some("2031-04-09T10:00:00Z")),
        "{}",
        booked.body
    );
    assert_eq!(
        seats_taken(&app, &run).await,
        [1, 1, 1],
        "the held seats, kept"
    );
    let slots = app
        .store()
        .slots_by_id(&[run[1].parse().unwrap()])
        .await
        .unwrap();
    assert!(slots[0].held_for.is_empty(), "no hold left on the run");

    // Held and released: three seats back, each offered once.
    let other = three(&app, &provider, "2031-04-10", 9).await;
    let held = hold(&other[0]).await;
    ok(&held, 201);
    let entries = three_waiting(&app, &provider, "2031-04-10", json!({})).await;
    ok(
        &app.send(&patient, "DELETE", &format!("/holds/{}", held.id()), None)
            .await,
        200,
    );
    each_offered_once(&app, &entries, &other).await;
}

/// Search and FHIR `$find` for a 60-minute type offer the start of a run of three 20-minute slots (with
/// its `slotIds` and the run's end), not its later slots (no run covers them) nor a lone slot; `$hold`
/// and `$book` of that proposal take the whole run.
#[tokio::test]
async fn search_and_find_offer_the_starts_of_runs_that_cover_a_long_visit() {
    let app = TestApp::spawn().await;
    let (staff, provider, patient) = (app.staff().await, app.provider().await, app.patient().await);
    ok(
        &app.put_profile(
            &provider,
            &provider,
            json!({"displayName": "Dr. Ada Lind", "acceptingNewPatients": true}),
            None,
        )
        .await,
        200,
    );
    let consult = kind(&app, &staff, "New patient consult", 60).await;
    // One "now" for every time of the test: a minute that turns between two readings of the clock
    // would move the run's end.
    let base = clinic_tests::whole_minutes_from_now(0);
    let at = |m: i64| base.plus(jiff::SignedDuration::from_mins(m)).to_string();
    let mut run = vec![];
    for i in 0..3 {
        let s = app
            .slot_at(
                &provider,
                clinic_tests::NewSlot::at(&at(180 + 20 * i)).minutes(20),
            )
            .await;
        run.push(s);
    }
    let lone = app
        .slot_at(&provider, clinic_tests::NewSlot::at(&at(400)).minutes(20))
        .await;
    let query = format!(
        "/slots/search?appointmentTypeId={consult}&providerId={}",
        provider.id
    );
    // The index follows the stream: ask until the lone slot is in it (it was made last), then once more.
    let mut found = serde_json::Value::Null;
    for _ in 0..100 {
        let any = app
            .send(
                &patient,
                "GET",
                &format!("/slots/search?providerId={}", provider.id),
                None,
            )
            .await;
        ok(&any, 200);
        if any.body["data"].as_array().map(Vec::len) == Some(4) {
            let r = app.send(&patient, "GET", &query, None).await;
            ok(&r, 200);
            found = r.body["data"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let hits = found.as_array().expect("the search answered");
    assert_eq!(hits.len(), 1, "only the run's start: {found}");
    let end = at(240);
    assert_eq!(
        (
            hits[0]["slot"]["id"].as_str(),
            hits[0]["slot"]["slotIds"].clone(),
            hits[0]["slot"]["endTime"].as_str()
        ),
        (Some(run[0].as_str()), json!(run), Some(end.as_str())),
        "{found}"
    );
    assert_ne!(hits[0]["slot"]["id"], json!(lone));

    // FHIR: the proposal names the three slots; held and booked, it takes them.
    let find = format!(
        "/fhir/Appointment/$find?service-type=urn:uuid:{consult}&practitioner=Practitioner/{}",
        provider.id
    );
    let proposals = app.fhir(&patient, &find).await;
    ok(&proposals, 200);
    let proposed = proposals.body["entry"][0]["resource"].clone();
    let refs: Vec<serde_json::Value> = run
        .iter()
        .map(|s| json!({"reference": format!("Slot/{s}")}))
        .collect();
    assert_eq!(proposed["slot"], json!(refs), "{proposed}");
    assert_eq!(proposed["end"].as_str(), Some(end.as_str()));
    let reference = |id: &serde_json::Value| {
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "appointment-reference", "valueReference": {"reference": format!("Appointment/{}", id.as_str().unwrap())}}
        ]})
    };
    let held = app
        .fhir_post(
            &patient,
            "/fhir/Appointment/$hold",
            reference(&proposed["id"]),
        )
        .await;
    ok(&held, 200);
    assert_eq!(held.body["slot"], json!(refs), "{}", held.body);
    assert_eq!(seats_taken(&app, &run).await, [1, 1, 1]);
    let booked = app
        .fhir_post(
            &patient,
            "/fhir/Appointment/$book",
            reference(&held.body["id"]),
        )
        .await;
    ok(&booked, 200);
    let appointment = &booked.body["entry"][0]["resource"];
    assert_eq!(
        (appointment["status"].as_str(), appointment["slot"].clone()),
        (Some("booked"), json!(refs)),
        "{}",
        booked.body
    );
    assert_eq!(seats_taken(&app, &run).await, [1, 1, 1]);
}

/// A weekly series of a 60-minute type on 20-minute slots takes a run of three each week, in one
/// transaction; cancelling the series gives all six seats back. A week whose run is broken is skipped
/// as `slot_too_short` (with `partial`) or refuses the series.
#[tokio::test]
async fn a_series_of_a_long_visit_takes_a_run_each_occurrence() {
    let app = TestApp::spawn().await;
    let (staff, provider, patient) = (app.staff().await, app.provider().await, app.patient().await);
    let consult = kind(&app, &staff, "New patient consult", 60).await;
    let week1 = three(&app, &provider, "2031-06-02", 9).await;
    let week2 = three(&app, &provider, "2031-06-09", 9).await;
    // The third week has two slots only: no run covers the visit.
    let week3 = vec![
        slot(
            &app,
            &provider,
            "2031-06-16T09:00:00Z",
            "2031-06-16T09:20:00Z",
        )
        .await,
        slot(
            &app,
            &provider,
            "2031-06-16T09:20:00Z",
            "2031-06-16T09:40:00Z",
        )
        .await,
    ];
    let series = |count: u32, partial: bool| {
        let body = json!({"slotId": week1[0], "appointmentTypeId": consult, "frequency": "weekly",
                          "count": count, "partial": partial});
        let (app, patient) = (&app, patient.clone());
        async move {
            app.send(&patient, "POST", "/appointments/recurring", Some(body))
                .await
        }
    };
    let refused = series(3, false).await;
    problem(&refused, 409, "series_unavailable");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("2031-06-16 (slot_too_short)"),
        "{}",
        refused.body
    );
    assert_eq!(seats_taken(&app, &week1).await, [0, 0, 0], "nothing booked");

    let booked = series(3, true).await;
    ok(&booked, 201);
    let runs: Vec<serde_json::Value> = booked.body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slotIds"].clone())
        .collect();
    assert_eq!(runs, [json!(week1), json!(week2)], "{}", booked.body);
    assert_eq!(booked.body["skipped"][0]["reason"], "slot_too_short");
    assert_eq!(seats_taken(&app, &week1).await, [1, 1, 1]);
    assert_eq!(seats_taken(&app, &week2).await, [1, 1, 1]);
    assert_eq!(seats_taken(&app, &week3).await, [0, 0]);

    ok(
        &app.send(
            &patient,
            "POST",
            &format!("/recurring/{}/cancel", booked.id()),
            Some(json!({"reason": "moving away"})),
        )
        .await,
        200,
    );
    assert_eq!(seats_taken(&app, &week1).await, [0, 0, 0]);
    assert_eq!(seats_taken(&app, &week2).await, [0, 0, 0]);
}

/// Booking a run costs one Query more than booking one slot: the batch read, the provider's rules, the
/// slots after the first, one transaction; cancelling it stays two requests; holding it costs the same
/// Query more than a hold, and booking with that hold no more than booking one held seat.
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

    // A hold of the run: the batch read, the slots after the first, the provider's rules, one
    // transaction; booking with it reads only the hold more (its run is named there).
    let held = store
        .create_hold(
            &shared::store::holds::NewHold {
                caller: patient.uuid(),
                slot_id: ids[0],
                patient_id: patient,
                appointment_type_id: Some(kind.id),
                consultation_type: None,
                ttl: jiff::SignedDuration::from_mins(10),
                max_holds: 3,
                max_active: 100,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(held.slot_ids, ids);
    clinic_tests::counted(
        &counter,
        &[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("Query", 1),
            ("TransactWriteItems", 1),
        ],
        "a hold of a run",
    );
    let with_hold = NewBooking {
        hold_id: Some(held.id),
        appointment_type_id: Some(kind.id),
        ..booking
    };
    let Booked::New(b) = store.book(&with_hold, now).await.unwrap() else {
        panic!("a new booking");
    };
    assert_eq!(b.slot_ids, ids);
    clinic_tests::counted(
        &counter,
        &[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("TransactWriteItems", 1),
        ],
        "booking the held run",
    );
}
