//! A clinic's day: check-in, start, complete, no-show, PATCH, reschedule, lists and the no-show report,
//! with the handlers' clock set by the test.

use aws_sdk_dynamodb::types::AttributeValue;
use clinic_tests::{ok, problem, Actor, TestApp};
use serde_json::{json, Value};

const EARLY: &str = "2027-06-01T07:00:00Z";

async fn booked(
    app: &TestApp,
    provider: &Actor,
    patient: &Actor,
    start: &str,
    video: bool,
) -> String {
    let slot = app.slot_at(provider, start, 30, 1).await;
    let kind = if video { "video" } else { "in_person" };
    let r = app
        .post(
            "/appointments",
            &patient.token,
            json!({"slotId": slot, "consultationType": kind}),
        )
        .await;
    ok(&r, 201);
    r.id()
}

#[tokio::test]
async fn a_video_visit_from_check_in_to_completion() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient, staff) = (app.provider().await, app.patient().await, app.staff().await);
    let id = booked(&app, &provider, &patient, "2027-06-01T09:00:00Z", true).await;
    app.set_appointment_attribute(&id, "consultationFee", AttributeValue::N("80".into()))
        .await;

    app.travel_to("2027-06-01T08:00:00Z");
    problem(
        &app.act(&patient, &id, "check-in", None).await,
        422,
        "check_in_window",
    );
    app.travel_to("2027-06-01T08:45:00Z");
    app.counter.take();
    let checked_in = app.act(&patient, &id, "check-in", None).await;
    ok(&checked_in, 200);
    assert_eq!(
        app.counter.take(),
        [("UpdateItem".to_owned(), 1)].into(),
        "check-in is one request"
    );
    assert_eq!(
        (
            checked_in.body["status"].as_str(),
            checked_in.body["checkInTime"].as_str()
        ),
        (Some("confirmed"), Some("2027-06-01T08:45:00Z"))
    );

    problem(
        &app.act(&patient, &id, "start", None).await,
        403,
        "forbidden",
    );
    app.travel_to("2027-06-01T09:05:00Z");
    let started = app.act(&provider, &id, "start", None).await;
    ok(&started, 200);
    assert_eq!(
        app.counter.take().values().sum::<u32>(),
        2,
        "start reads once for the wait time"
    );
    assert_eq!(started.body["waitTime"], 20);
    assert_eq!(started.body["actualStartTime"], "2027-06-01T09:05:00Z");
    let room = started.body["videoRoomUrl"].as_str().unwrap();
    assert!(
        room.starts_with("https://video.clinic.invalid/rooms/")
            && room.ends_with(started.body["videoRoomId"].as_str().unwrap())
    );

    problem(
        &app.act(&staff, &id, "complete", Some(json!({}))).await,
        403,
        "forbidden",
    );
    let bad = app
        .act(
            &provider,
            &id,
            "complete",
            Some(json!({"vitals": {"bloodPressure": "80/120", "temperature": 370}})),
        )
        .await;
    problem(&bad, 400, "validation_failed");
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["vitals.bloodPressure", "vitals.temperature"]);
    problem(
        &app.act(
            &provider,
            &id,
            "complete",
            Some(json!({"vitals": {"pulse": 60}})),
        )
        .await,
        400,
        "validation_failed",
    );
    problem(
        &app.act(
            &provider,
            &id,
            "complete",
            Some(json!({"followUpDate": "2027-05-01", "followUpRequired": true})),
        )
        .await,
        400,
        "validation_failed",
    );

    app.travel_to("2027-06-01T09:31:00Z");
    app.counter.take();
    let done = app
        .act(
            &provider,
            &id,
            "complete",
            Some(json!({
                "notes": "Stable; continue medication.", "privateNotes": "Possible white-coat effect.",
                "vitals": {"bloodPressure": "128/82", "heartRate": 71, "temperature": 36.7},
                "followUpRequired": true, "followUpDate": "2027-09-01", "followUpNotes": "Repeat labs"
            })),
        )
        .await;
    ok(&done, 200);
    assert_eq!(
        app.counter.take(),
        [("UpdateItem".to_owned(), 1)].into(),
        "complete is one request"
    );
    assert_eq!(done.body["status"], "completed");
    assert_eq!(done.body["actualEndTime"], "2027-06-01T09:31:00Z");
    assert_eq!(done.body["vitals"]["heartRate"], 71);
    assert_eq!(done.body["privateNotes"], "Possible white-coat effect.");
    problem(
        &app.act(&provider, &id, "complete", Some(json!({}))).await,
        409,
        "invalid_transition",
    );

    assert!(app
        .get_appointment(&patient, &id)
        .await
        .body
        .get("privateNotes")
        .is_none());
    assert!(app
        .get_appointment(&staff, &id)
        .await
        .body
        .get("privateNotes")
        .is_none());
    let history = app.get("/appointments/history", &patient.token).await;
    assert_eq!(history.body["data"][0]["id"], json!(id));
    assert!(
        history.body["data"][0].get("privateNotes").is_none(),
        "lists hide private notes too"
    );

    let events = app
        .wait_for_kinds(
            &id,
            &[
                "appointment.created",
                "appointment.updated",
                "appointment.checked_in",
                "appointment.started",
                "appointment.completed",
                "payment.requested",
                "appointment.follow_up_requested",
            ],
        )
        .await;
    let text = serde_json::to_string(&events).unwrap();
    for secret in ["white-coat", "medication", "Repeat labs", "128/82"] {
        assert!(!text.contains(secret), "{secret} leaked into events");
    }
    let payment = events
        .iter()
        .find(|e| e["detail-type"] == "payment.requested")
        .unwrap();
    assert_eq!(payment["detail"]["amount"], 80.0);
    let started = events
        .iter()
        .find(|e| e["detail-type"] == "appointment.started")
        .unwrap();
    assert_eq!(started["detail"]["videoRoomUrl"], json!(room));
}

