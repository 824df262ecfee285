//! Provider settings over HTTP: who reads and replaces them, bad input changing nothing, the booking
//! rules (minimum notice, horizon, daily limit) in booking, rescheduling, series and waitlist accept,
//! the daily limit under racing bookings, and the terms an appointment keeps from its booking.

use std::sync::Arc;

use clinic_tests::{both_ways, join_all, ok, problem, refused, settled, Actor, Aws, Done, TestApp};
use serde_json::{json, Value};
use shared::domain::Clock;

both_ways!(
    a_settings_write_sent_again_after_a_lost_answer_is_its_own_not_stale,
    settings_belong_to_the_provider_staff_and_admin_and_bad_ones_change_nothing,
    booking_rules_refuse_too_soon_too_far_and_a_full_day,
    racing_bookings_never_pass_the_daily_limit,
    a_series_keeps_the_rules,
    a_waitlist_accept_keeps_the_daily_limit,
    appointments_keep_the_terms_they_were_booked_under,
);

/// The SDK sends a conditional write again when its answer was lost (a timeout) although DynamoDB
/// applied it: the retry finds the version moved, by itself. The write recognises its own id and
/// answers as applied; another write under the same If-Match is stale.
async fn a_settings_write_sent_again_after_a_lost_answer_is_its_own_not_stale(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let store = app.service_store();
    let provider = shared::domain::ProviderId::new();
    let settings: shared::domain::settings::Settings =
        serde_json::from_value(json!({"maxAppointmentsPerDay": 4})).unwrap();
    let now = shared::domain::UtcTime::from_timestamp(jiff::Timestamp::now());
    let write = uuid::Uuid::new_v4();
    let put = |write| {
        let (store, settings) = (store.clone(), settings.clone());
        async move {
            loop {
                match store
                    .put_settings_as(write, provider, &settings, Some(0), now)
                    .await
                {
                    Ok(answer) => return answer.map(|s| s.version),
                    Err(e) => assert!(aws == Aws::Faulty, "{e}"),
                }
            }
        }
    };
    assert_eq!(put(write).await, Some(1), "applied");
    assert_eq!(
        put(write).await,
        Some(1),
        "the same write again: applied, not stale"
    );
    assert_eq!(
        put(uuid::Uuid::new_v4()).await,
        None,
        "another write: stale"
    );
}

/// 08:00 in New York on Monday 2030-03-04.
const NOW: &str = "2030-03-04T13:00:00Z";

/// A provider in New York with six 30-minute one-seat slots from 09:00 to 12:00 local each day from
/// 2030-03-04 to 2030-03-09; the slots' ids by local date (`2030-03-05`) in time order.
async fn clinic(app: &TestApp) -> (Actor, std::collections::BTreeMap<String, Vec<String>>) {
    let provider = app.provider().await;
    let made = app
        .daily_slots(
            &provider,
            "America/New_York",
            ("2030-03-04", "2030-03-09"),
            ("09:00", "12:00"),
        )
        .await;
    let mut by_day: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for s in made.slots {
        let day = s
            .start_time
            .timestamp()
            .to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap())
            .date()
            .to_string();
        by_day.entry(day).or_default().push(s.id.to_string());
    }
    assert_eq!(by_day.len(), 6);
    (provider, by_day)
}

fn settings_path(provider: &Actor) -> String {
    format!("/providers/{}/settings", provider.id)
}

/// The provider replaces their own settings, which must succeed.
async fn set_own(app: &TestApp, provider: &Actor, body: Value) {
    ok(&app.put_settings(provider, provider, body).await, 200);
}

/// The provider's scheduled or confirmed appointments starting on a local day.
async fn standing_on(app: &TestApp, provider: &Actor, day: &str) -> usize {
    let list = app
        .appointments(
            provider,
            "",
            &format!(
                "status=scheduled,confirmed&startDate={}&endDate={}",
                local_bound(day, 0),
                local_bound(day, 1)
            ),
        )
        .await
        .unwrap();
    list.data.len()
}

