//! Recurring series over HTTP: a weekly series keeps its local time across a DST change, a series with
//! dates that have no slot is refused whole (or booked in part when asked), cancelling a series cancels
//! its future occurrences, and two series racing for the same last seats end with exactly one.

use std::sync::Arc;

use clinic_tests::{both_ways, join_all, ok, problem, settled, Actor, Aws, TestApp};
use serde_json::{json, Value};
use shared::domain::Clock;

both_ways!(
    a_weekly_series_keeps_nine_o_clock_across_dst_and_cancels_as_one,
    two_series_racing_for_the_same_last_seats_end_with_exactly_one,
);

/// A provider in New York with 30-minute slots from 09:00 to 10:00 local every day from 2030-02-26 to
/// 2030-04-05 (the change to summer time is on 2030-03-10); the 09:00 slot of the first day.
async fn clinic(app: &TestApp) -> (Actor, String) {
    let provider = app.provider().await;
    let made = app
        .daily_slots(
            &provider,
            "America/New_York",
            ("2030-02-26", "2030-04-05"),
            ("09:00", "10:00"),
        )
        .await;
    let first = made["slots"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(made["slots"][0]["startTime"], "2030-02-26T14:00:00Z");
    (provider, first)
}

async fn series(app: &TestApp, who: &Actor, body: Value) -> clinic_tests::Reply {
    app.send(who, "POST", "/appointments/recurring", Some(body))
        .await
}

async fn a_weekly_series_keeps_nine_o_clock_across_dst_and_cancels_as_one(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::manual("2030-02-20T12:00:00Z".parse().unwrap())).await;
    let (provider, first) = clinic(&app).await;
    let patient = app.patient().await;

    // Eight weeks would reach past the last slot: refused whole, nothing booked.
    let too_long = series(
        &app,
        &patient,
        json!({"slotId": first, "frequency": "weekly", "count": 8}),
    )
    .await;
    problem(&too_long, 409, "series_unavailable");
    assert!(
        too_long.body["detail"]
            .as_str()
            .unwrap()
            .contains("2030-04-16 (no_slot)"),
        "{}",
        too_long.body
    );
    let none = app.appointments(&patient, "", "").await.unwrap();
    assert!(none.data.is_empty(), "nothing booked");
    for bad in [
        json!({"slotId": first, "frequency": "weekly"}),
        json!({"slotId": first, "frequency": "weekly", "count": 1}),
        json!({"slotId": first, "frequency": "weekly", "count": 27}),
        json!({"slotId": first, "frequency": "weekly", "count": 3, "until": "2030-03-20"}),
        json!({"slotId": first, "frequency": "daily", "count": 3}),
        json!({"slotId": first, "frequency": "weekly", "until": "2031-01-01"}),
        // Before the first occurrence (2030-02-26), on it, or before the second: not a series.
        json!({"slotId": first, "frequency": "weekly", "until": "2030-02-01"}),
        json!({"slotId": first, "frequency": "weekly", "until": "2030-02-26"}),
        json!({"slotId": first, "frequency": "weekly", "until": "2030-03-04"}),
    ] {
        let refused = series(&app, &patient, bad.clone()).await;
        problem(&refused, 400, "validation_failed");
        if bad.get("until").is_some() && bad.get("count").is_none() {
            assert_eq!(
                refused.body["errors"][0]["field"], "until",
                "{}",
                refused.body
            );
        }
    }

    // Six weeks: 09:00 in New York each time, 14:00 UTC before the change and 13:00 after. Sent twice
    // with one Idempotency-Key: one series; the key with another request is refused.
    let six =
        json!({"slotId": first, "frequency": "weekly", "count": 6, "consultationType": "video"});
    let keyed = |body: &Value| {
        app.request(
            "POST",
            "/appointments/recurring",
            Some(&patient.token),
            Some(body.to_string()),
            &[("idempotency-key", "series-1")],
        )
    };
    let made = keyed(&six).await;
    ok(&made, 201);
    let again = keyed(&six).await;
    ok(&again, 201);
    assert_eq!(again.id(), made.id());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let mut other_body = six.clone();
    other_body["count"] = json!(5);
    problem(&keyed(&other_body).await, 422, "idempotency_key_reused");
    let starts: Vec<&str> = made.body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["startTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2030-02-26T14:00:00Z",
            "2030-03-05T14:00:00Z",
            "2030-03-12T13:00:00Z",
            "2030-03-19T13:00:00Z",
            "2030-03-26T13:00:00Z",
            "2030-04-02T13:00:00Z"
        ]
    );
    let id = made.id();
    assert!(made.body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["recurringAppointmentId"] == id.as_str()));
    // With `partial`, another patient's eight weeks book six and name the two without a slot.
    let other = app.patient().await;
    let later = app
        .post(
            "/slots",
            &provider.token,
            json!({"providerId": provider.id, "startTime": "2030-03-01T15:00:00Z", "endTime": "2030-03-01T15:30:00Z"}),
        )
        .await;
    ok(&later, 201);
    let part = series(
        &app,
        &other,
        json!({"slotId": later.id(), "frequency": "weekly", "count": 8, "partial": true}),
    )
    .await;
    ok(&part, 201);
    assert_eq!(
        part.body["appointments"].as_array().unwrap().len(),
        1,
        "{}",
        part.body
    );
    assert_eq!(part.body["skipped"].as_array().unwrap().len(), 7);
    assert_eq!(
        part.body["skipped"][0],
        json!({"date": "2030-03-08", "reason": "no_slot"})
    );

    // Others do not see the series; cancelling it cancels every future occurrence.
    problem(
        &app.send(&other, "GET", &format!("/recurring/{id}"), None)
            .await,
        404,
        "not_found",
    );
    let read = app
        .send(&provider, "GET", &format!("/recurring/{id}"), None)
        .await;
    ok(&read, 200);
    assert_eq!(read.body["appointments"].as_array().unwrap().len(), 6);
    app.travel_to("2030-03-06T12:00:00Z");
    let cancelled = app
        .send(
            &patient,
            "POST",
            &format!("/recurring/{id}/cancel"),
            Some(json!({"reason": "moving away"})),
        )
        .await;
    ok(&cancelled, 200);
    let statuses: Vec<&str> = cancelled.body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "scheduled",
            "scheduled",
            "cancelled",
            "cancelled",
            "cancelled",
            "cancelled"
        ],
        "the past ones stay for the provider to complete or mark"
    );
}