#[tokio::test]
async fn a_no_show_is_recorded_only_after_the_end_and_reported() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient, other) = (
        app.provider().await,
        app.patient().await,
        app.patient().await,
    );
    let missed = booked(&app, &provider, &patient, "2027-06-01T09:00:00Z", false).await;
    let kept = booked(&app, &provider, &other, "2027-06-01T10:00:00Z", false).await;
    let cancelled = booked(&app, &provider, &other, "2027-06-01T11:00:00Z", false).await;
    ok(&app.cancel(&other, &cancelled, "sick").await, 200);

    app.travel_to("2027-06-01T09:10:00Z");
    problem(
        &app.act(&provider, &missed, "no-show", None).await,
        422,
        "appointment_not_over",
    );
    problem(
        &app.act(&patient, &missed, "no-show", None).await,
        403,
        "forbidden",
    );
    app.travel_to("2027-06-01T09:30:00Z");
    app.counter.take();
    ok(&app.act(&provider, &missed, "no-show", None).await, 200);
    assert_eq!(app.counter.take().values().sum::<u32>(), 1);
    problem(
        &app.act(&provider, &missed, "no-show", None).await,
        409,
        "invalid_transition",
    );
    problem(
        &app.act(&patient, &missed, "check-in", None).await,
        409,
        "invalid_transition",
    );

    app.travel_to("2027-06-01T09:55:00Z");
    ok(&app.act(&other, &kept, "check-in", None).await, 200);

    let path = format!(
        "/appointments/reports/no-shows?providerId={}&startDate=2027-06-01&endDate=2027-06-01",
        provider.id
    );
    let report = app.get(&path, &provider.token).await;
    ok(&report, 200);
    assert_eq!(
        (
            report.body["totalAppointments"].as_u64(),
            report.body["noShows"].as_u64()
        ),
        (Some(2), Some(1)),
        "{}",
        report.body
    );
    assert_eq!(report.body["noShowRate"], 0.5);
    assert_eq!(
        report.body["byPatient"][0],
        json!({"patientId": patient.id, "appointments": 1, "noShows": 1})
    );
    problem(
        &app.get(&path, &app.provider().await.token).await,
        403,
        "forbidden",
    );
    problem(&app.get(&path, &patient.token).await, 403, "forbidden");
    ok(&app.get(&path, &app.staff().await.token).await, 200);
    let backwards = format!(
        "/appointments/reports/no-shows?providerId={}&startDate=2027-06-02&endDate=2027-06-01",
        provider.id
    );
    problem(
        &app.get(&backwards, &provider.token).await,
        400,
        "validation_failed",
    );
}

