//! Recurring series over HTTP: a weekly series keeps its local time across a DST change, a series with
//! dates that have no slot is refused whole (or booked in part when asked), cancelling a series cancels
//! its future occurrences, and two series racing for the same last seats end with exactly one.

use std::sync::Arc;

use clinic_tests::{
    both_ways, join_all, ok, problem, refused, settled, Actor, Aws, Done, NewSlot, TestApp,
};
use serde_json::{json, Value};
use shared::api::views::SeriesView;
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
    let first = &made.slots[0];
    assert_eq!(first.start_time.to_string(), "2030-02-26T14:00:00Z");
    (provider, first.id.to_string())
}

async fn a_weekly_series_keeps_nine_o_clock_across_dst_and_cancels_as_one(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::manual("2030-02-20T12:00:00Z".parse().unwrap())).await;
    let (provider, first) = clinic(&app).await;
    let patient = app.patient().await;

    // Eight weeks would reach past the last slot: refused whole, nothing booked.
    let too_long = app
        .book_series(
            &patient,
            json!({"slotId": first, "frequency": "weekly", "count": 8}),
        )
        .await;
    refused(&too_long, 409, "series_unavailable");
    assert!(
        too_long
            .as_ref()
            .unwrap_err()
            .detail
            .contains("2030-04-16 (no_slot)"),
        "{too_long:?}"
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
        let answer = app.book_series(&patient, bad.clone()).await;
        refused(&answer, 400, "validation_failed");
        if bad.get("until").is_some() && bad.get("count").is_none() {
            assert_eq!(answer.unwrap_err().fields, ["until"]);
        }
    }

    // Six weeks: 09:00 in New York each time, 14:00 UTC before the change and 13:00 after. Sent twice
    // with one Idempotency-Key: one series (the replay says so in its headers, hence raw requests);
    // the key with another request is refused.
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
    let id = made.id();
    let made: SeriesView = made.made().unwrap();
    let starts: Vec<String> = made
        .appointments
        .iter()
        .map(|a| a.start_time.to_string())
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
    assert!(made
        .appointments
        .iter()
        .all(|a| a.recurring_appointment_id.map(|r| r.to_string()) == Some(id.clone())));
    // With `partial`, another patient's eight weeks book six and name the two without a slot.
    let other = app.patient().await;
    let later = app
        .slot_at(&provider, NewSlot::at("2030-03-01T15:00:00Z"))
        .await;
    let part = app
        .book_series(
            &other,
            json!({"slotId": later, "frequency": "weekly", "count": 8, "partial": true}),
        )
        .await
        .done();
    assert_eq!(part.appointments.len(), 1, "{part:?}");
    assert_eq!(part.series.skipped.len(), 7);
    let skipped = &part.series.skipped[0];
    assert_eq!(
        (skipped.date.to_string(), skipped.reason.as_str()),
        ("2030-03-08".to_owned(), "no_slot")
    );

    // Others do not see the series; cancelling it cancels every future occurrence.
    refused(&app.series(&other, &id).await, 404, "not_found");
    let read = app.series(&provider, &id).await.done();
    assert_eq!(read.appointments.len(), 6);
    app.travel_to("2030-03-06T12:00:00Z");
    let cancelled = app.cancel_series(&patient, &id, "moving away").await.done();
    let statuses: Vec<&str> = cancelled
        .appointments
        .iter()
        .map(|a| a.status.as_str())
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
                    app.book_series(
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
        booked += usize::from(r.is_ok());
    }
    assert!(booked <= 1, "two series in the same seats");
    if aws == Aws::Faithful {
        assert_eq!(booked, 1);
    }
    assert!(booked + gave_up >= 1);
    if let Some(won) = replies.iter().find_map(|r| r.as_ref().ok()) {
        for appt in &won.appointments {
            let slot = appt.slot_id.to_string();
            assert_eq!(app.stored_slot(&slot).await.current_bookings, 1);
            assert_eq!(app.appointments_of_slot(&slot).await, 1);
        }
    }
}