/// The UTC instant of local midnight in New York, `plus` days after `day`.
fn local_bound(day: &str, plus: i64) -> String {
    let date: jiff::civil::Date = day.parse().unwrap();
    let date = date.checked_add(jiff::Span::new().days(plus)).unwrap();
    date.to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap())
        .unwrap()
        .timestamp()
        .to_string()
}

async fn settings_belong_to_the_provider_staff_and_admin_and_bad_ones_change_nothing(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::manual(NOW.parse().unwrap())).await;
    let (provider, _) = clinic(&app).await;
    let (patient, other, staff, admin) = (
        app.patient().await,
        app.provider().await,
        app.staff().await,
        app.admin().await,
    );

    // Nothing set: today's behaviour, the zone of the bulk generation.
    let first = app.settings(&provider, &provider).await;
    ok(&first, 200);
    assert_eq!(
        first.body,
        json!({
            "providerId": provider.id,
            "timeZone": "America/New_York",
            "minimumNoticeMinutes": 0,
            "maxAdvanceDays": null,
            "maxAppointmentsPerDay": null,
            "lateCancellationHours": 24,
            "checkInOpensMinutes": 30,
            "reminderOffsets": ["24h", "2h", "30m"],
            "lateCancellationFee": 0.0,
            "noShowFee": 0.0,
            "updatedAt": null
        })
    );
    for who in [&patient, &other] {
        problem(&app.settings(who, &provider).await, 403, "forbidden");
        problem(
            &app.put_settings(who, &provider, json!({"maxAppointmentsPerDay": 1}))
                .await,
            403,
            "forbidden",
        );
    }

    // Every bad body is a 400 naming the field, and changes nothing.
    let other_id = uuid::Uuid::new_v4();
    for (bad, field) in [
        (
            json!({"minimumNoticeMinutes": 43_201}),
            "minimumNoticeMinutes",
        ),
        (json!({"minimumNoticeMinutes": -1}), "body"),
        (json!({"maxAdvanceDays": 0}), "maxAdvanceDays"),
        (json!({"maxAdvanceDays": 731}), "maxAdvanceDays"),
        (json!({"maxAppointmentsPerDay": 0}), "maxAppointmentsPerDay"),
        (json!({"maxAppointmentsPerDay": 2.5}), "body"),
        (
            json!({"lateCancellationHours": 721}),
            "lateCancellationHours",
        ),
        (json!({"checkInOpensMinutes": 1441}), "checkInOpensMinutes"),
        (json!({"reminderOffsets": ["1h", "60m"]}), "reminderOffsets"),
        (
            json!({"reminderOffsets": ["1h", "2h", "3h", "4h", "5h", "6h"]}),
            "reminderOffsets",
        ),
        (json!({"reminderOffsets": ["8d"]}), "body"),
        (json!({"lateCancellationFee": -5}), "lateCancellationFee"),
        (json!({"noShowFee": 10.005}), "noShowFee"),
        (json!({"noShowFee": 100_001}), "noShowFee"),
        (json!({"timeZone": "Mars/Olympus"}), "timeZone"),
        (json!({"timeZone": "EST5EDT; DROP"}), "timeZone"),
        (json!({"dailyLimit": 3}), "body"),
        (json!({"providerId": other_id}), "providerId"),
        (json!(["maxAppointmentsPerDay", 3]), "body"),
        (json!(null), "body"),
    ] {
        let r = app.put_settings(&staff, &provider, bad.clone()).await;
        problem(&r, 400, "validation_failed");
        assert!(
            r.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{bad}: {}",
            r.body
        );
    }
    let not_json = app
        .request(
            "PUT",
            &settings_path(&provider),
            Some(&staff.token),
            Some("maxAppointmentsPerDay=3".into()),
            &[],
        )
        .await;
    problem(&not_json, 400, "validation_failed");
    assert_eq!(app.settings(&admin, &provider).await.body, first.body);

    // Staff set them; the provider reads them; GET's answer goes back unchanged.
    let set = app
        .put_settings(
            &staff,
            &provider,
            json!({
                "timeZone": "America/Chicago",
                "minimumNoticeMinutes": 90,
                "maxAdvanceDays": 30,
                "maxAppointmentsPerDay": 8,
                "lateCancellationHours": 48,
                "checkInOpensMinutes": 15,
                "reminderOffsets": ["30m", "48h"],
                "lateCancellationFee": 35,
                "noShowFee": 50.25
            }),
        )
        .await;
    ok(&set, 200);
    assert_eq!(set.body["updatedAt"], NOW);
    assert_eq!(
        set.body["reminderOffsets"],
        json!(["48h", "30m"]),
        "longest first"
    );
    let read = app.settings(&provider, &provider).await;
    assert_eq!(read.body, set.body);
    set_own(&app, &provider, read.body.clone()).await;
    assert_eq!(app.settings(&admin, &provider).await.body, set.body);

    // Each replacement is a version, the ETag: a PUT with the If-Match of an older one (an editor who
    // read before the last change) is refused and writes nothing; the current one or `*` apply.
    assert_eq!(first.headers["etag"], "\"0\"");
    assert_eq!(set.headers["etag"], "\"1\"");
    let current = app.settings(&admin, &provider).await;
    assert_eq!(current.headers["etag"], "\"2\"");
    let with_match = |tag: &'static str, body: Value| {
        let (app, token, path) = (&app, staff.token.clone(), settings_path(&provider));
        async move {
            app.request(
                "PUT",
                &path,
                Some(&token),
                Some(body.to_string()),
                &[("if-match", tag)],
            )
            .await
        }
    };
    // If-Match compares strongly (RFC 9110 section 13.1.1): the weak form of the current tag is stale.
    for stale in ["\"1\"", "\"0\"", "1", "W/\"x\"", "\"99\"", "W/\"2\""] {
        problem(
            &with_match(stale, json!({"maxAppointmentsPerDay": 1})).await,
            412,
            "precondition_failed",
        );
    }
    assert_eq!(app.settings(&admin, &provider).await.body, set.body);
    let matched = with_match("\"2\"", read.body.clone()).await;
    ok(&matched, 200);
    assert_eq!(matched.headers["etag"], "\"3\"");
    ok(&with_match("*", read.body.clone()).await, 200);

    // An empty PUT returns every setting to its default, and the bulk generation's zone with it.
    let reset = app.put_settings(&admin, &provider, json!({})).await;
    ok(&reset, 200);
    let mut expected = first.body.clone();
    expected["updatedAt"] = json!(NOW);
    assert_eq!(reset.body, expected);
    // A later bulk generation in another zone does not touch the settings.
    set_own(
        &app,
        &provider,
        json!({"timeZone": "Europe/Paris", "maxAppointmentsPerDay": 4}),
    )
    .await;
    app.daily_slots(
        &provider,
        "Asia/Tokyo",
        ("2030-04-01", "2030-04-01"),
        ("09:00", "10:00"),
    )
    .await;
    let after = app.settings(&provider, &provider).await;
    assert_eq!(
        (
            after.body["timeZone"].as_str(),
            after.body["maxAppointmentsPerDay"].as_u64()
        ),
        (Some("Europe/Paris"), Some(4))
    );
}