#[tokio::test]
async fn patch_follows_the_transition_table_and_guards_notes() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let slot_start = "2027-06-01T09:00:00Z";
    let id = booked(&app, &provider, &patient, slot_start, false).await;

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
    let updates: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "appointment.updated")
        .collect();
    assert_eq!(updates.len(), 2, "{events:#?}");
    assert_eq!(updates[0]["detail"]["changedFields"], json!(["notes"]));
    assert_eq!(
        updates[1]["detail"]["changedFields"],
        json!(["consultationType"])
    );
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains("lab results"));
}

#[tokio::test]
async fn rescheduling_moves_the_seat_and_the_patients_time_in_one_step() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let old = booked(&app, &provider, &patient, "2027-06-01T09:00:00Z", false).await;
    let old_slot = app.get_appointment(&patient, &old).await.body["slotId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Overlaps only the old time: allowed, since that time is being given up.
    let target = app
        .slot_at(&app.provider().await, "2027-06-01T09:15:00Z", 30, 2)
        .await;

    app.counter.take();
    let moved = app
        .post(
            &format!("/appointments/{old}/reschedule"),
            &patient.token,
            json!({"newSlotId": target, "reason": "earlier bus"}),
        )
        .await;
    ok(&moved, 201);
    let counts = app.counter.take();
    assert_eq!(counts.values().sum::<u32>(), 3, "{counts:?}");
    let new = moved.id();
    assert_eq!(
        (
            moved.body["rescheduledFrom"].as_str(),
            moved.body["previousAppointmentId"].as_str()
        ),
        (Some(old.as_str()), Some(old.as_str()))
    );
    let before = app.get_appointment(&patient, &old).await;
    assert_eq!(
        (
            before.body["status"].as_str(),
            before.body["rescheduledTo"].as_str()
        ),
        (Some("rescheduled"), Some(new.as_str()))
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
        .slot_at(&app.provider().await, "2027-06-01T09:20:00Z", 30, 1)
        .await;
    problem(
        &app.book(&patient, &same_time_as_new).await,
        409,
        "patient_conflict",
    );
    let full = app
        .slot_at(&app.provider().await, "2027-06-01T13:00:00Z", 30, 1)
        .await;
    ok(&app.book(&app.patient().await, &full).await, 201);
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
async fn lists_show_each_caller_their_own_one_query_per_page() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient, other_patient, staff) = (
        app.provider().await,
        app.patient().await,
        app.patient().await,
        app.staff().await,
    );
    let mut mine = vec![];
    for h in 0..5 {
        mine.push(
            booked(
                &app,
                &provider,
                &patient,
                &format!("2027-06-0{}T09:00:00Z", h + 2),
                false,
            )
            .await,
        );
    }
    let theirs = booked(
        &app,
        &provider,
        &other_patient,
        "2027-06-02T11:00:00Z",
        false,
    )
    .await;
    ok(&app.cancel(&patient, &mine[4], "moving").await, 200);

    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/appointments?limit=2&cursor={c}"),
            None => "/appointments?limit=2".to_owned(),
        };
        app.counter.take();
        let page = app.get(&path, &patient.token).await;
        ok(&page, 200);
        assert_eq!(
            app.counter.take(),
            [("Query".to_owned(), 1)].into(),
            "one Query per page"
        );
        seen.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, mine, "the patient's own, soonest first, each once");

    let scheduled = app
        .get(
            "/appointments?status=scheduled&startDate=2027-06-03&endDate=2027-06-05",
            &patient.token,
        )
        .await;
    assert_eq!(scheduled.body["data"].as_array().unwrap().len(), 3);
    problem(
        &app.get("/appointments?status=lost", &patient.token).await,
        400,
        "validation_failed",
    );
    problem(
        &app.get(
            &format!("/appointments?patientId={}", other_patient.id),
            &patient.token,
        )
        .await,
        403,
        "forbidden",
    );
    problem(
        &app.get(
            &format!("/appointments?providerId={}", app.provider().await.id),
            &provider.token,
        )
        .await,
        403,
        "forbidden",
    );
    problem(
        &app.get("/appointments", &staff.token).await,
        400,
        "validation_failed",
    );

    let for_provider = app
        .get(
            &format!("/appointments?patientId={}", other_patient.id),
            &provider.token,
        )
        .await;
    assert_eq!(
        for_provider.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [theirs.as_str()]
    );
    let by_staff = app
        .get(
            &format!("/appointments?providerId={}&limit=100", provider.id),
            &staff.token,
        )
        .await;
    assert_eq!(by_staff.body["data"].as_array().unwrap().len(), 6);

    // A cursor of the patient's list does not open another patient's.
    let first = app.get("/appointments?limit=1", &patient.token).await;
    let c = first.body["nextCursor"].as_str().unwrap();
    problem(
        &app.get(&format!("/appointments?cursor={c}"), &other_patient.token)
            .await,
        400,
        "validation_failed",
    );
    problem(
        &app.get(
            &format!("/appointments?patientId={}&cursor={c}", other_patient.id),
            &staff.token,
        )
        .await,
        400,
        "validation_failed",
    );

    let upcoming = app.get("/appointments/upcoming", &patient.token).await;
    let ids: Vec<&str> = upcoming.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        mine[..4].iter().map(String::as_str).collect::<Vec<_>>(),
        "cancelled ones are not upcoming"
    );
    app.travel_to("2027-06-03T12:00:00Z");
    let later = app.get("/appointments/upcoming", &patient.token).await;
    assert_eq!(
        later.body["data"].as_array().unwrap().len(),
        2,
        "past ones are not upcoming"
    );
}