async fn two_series_racing_for_the_same_last_seats_end_with_exactly_one(aws: Aws) {
    let app = Arc::new(
        TestApp::spawn_on(aws, Clock::manual("2030-02-20T12:00:00Z".parse().unwrap())).await,
    );
    let (_, first) = clinic(&app).await;
    let (a, b) = (app.patient().await, app.patient().await);
    let replies = join_all(
        [a, b]
            .into_iter()
            .map(|p| {
                let (app, first) = (app.clone(), first.clone());
                async move {
                    series(
                        &app,
                        &p,
                        json!({"slotId": first, "frequency": "weekly", "count": 5}),
                    )
                    .await
                }
            })
            .collect(),
    )
    .await;
    let mut booked = 0;
    let mut gave_up = 0;
    for r in &replies {
        gave_up += usize::from(settled(
            r,
            &[(201, ""), (409, "slot_full"), (409, "series_unavailable")],
            aws,
        ));
        booked += usize::from(r.status == 201);
    }
    assert!(booked <= 1, "two series in the same seats");
    if aws == Aws::Faithful {
        assert_eq!(booked, 1);
    }
    assert!(booked + gave_up >= 1);
    if let Some(won) = replies.iter().find(|r| r.status == 201) {
        for appt in won.body["appointments"].as_array().unwrap() {
            let slot = appt["slotId"].as_str().unwrap();
            assert_eq!(app.stored_slot(slot).await.current_bookings, 1);
            assert_eq!(app.appointments_of_slot(slot).await, 1);
        }
    }
}