async fn booking_rules_refuse_too_soon_too_far_and_a_full_day(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::manual(NOW.parse().unwrap())).await;
    let (provider, days) = clinic(&app).await;
    let staff = app.staff().await;
    let patients = app.patients(6).await;
    set_own(
        &app,
        &provider,
        json!({"minimumNoticeMinutes": 120, "maxAdvanceDays": 2, "maxAppointmentsPerDay": 2}),
    )
    .await;
    let today = &days["2030-03-04"];
    let slot_of = |day: &str, i: usize| days[day][i].clone();

    // 09:00 today starts in an hour, 10:00 in two: notice. The 7th is three days ahead: horizon.
    refused(
        &app.book(&patients[0], &today[0]).await,
        422,
        "too_late_to_book",
    );
    app.book(&patients[0], &today[2]).await.done();
    refused(
        &app.book(&patients[1], &slot_of("2030-03-07", 0)).await,
        422,
        "too_far_ahead",
    );
    // The horizon is the provider's local days: at 23:30 on the 4th in New York (04:30 UTC on the
    // 5th), the 6th is still within two days and the 7th is not.
    app.travel_to("2030-03-05T04:30:00Z");
    let on_sixth = app
        .book(&patients[1], &slot_of("2030-03-06", 5))
        .await
        .done();
    assert_eq!(on_sixth.terms.unwrap().day.to_string(), "2030-03-06");
    refused(
        &app.book(&patients[1], &slot_of("2030-03-07", 0)).await,
        422,
        "too_far_ahead",
    );
    app.travel_to(NOW);
    for refused in [&today[0], &slot_of("2030-03-07", 0)] {
        assert_eq!(app.stored_slot(refused).await.current_bookings, 0);
    }

    // Two a day: the third booking of the 5th is refused and changes nothing; a staff overbook
    // passes the limit (and says so by `isOverbook`).
    let fifth = "2030-03-05";
    let a = app.book(&patients[2], &slot_of(fifth, 0)).await.done();
    app.book(&patients[3], &slot_of(fifth, 1)).await.done();
    let third = app.book(&patients[4], &slot_of(fifth, 2)).await;
    refused(&third, 422, "daily_limit_reached");
    assert!(third.unwrap_err().detail.contains("2030-03-05"));
    assert_eq!(
        app.stored_slot(&slot_of(fifth, 2)).await.current_bookings,
        0
    );
    assert_eq!(app.booked_count(&provider, fifth).await, 2);
    // What is offered as available is what a patient could book: not today's slots within the
    // notice, not the full 5th, nothing past the horizon.
    let offered: std::collections::BTreeSet<String> = app
        .available(
            &patients[5],
            &format!(
                "providerId={}&startDate=2030-03-04&endDate=2030-03-09&limit=100",
                provider.id
            ),
        )
        .await
        .unwrap()
        .data
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
    let bookable: std::collections::BTreeSet<String> = today[3..]
        .iter()
        .chain(&days["2030-03-06"][..5])
        .cloned()
        .collect();
    assert_eq!(offered, bookable);
    let over = app
        .post(
            "/appointments",
            &staff.token,
            json!({"slotId": slot_of(fifth, 3), "patientId": patients[4].id, "isOverbook": true}),
        )
        .await;
    ok(&over, 201);
    assert_eq!(app.booked_count(&provider, fifth).await, 3);

    // Rescheduling into the full day is refused; within it, it moves (the count stays); a cancel
    // frees a place for the next booking.
    let into_full = app
        .send(
            &patients[0],
            "POST",
            &format!("/appointments/{}/reschedule", {
                let mine = app.appointments(&patients[0], "", "").await.unwrap();
                mine.data[0].id
            }),
            Some(json!({"newSlotId": slot_of(fifth, 4)})),
        )
        .await;
    problem(&into_full, 422, "daily_limit_reached");
    app.counter.take();
    let within = app
        .reschedule(&patients[2], &a.id.to_string(), &slot_of(fifth, 4), None)
        .await
        .done();
    let counts = app.counter.take();
    if aws == Aws::Faithful {
        assert_eq!(
            counts.values().sum::<u32>(),
            3,
            "the provider's own slot: their settings come with the batch read ({counts:?})"
        );
    }
    assert_eq!(app.booked_count(&provider, fifth).await, 3);
    app.cancel(&patients[2], &within.id.to_string(), "better day")
        .await
        .done();
    app.cancel(&staff, &over.id(), "no longer needed")
        .await
        .done();
    assert_eq!(app.booked_count(&provider, fifth).await, 1);
    app.book(&patients[5], &slot_of(fifth, 5)).await.done();
    assert_eq!(app.booked_count(&provider, fifth).await, 2);
    assert_eq!(standing_on(&app, &provider, fifth).await, 2);

    // Lifting the limit lets the day fill, and the count was kept meanwhile.
    set_own(&app, &provider, json!({})).await;
    app.book(&patients[4], &slot_of(fifth, 2)).await.done();
    assert_eq!(app.booked_count(&provider, fifth).await, 3);
    app.book(&patients[1], &today[0]).await.done();
}

