//! A type's length against its slot (issue 22, section 3, first part): a type that fits is booked as
//! before; one longer than the slot is 409 `slot_too_short` wherever a seat would be taken (booking,
//! holding, a series, rescheduling), and the waitlist never offers a typed entry a slot too short for it.

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
            .contains("60 minutes and this slot 20"),
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