/// Every endpoint for every role: (patient, other patient, provider, other provider, staff, admin, no token).
#[tokio::test]
async fn every_endpoint_answers_every_role_as_the_design_says() {
    let app = TestApp::spawn_at(EARLY).await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let cast = [
        patient.clone(),
        app.patient().await,
        provider.clone(),
        app.provider().await,
        app.staff().await,
        app.admin().await,
    ];
    // (endpoint, expected statuses, what happens first, when it is tried)
    let table: [(&str, [u16; 7], &[&str], &str); 8] = [
        ("get", [200, 404, 200, 404, 200, 200, 401], &[], "08:00"),
        ("cancel", [200, 404, 200, 404, 200, 200, 401], &[], "08:00"),
        (
            "check-in",
            [200, 404, 200, 404, 200, 200, 401],
            &[],
            "08:50",
        ),
        (
            "start",
            [403, 403, 200, 404, 200, 200, 401],
            &["check-in"],
            "09:00",
        ),
        (
            "complete",
            [403, 403, 200, 404, 403, 200, 401],
            &["check-in", "start"],
            "09:20",
        ),
        ("no-show", [403, 403, 200, 404, 200, 200, 401], &[], "09:40"),
        (
            "reschedule",
            [201, 404, 201, 404, 201, 201, 401],
            &[],
            "08:00",
        ),
        ("notes", [403, 403, 200, 404, 403, 200, 401], &[], "08:00"),
    ];
    let admin = &cast[5];
    let mut day = 1;
    for (endpoint, expected, setup, at) in table {
        for (who, want) in expected.iter().enumerate() {
            day += 1;
            let date = jiff::civil::date(2027, 7, 1)
                .checked_add(jiff::Span::new().days(day))
                .unwrap();
            app.travel_to(EARLY);
            let id = booked(
                &app,
                &provider,
                &patient,
                &format!("{date}T09:00:00Z"),
                false,
            )
            .await;
            let target = app
                .slot_at(&provider, &format!("{date}T12:00:00Z"), 30, 1)
                .await;
            for (step, time) in setup.iter().zip(["08:50", "09:00"]) {
                app.travel_to(&format!("{date}T{time}:00Z"));
                ok(&app.act(admin, &id, step, None).await, 200);
            }
            app.travel_to(&format!("{date}T{at}:00Z"));
            let token = cast.get(who).map(|a| a.token.as_str());
            let (method, path, body) = match endpoint {
                "get" => ("GET", format!("/appointments/{id}"), None),
                "cancel" => (
                    "POST",
                    format!("/appointments/{id}/cancel"),
                    Some(json!({"reason": "r"})),
                ),
                "reschedule" => (
                    "POST",
                    format!("/appointments/{id}/reschedule"),
                    Some(json!({"newSlotId": target})),
                ),
                "notes" => (
                    "PATCH",
                    format!("/appointments/{id}"),
                    Some(json!({"notes": "n"})),
                ),
                action => (
                    "POST",
                    format!("/appointments/{id}/{action}"),
                    Some(json!({})),
                ),
            };
            let r = app
                .request(method, &path, token, body.map(|b| b.to_string()), &[])
                .await;
            assert_eq!(r.status, *want, "{endpoint} as caller {who}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn bad_lifecycle_input_gets_a_problem_and_changes_nothing() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let id = booked(&app, &provider, &patient, "2027-06-01T09:00:00Z", false).await;
    app.travel_to("2027-06-01T08:50:00Z");
    ok(&app.act(&patient, &id, "check-in", None).await, 200);
    ok(&app.act(&provider, &id, "start", None).await, 200);
    let before = app.items().await;

    let raw = |method: &'static str, path: String, body: &'static str| {
        let (app, token) = (&app, provider.token.clone());
        async move {
            app.request(method, &path, Some(&token), Some(body.to_owned()), &[])
                .await
        }
    };
    let cases: Vec<(&str, String, &str, u16)> = vec![
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"vitals\": {\"heartRate\": 900}}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"vitals\": \"fine\"}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"followUpDate\": \"next week\", \"followUpRequired\": true}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"followUpNotes\": \"x\"}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"notes\": ",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"mood\": \"good\"}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"status\": 3}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"consultationType\": \"carrier pigeon\"}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"cancellationReason\": \"no status\"}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"consultationType\": \"video\"}",
            409,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"status\": \"confirmed\"}",
            409,
        ),
        ("POST", format!("/appointments/{id}/reschedule"), "{}", 400),
        (
            "POST",
            format!("/appointments/{id}/reschedule"),
            "{\"newSlotId\": null}",
            400,
        ),
        ("POST", format!("/appointments/{id}/no-show"), "", 409),
        ("POST", format!("/appointments/{id}/check-in"), "", 409),
        ("POST", "/appointments/not-an-id/start".to_owned(), "", 400),
        (
            "POST",
            format!("/appointments/{}/complete", uuid::Uuid::new_v4()),
            "{}",
            404,
        ),
        ("GET", "/appointments?limit=0".to_owned(), "", 400),
        (
            "GET",
            "/appointments?startDate=2027-06-02&endDate=2027-06-01".to_owned(),
            "",
            400,
        ),
        ("GET", "/appointments?cursor=e30".to_owned(), "", 400),
        (
            "GET",
            "/appointments/history?limit=1000".to_owned(),
            "",
            400,
        ),
        ("GET", "/appointments/reports/no-shows".to_owned(), "", 400),
    ];
    for (method, path, body, status) in cases {
        let body = if method == "GET" || body.is_empty() {
            ""
        } else {
            body
        };
        let r = if body.is_empty() {
            app.request(method, &path, Some(&provider.token), None, &[])
                .await
        } else {
            raw(method, path.clone(), body).await
        };
        assert_eq!(r.status, status, "{method} {path} {body}: {}", r.body);
        assert!(r.is_problem(), "{method} {path}");
    }
    assert_eq!(
        app.items().await,
        before,
        "no bad request changed the table"
    );
}

#[tokio::test]
async fn a_provider_reschedules_only_into_their_own_slots() {
    let app = TestApp::spawn_at(EARLY).await;
    let (x, y, patient) = (
        app.provider().await,
        app.provider().await,
        app.patient().await,
    );
    let id = booked(&app, &x, &patient, "2027-06-01T09:00:00Z", false).await;
    let theirs = app.slot_at(&y, "2027-06-01T10:00:00Z", 30, 1).await;
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

    let own = app.slot_at(&x, "2027-06-01T11:00:00Z", 30, 1).await;
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
    let t1 = app
        .post(
            "/appointment-types",
            &staff.token,
            new_type("T1", json!(["video", "in_person"])),
        )
        .await
        .id();
    let t2 = app
        .post(
            "/appointment-types",
            &staff.token,
            new_type("T2", json!(["in_person"])),
        )
        .await
        .id();
    let slot_for = |start: &str, types: Value| json!({"providerId": provider.id, "startTime": start, "endTime": start.replace(":00:00Z", ":30:00Z"), "allowedAppointmentTypes": types});
    let first = app
        .post(
            "/slots",
            &provider.token,
            slot_for("2027-06-01T09:00:00Z", json!([])),
        )
        .await
        .id();
    let typed = app
        .post(
            "/appointments",
            &patient.token,
            json!({"slotId": first, "appointmentTypeId": t1, "consultationType": "video"}),
        )
        .await;
    ok(&typed, 201);
    let only_t2 = app
        .post(
            "/slots",
            &provider.token,
            slot_for("2027-06-01T10:00:00Z", json!([t2])),
        )
        .await
        .id();
    let before = app.items().await;
    let move_to = |id: String, slot: String| {
        let app = &app;
        let token = patient.token.clone();
        async move {
            app.post(
                &format!("/appointments/{id}/reschedule"),
                &token,
                json!({"newSlotId": slot}),
            )
            .await
        }
    };
    problem(
        &move_to(typed.id(), only_t2.clone()).await,
        409,
        "appointment_type_not_allowed",
    );
    // An appointment of no type cannot move into a slot that admits only some types either.
    let untyped = app
        .post(
            "/appointments",
            &patient.token,
            json!({"slotId": app.post("/slots", &provider.token, slot_for("2027-06-01T12:00:00Z", json!([]))).await.id()}),
        )
        .await;
    ok(&untyped, 201);
    let before_untyped = app.items().await;
    problem(
        &move_to(untyped.id(), only_t2.clone()).await,
        409,
        "appointment_type_not_allowed",
    );
    assert_eq!(app.items().await, before_untyped);

    // A slot that admits T1, once T1 is deactivated.
    let t1_slot = app
        .post(
            "/slots",
            &provider.token,
            slot_for("2027-06-01T14:00:00Z", json!([t1])),
        )
        .await
        .id();
    ok(
        &app.request(
            "PATCH",
            &format!("/appointment-types/{t1}"),
            Some(&staff.token),
            Some(json!({"isActive": false}).to_string()),
            &[("content-type", "application/json")],
        )
        .await,
        200,
    );
    problem(
        &move_to(typed.id(), t1_slot).await,
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

#[tokio::test]
async fn after_the_end_only_staff_cancel_and_nobody_reschedules_for_the_patient() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient, staff) = (app.provider().await, app.patient().await, app.staff().await);
    let slot = app.slot_at(&provider, "2027-06-01T09:00:00Z", 1, 1).await;
    let id = app.book(&patient, &slot).await.id();
    let later = app.slot_at(&provider, "2027-06-02T09:00:00Z", 30, 1).await;

    app.travel_to("2027-06-01T09:06:00Z");
    let before = app.items().await;
    problem(
        &app.cancel(&patient, &id, "forgot").await,
        422,
        "appointment_over",
    );
    problem(
        &app.patch(
            &patient,
            &id,
            json!({"status": "cancelled", "cancellationReason": "forgot"}),
        )
        .await,
        422,
        "appointment_over",
    );
    problem(
        &app.post(
            &format!("/appointments/{id}/reschedule"),
            &patient.token,
            json!({"newSlotId": later}),
        )
        .await,
        422,
        "appointment_over",
    );
    assert_eq!(app.items().await, before, "nothing changed");

    // The provider records the no-show; it shows in the day's report.
    ok(&app.act(&provider, &id, "no-show", None).await, 200);
    let report = app
        .get(
            &format!("/appointments/reports/no-shows?providerId={}&startDate=2027-06-01&endDate=2027-06-01", provider.id),
            &staff.token,
        )
        .await;
    ok(&report, 200);
    assert_eq!(report.body["noShows"], 1, "{}", report.body);

    // Another past appointment: staff may still cancel it, with a reason.
    let slot = app.slot_at(&provider, "2027-06-01T10:00:00Z", 1, 1).await;
    app.travel_to("2027-06-01T09:30:00Z");
    let other = app.book(&patient, &slot).await.id();
    app.travel_to("2027-06-01T10:05:00Z");
    let r = app.cancel(&staff, &other, "clinic closed early").await;
    ok(&r, 200);
    assert_eq!(r.body["status"], "cancelled");
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
    let slot = app.slot_at(&provider, "2027-06-01T09:00:00Z", 30, 1).await;
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