async fn racing_bookings_never_pass_the_daily_limit(aws: Aws) {
    let app = Arc::new(TestApp::spawn_on(aws, Clock::manual(NOW.parse().unwrap())).await);
    let (provider, days) = clinic(&app).await;
    set_own(&app, &provider, json!({"maxAppointmentsPerDay": 3})).await;
    let day = "2030-03-06";
    let slots = days[day].clone();
    let patients = app.patients(slots.len() * 2).await;
    // Twelve patients, two on each of the day's six slots, all at once.
    let replies = join_all(
        patients
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (app, p, slot) = (app.clone(), p.clone(), slots[i % slots.len()].clone());
                async move { app.book(&p, &slot).await }
            })
            .collect(),
    )
    .await;
    let mut booked = 0;
    for r in &replies {
        settled(
            r,
            &[(201, ""), (409, "slot_full"), (422, "daily_limit_reached")],
            aws,
        );
        booked += usize::from(r.is_ok());
    }
    let standing = standing_on(&app, &provider, day).await;
    assert!(
        standing <= 3,
        "{standing} appointments on a day limited to 3"
    );
    assert_eq!(app.booked_count(&provider, day).await, standing as i64);
    if aws == Aws::Faithful {
        assert_eq!(booked, 3, "every place of the day is taken");
    }
    assert_eq!(booked, standing);
}

