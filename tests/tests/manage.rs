//! Manage links end to end (issue 23, section 3): the link an `appointment.created` event carries lets
//! its patient, without signing in, see the visit (and nothing more), list where it may move, move it
//! once and cancel it once, under the patient's rules; a tampered, expired or used token is 404.

use clinic_tests::{Done, TestApp};
use serde_json::{json, Value};
use shared::domain::Clock;

/// The token of the manage link in the event of `kind` about `appointment`.
async fn token_of(app: &TestApp, appointment: &str, kind: &str) -> String {
    let events = app
        .wait_for_events(|events| {
            events
                .iter()
                .any(|e| e["detail-type"] == kind && e["detail"]["appointmentId"] == appointment)
        })
        .await;
    let event = events
        .iter()
        .find(|e| e["detail-type"] == kind && e["detail"]["appointmentId"] == appointment)
        .unwrap();
    let url = event["detail"]["manageUrl"]
        .as_str()
        .expect("a manage link");
    url.rsplit_once("/manage/").unwrap().1.to_owned()
}

/// `method /manage/<token><tail>` without a bearer token.
async fn manage(
    app: &TestApp,
    method: &str,
    token: &str,
    tail: &str,
    body: Option<Value>,
) -> clinic_tests::Reply {
    app.request(
        method,
        &format!("/manage/{token}{tail}"),
        None,
        body.map(|b| b.to_string()),
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manage_link_shows_moves_and_cancels_once_under_the_patients_rules() {
    let now = shared::domain::UtcTime::from_timestamp(jiff::Timestamp::now());
    let app = TestApp::spawn_with(Clock::manual(now)).await;
    let (provider, patient, rival) = (
        app.provider().await,
        app.patient().await,
        app.patient().await,
    );
    let here = app.slot(&provider, 30, 1).await;
    let there = app.slot(&provider, 32, 1).await;
    let taken = app.slot(&provider, 34, 1).await;
    let soon = app.slot(&provider, 2, 1).await;
    app.book(&rival, &taken).await.done();
    let booked = app.book(&patient, &here).await.done();
    let token = token_of(&app, &booked.id.to_string(), "appointment.created").await;

    // What the link shows: the visit, nothing about the patient.
    let shown = manage(&app, "GET", &token, "", None).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.headers["cache-control"], "no-store");
    assert_eq!(shown.body["startTime"], json!(booked.start_time));
    assert_eq!(shown.body["status"], "scheduled");
    let keys: Vec<&str> = shown
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in &keys {
        assert!(
            [
                "status",
                "startTime",
                "endTime",
                "provider",
                "appointmentType",
                "consultationType",
                "location"
            ]
            .contains(k),
            "{k} is shown: {}",
            shown.body
        );
    }
    let options = manage(&app, "GET", &token, "/options", None).await;
    assert_eq!(options.status, 200, "{}", options.body);
    let seats: Vec<&str> = options.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slotId"].as_str().unwrap())
        .collect();
    assert!(
        seats.contains(&there.as_str()) && seats.contains(&soon.as_str()),
        "{seats:?}"
    );
    assert!(
        !seats.contains(&here.as_str()) && !seats.contains(&taken.as_str()),
        "{seats:?}"
    );

    // Anything that is not the token is 404, and changes nothing.
    let mut tampered: Vec<char> = token.chars().collect();
    tampered[40] = if tampered[40] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in [tampered.as_str(), "x", &"A".repeat(82)] {
        let r = manage(&app, "POST", bad, "/cancel", Some(json!({}))).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("not_found")),
            "{bad}: {}",
            r.body
        );
    }
    // The patient's rules: a full slot is refused.
    let r = manage(
        &app,
        "POST",
        &token,
        "/reschedule",
        Some(json!({"newSlotId": taken})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("slot_full")),
        "{}",
        r.body
    );

    // Moved once: the new visit has its own link; the old one opens nothing.
    let moved = manage(
        &app,
        "POST",
        &token,
        "/reschedule",
        Some(json!({"newSlotId": there})),
    )
    .await;
    assert_eq!(moved.status, 201, "{}", moved.body);
    let new_token = moved.body["manageUrl"]
        .as_str()
        .unwrap()
        .rsplit_once("/manage/")
        .unwrap()
        .1
        .to_owned();
    for tail in ["", "/options"] {
        assert_eq!(
            manage(&app, "GET", &token, tail, None).await.status,
            404,
            "the old link is used up"
        );
    }
    let again = manage(
        &app,
        "POST",
        &token,
        "/reschedule",
        Some(json!({"newSlotId": soon})),
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
    let new_id = app
        .wait_for_events(|events| {
            events.iter().any(|e| {
                e["detail-type"] == "appointment.rescheduled"
                    && e["detail"]["previousAppointmentId"] == json!(booked.id)
            })
        })
        .await
        .into_iter()
        .find(|e| e["detail-type"] == "appointment.rescheduled")
        .unwrap()["detail"]["appointmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        token_of(&app, &new_id, "appointment.rescheduled").await,
        new_token,
        "the event carries the same link"
    );

    // Cancelled once, not late (30 hours ahead): the link then opens nothing.
    let cancelled = manage(
        &app,
        "POST",
        &new_token,
        "/cancel",
        Some(json!({"reason": "Travelling"})),
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(
        (
            cancelled.body["status"].as_str(),
            cancelled.body["lateCancellation"].as_bool()
        ),
        (Some("cancelled"), Some(false))
    );
    let replay = manage(&app, "POST", &new_token, "/cancel", Some(json!({}))).await;
    assert_eq!(replay.status, 404, "{}", replay.body);
    let stored = app
        .store()
        .appointment(new_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.cancelled_by, Some(patient.id), "as the patient");

    // Two hours ahead, inside the provider's 24 hours: late.
    let late = app.book(&patient, &soon).await.done();
    let late_token = token_of(&app, &late.id.to_string(), "appointment.created").await;
    let r = manage(&app, "POST", &late_token, "/cancel", Some(json!({}))).await;
    assert_eq!(
        (r.status, r.body["lateCancellation"].as_bool()),
        (200, Some(true)),
        "{}",
        r.body
    );

    // A link expires at its visit's end.
    let last = app.book(&patient, &here).await.done();
    let last_token = token_of(&app, &last.id.to_string(), "appointment.created").await;
    assert_eq!(manage(&app, "GET", &last_token, "", None).await.status, 200);
    app.travel_to(&last.end_time.to_string());
    assert_eq!(
        manage(&app, "GET", &last_token, "", None).await.status,
        404,
        "expired"
    );
}