async fn a_series_keeps_the_rules(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::manual(NOW.parse().unwrap())).await;
    let provider = app.provider().await;
    app.daily_slots(
        &provider,
        "America/New_York",
        ("2030-03-05", "2030-04-10"),
        ("09:00", "10:00"),
    )
    .await;
    set_own(
        &app,
        &provider,
        json!({"maxAdvanceDays": 21, "maxAppointmentsPerDay": 1}),
    )
    .await;
    let slots = app
        .available(
            &provider,
            &format!(
                "providerId={}&startDate=2030-03-05&endDate=2030-03-27&limit=100",
                provider.id
            ),
        )
        .await
        .unwrap();
    let at = |start: &str| {
        slots
            .data
            .iter()
            .find(|s| s.start_time.to_string() == start)
            .unwrap_or_else(|| panic!("no slot at {start}"))
            .id
            .to_string()
    };
    // The 12th's one place goes to someone else (09:30, after the change to summer time on the 10th);
    // weekly from 09:00 on the 5th: the 12th is full (its count, read before the transaction, says
    // so), the 26th beyond the 21 days.
    let (patient, rival) = (app.patient().await, app.patient().await);
    app.book(&rival, &at("2030-03-12T13:30:00Z")).await.done();
    let four = json!({"slotId": at("2030-03-05T14:00:00Z"), "frequency": "weekly", "count": 4});
    let whole = app.book_series(&patient, four.clone()).await;
    refused(&whole, 409, "series_unavailable");
    let detail = whole.unwrap_err().detail;
    assert!(
        detail.contains("2030-03-12 (daily_limit_reached)")
            && detail.contains("2030-03-26 (too_far_ahead)"),
        "{detail}"
    );
    assert!(app
        .appointments(&patient, "", "")
        .await
        .unwrap()
        .data
        .is_empty());
    let mut partial = four.clone();
    partial["partial"] = json!(true);
    let part = app.book_series(&patient, partial).await.done();
    assert_eq!(
        serde_json::to_value(&part.series.skipped).unwrap(),
        json!([
            {"date": "2030-03-12", "reason": "daily_limit_reached"},
            {"date": "2030-03-26", "reason": "too_far_ahead"}
        ])
    );
    assert_eq!(part.appointments.len(), 2);
}

/// On the real clock, as the worker offers by it.
async fn a_waitlist_accept_keeps_the_daily_limit(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let provider = app.provider().await;
    set_own(&app, &provider, json!({"maxAppointmentsPerDay": 1})).await;
    // Two one-seat slots at 10:00 and 11:00 UTC three days from now (the provider's zone: UTC); the
    // waitlist wants 10:00 to 10:30 only, so the 11:00 slot is offered to nobody.
    let day = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(3))
        .unwrap();
    let (first, second) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let (waiting, next, rival, staff) = (
        app.patient().await,
        app.patient().await,
        app.patient().await,
        app.staff().await,
    );
    let wants = |patient: &Actor, priority: u32| {
        json!({
            "providerId": provider.id, "patientId": patient.id, "preferredDate": day.to_string(),
            "preferredTimeSlots": [{"start": "10:00", "end": "10:30"}], "priority": priority
        })
    };
    // The first in the queue by priority (staff set it), the next after it.
    let entry = app
        .join_waitlist(&staff, wants(&waiting, 10))
        .await
        .expect("staff add the first entry");
    let second_entry = app
        .join_waitlist(&staff, wants(&next, 0))
        .await
        .expect("staff add the next entry");
    for (slot, hour) in [(&second, 11), (&first, 10)] {
        let start =
            shared::domain::UtcTime::start_of(day).plus(jiff::SignedDuration::from_hours(hour));
        app.put_slot(slot, provider.id, start, 30, 1).await;
    }
    // The new 10:00 slot is offered to the first entry.
    let offered = app
        .entry_when(&entry.id.to_string(), |e| {
            e.status == shared::domain::waitlist::EntryStatus::Offered
        })
        .await;
    assert_eq!(
        offered.offered_slot_id.map(|s| s.to_string()),
        Some(first.clone())
    );
    // Meanwhile staff overbook the day's other slot: the day is at its limit, and the held seat cannot
    // become an appointment.
    ok(
        &app.post(
            "/appointments",
            &staff.token,
            json!({"slotId": second, "patientId": rival.id, "isOverbook": true}),
        )
        .await,
        201,
    );
    let answer = app.accept_offer(&waiting, &entry.id.to_string()).await;
    clinic_tests::api::refused(&answer, 422, "daily_limit_reached");
    let after = app.store().waitlist_entry(entry.id).await.unwrap().unwrap();
    assert_eq!(
        after.status,
        shared::domain::waitlist::EntryStatus::Offered,
        "the offer stands until it is declined or lapses"
    );
    assert_eq!(app.booked_count(&provider, &day.to_string()).await, 1);
    assert_eq!(
        app.stored_slot(&first).await.current_bookings,
        1,
        "still held"
    );
    // Declined, the seat is not offered to the next entry while the day is full: the worker's job
    // finds the day at its limit (played here as well, on the service's store, so that the answer
    // does not depend on when the local worker runs).
    app.decline_offer(&waiting, &entry.id.to_string())
        .await
        .expect("the offer is declined");
    assert_eq!(app.stored_slot(&first).await.current_bookings, 0);
    let ttl = jiff::SignedDuration::from_mins(30);
    let store = app.service_store();
    let first_id: shared::domain::SlotId = first.parse().unwrap();
    let now = || shared::domain::UtcTime::from_timestamp(jiff::Timestamp::now());
    assert_eq!(
        store.offer_seats(first_id, None, now(), ttl).await.unwrap(),
        vec![],
        "a full day's seat is not offered"
    );
    assert_eq!(
        app.store()
            .waitlist_entry(second_entry.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        shared::domain::waitlist::EntryStatus::Waiting
    );
    // Lifted, the seat goes to the next entry, who books it.
    set_own(&app, &provider, json!({})).await;
    store.offer_seats(first_id, None, now(), ttl).await.unwrap();
    app.entry_when(&second_entry.id.to_string(), |e| {
        e.status == shared::domain::waitlist::EntryStatus::Offered
    })
    .await;
    app.accept_offer(&next, &second_entry.id.to_string())
        .await
        .expect("accepted once the limit is lifted");
    assert_eq!(app.booked_count(&provider, &day.to_string()).await, 2);
}

async fn appointments_keep_the_terms_they_were_booked_under(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::manual(NOW.parse().unwrap())).await;
    let (provider, days) = clinic(&app).await;
    let patient = app.patient().await;
    set_own(
        &app,
        &provider,
        json!({
            "lateCancellationHours": 48,
            "lateCancellationFee": 30,
            "checkInOpensMinutes": 10,
            "reminderOffsets": ["48h", "1h"]
        }),
    )
    .await;
    // Friday 8th at 09:00 New York (14:00 UTC), and the same time on Saturday.
    let (friday, saturday) = (days["2030-03-08"][0].clone(), days["2030-03-09"][0].clone());
    let kept = app.book(&patient, &friday).await.done();
    assert_eq!(
        serde_json::to_value(&kept.terms).unwrap(),
        json!({
            "day": "2030-03-08",
            "lateCancellationHours": 48,
            "checkInOpensAt": "2030-03-08T13:50:00Z",
            "reminderOffsets": ["48h", "1h"],
            "lateCancellationFee": 30.0,
            "noShowFee": 0.0
        })
    );
    let dropped = app.book(&patient, &saturday).await.done();

    // Changed settings apply to bookings from then on, not to these two.
    set_own(&app, &provider, json!({"lateCancellationFee": 99})).await;
    let read = app
        .appointment(&patient, &kept.id.to_string())
        .await
        .unwrap();
    assert_eq!(read.terms, kept.terms);

    // Reminders by the appointment's offsets: 48h and 1h, not the configuration's three.
    let id = kept.id.to_string();
    let mut names: Vec<String> = vec![];
    for _ in 0..200 {
        names = app.schedules().await;
        names.retain(|n| n.contains(&id));
        if names.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    names.sort();
    assert_eq!(
        names,
        [format!("reminder-{id}-1h"), format!("reminder-{id}-48h")]
    );

    // 30 hours before Saturday is late by its 48 (not by the configuration's 24): its fee is asked.
    app.travel_to("2030-03-08T08:00:00Z");
    let cancelled = app
        .cancel(&patient, &dropped.id.to_string(), "travelling")
        .await
        .done();
    assert_eq!(cancelled.late_cancellation, Some(true));
    let events = app
        .wait_for_kinds(
            &dropped.id.to_string(),
            &[
                "appointment.created",
                "appointment.cancelled",
                "payment.cancellation_fee_requested",
            ],
        )
        .await;
    let fee = events
        .iter()
        .find(|e| e["detail-type"] == "payment.cancellation_fee_requested")
        .unwrap();
    assert_eq!(fee["detail"]["amount"], json!(30.0));

    // Check-in opens 10 minutes before, as booked (the configuration says 30).
    app.travel_to("2030-03-08T13:45:00Z");
    problem(
        &app.send(
            &patient,
            "POST",
            &format!("/appointments/{id}/check-in"),
            None,
        )
        .await,
        422,
        "check_in_window",
    );
    app.travel_to("2030-03-08T13:51:00Z");
    let checked = app
        .send(
            &patient,
            "POST",
            &format!("/appointments/{id}/check-in"),
            None,
        )
        .await;
    ok(&checked, 200);
    assert_eq!(checked.body["status"], "confirmed");
}
