//! Rooms and equipment (issue 22, section 2): a location's resources, taken by the slots that name them
//! in the transactions that create them, so that one is never held by more slots at once than its
//! capacity, under concurrency as one at a time; blocking gives a room back and releasing takes it again.

use clinic_tests::{ok, problem, Actor, Reply, TestApp};
use serde_json::{json, Value};

/// A location with two rooms and one kind of device (two of them), as staff make them.
struct Clinic {
    location: String,
    room: String,
    other_room: String,
    ecg: String,
}

async fn clinic(app: &TestApp, staff: &Actor) -> Clinic {
    let made = app
        .send(
            staff,
            "POST",
            "/locations",
            Some(
                json!({"name": "Riverside Clinic", "timeZone": "America/Chicago",
                "address": {"lines": ["12 River St"], "city": "Springfield", "country": "US"}}),
            ),
        )
        .await;
    ok(&made, 201);
    let location = made.id();
    let resource = |name: &'static str, kind: &'static str, capacity: u32| {
        let location = location.clone();
        async move {
            let r = app
                .send(
                    staff,
                    "POST",
                    &format!("/locations/{location}/resources"),
                    Some(json!({"name": name, "kind": kind, "capacity": capacity})),
                )
                .await;
            ok(&r, 201);
            r.id()
        }
    };
    let room = resource("Exam 2B", "room", 1).await;
    let other_room = resource("Exam 3", "room", 1).await;
    let ecg = resource("ECG cart", "equipment", 2).await;
    Clinic {
        location,
        room,
        other_room,
        ecg,
    }
}

fn slot_at(
    provider: &Actor,
    clinic: &Clinic,
    start: &str,
    minutes: i64,
    resources: &[&str],
) -> Value {
    let start: jiff::Timestamp = start.parse().unwrap();
    let end = start + jiff::SignedDuration::from_mins(minutes);
    json!({"providerId": provider.id, "startTime": start.to_string(), "endTime": end.to_string(),
        "locationId": clinic.location, "resourceIds": resources})
}

async fn create(app: &TestApp, who: &Actor, body: Value) -> Reply {
    app.send(who, "POST", "/slots", Some(body)).await
}

/// Blocks the provider's slots of 2031-08-04.
async fn block(app: &TestApp, who: &Actor) -> Reply {
    app.send(
        who,
        "POST",
        "/slots/block",
        Some(json!({"providerId": who.id, "startTime": "2031-08-04T00:00:00Z", "endTime": "2031-08-05T00:00:00Z"})),
    )
    .await
}

/// The provider's slots of 2031-09-01 to 05 (Monday to Friday) in `hours`, in room 2B.
async fn bulk(app: &TestApp, c: &Clinic, who: &Actor, hours: Value, exclude: Value) -> Reply {
    let week = json!({"monday": hours, "tuesday": hours, "wednesday": hours, "thursday": hours, "friday": hours});
    app.send(
        who,
        "POST",
        "/slots/bulk",
        Some(
            json!({"providerId": who.id, "timeZone": "America/Chicago", "startDate": "2031-09-01",
            "endDate": "2031-09-05", "workingHours": week, "slotDuration": 30,
            "excludeDates": exclude, "locationId": c.location, "resourceIds": [c.room]}),
        ),
    )
    .await
}

#[tokio::test]
async fn two_providers_racing_for_one_room_get_one_slot_each_round() {
    let app = TestApp::spawn_faulty().await;
    let staff = app.staff().await;
    let c = clinic(&app, &staff).await;
    let (a, b) = (app.provider().await, app.provider().await);
    for round in 0..20 {
        // Overlapping, not equal: a at :00-:30, b at :15-:45 of hour `round`.
        let day = format!("2031-05-{:02}", 1 + round % 28);
        let hour = 8 + round / 28;
        let (ra, rb) = tokio::join!(
            create(
                &app,
                &a,
                slot_at(&a, &c, &format!("{day}T{hour:02}:00:00Z"), 30, &[&c.room])
            ),
            create(
                &app,
                &b,
                slot_at(&b, &c, &format!("{day}T{hour:02}:15:00Z"), 30, &[&c.room])
            )
        );
        let mut statuses = [ra.status, rb.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: {} / {}",
            ra.body,
            rb.body
        );
        let lost = if ra.status == 409 { &ra } else { &rb };
        problem(lost, 409, "resource_conflict");
        let detail = lost.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("Exam 2B") && detail.contains(&c.room),
            "names the room: {detail}"
        );
    }
    // The room's schedule holds the 20 winners, never two at once.
    let days = app
        .get(
            &format!(
                "/locations/{}/resources/{}/schedule?date=2031-05-01&days=28",
                c.location, c.room
            ),
            &staff.token,
        )
        .await;
    ok(&days, 200);
    let mut held: Vec<(String, String)> = days.body["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["slots"].as_array().unwrap().clone())
        .map(|s| {
            (
                s["startTime"].as_str().unwrap().to_owned(),
                s["endTime"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    held.sort();
    assert_eq!(held.len(), 20, "{}", days.body);
    assert!(held.windows(2).all(|w| w[0].1 <= w[1].0), "{held:?}");
}

#[tokio::test]
async fn a_device_of_capacity_two_is_in_two_slots_at_once_never_three_and_other_rooms_are_free() {
    let app = TestApp::spawn().await;
    let staff = app.staff().await;
    let c = clinic(&app, &staff).await;
    let (a, b, d) = (
        app.provider().await,
        app.provider().await,
        app.provider().await,
    );
    ok(
        &create(
            &app,
            &a,
            slot_at(&a, &c, "2031-06-02T09:00:00Z", 60, &[&c.ecg, &c.room]),
        )
        .await,
        201,
    );
    ok(
        &create(
            &app,
            &b,
            slot_at(&b, &c, "2031-06-02T09:30:00Z", 30, &[&c.ecg, &c.other_room]),
        )
        .await,
        201,
    );
    let third = create(
        &app,
        &d,
        slot_at(&d, &c, "2031-06-02T09:45:00Z", 30, &[&c.ecg]),
    )
    .await;
    problem(&third, 409, "resource_conflict");
    assert!(
        third.body["detail"].as_str().unwrap().contains("ECG cart"),
        "{}",
        third.body
    );
    // Once one of the two has ended, the cart is free again; touching ends do not clash.
    let later = create(
        &app,
        &d,
        slot_at(&d, &c, "2031-06-02T10:00:00Z", 30, &[&c.ecg, &c.room]),
    )
    .await;
    ok(&later, 201);
    assert_eq!(
        later.body["resources"],
        json!([{"id": c.ecg, "name": "ECG cart", "kind": "equipment"},
               {"id": c.room, "name": "Exam 2B", "kind": "room"}]),
        "the slot shows what it holds by name"
    );
}

#[tokio::test]
async fn a_slot_names_only_active_resources_of_its_own_location() {
    let app = TestApp::spawn().await;
    let staff = app.staff().await;
    let c = clinic(&app, &staff).await;
    let elsewhere = clinic(&app, &staff).await;
    let a = app.provider().await;
    let start = "2031-07-01T09:00:00Z";
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut no_location = slot_at(&a, &c, start, 30, &[&c.room]);
    no_location.as_object_mut().unwrap().remove("locationId");
    let six: Vec<String> = (0..6).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for (body, field) in [
        (
            slot_at(&a, &c, start, 30, &[&elsewhere.room]),
            "resourceIds",
        ),
        (slot_at(&a, &c, start, 30, &[&unknown]), "resourceIds"),
        (
            slot_at(&a, &c, start, 30, &[&c.room, &c.room]),
            "resourceIds",
        ),
        (
            json!({"providerId": a.id, "startTime": start, "endTime": "2031-07-01T09:30:00Z",
            "locationId": c.location, "resourceIds": six}),
            "resourceIds",
        ),
        (no_location, "locationId"),
    ] {
        let r = create(&app, &a, body).await;
        problem(&r, 400, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
    }
    // Deactivated, a room takes no new slots; the slots that hold it keep it.
    ok(
        &create(&app, &a, slot_at(&a, &c, start, 30, &[&c.room])).await,
        201,
    );
    let off = app
        .send(
            &staff,
            "PATCH",
            &format!("/locations/{}/resources/{}", c.location, c.room),
            Some(json!({"active": false})),
        )
        .await;
    ok(&off, 200);
    let r = create(
        &app,
        &a,
        slot_at(&a, &c, "2031-07-02T09:00:00Z", 30, &[&c.room]),
    )
    .await;
    problem(&r, 400, "validation_failed");
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("inactive"),
        "{}",
        r.body
    );
    let listed = app
        .get(
            &format!("/locations/{}/resources?active=true", c.location),
            &a.token,
        )
        .await;
    ok(&listed, 200);
    let names: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ECG cart", "Exam 3"], "active ones, by name");
    // Only staff and admins keep resources; a patient does not see a room's schedule.
    let patient = app.patient().await;
    problem(
        &app.send(
            &a,
            "POST",
            &format!("/locations/{}/resources", c.location),
            Some(json!({"name": "X", "kind": "room"})),
        )
        .await,
        403,
        "forbidden",
    );
    problem(
        &app.get(
            &format!(
                "/locations/{}/resources/{}/schedule?date=2031-07-01",
                c.location, c.room
            ),
            &patient.token,
        )
        .await,
        403,
        "forbidden",
    );
    problem(
        &app.send(
            &staff,
            "POST",
            &format!("/locations/{}/resources", uuid::Uuid::new_v4()),
            Some(json!({"name": "X", "kind": "room"})),
        )
        .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn blocking_gives_the_room_back_and_releasing_takes_it_again_or_is_refused() {
    let app = TestApp::spawn().await;
    let staff = app.staff().await;
    let c = clinic(&app, &staff).await;
    let (a, b) = (app.provider().await, app.provider().await);
    let first = create(
        &app,
        &a,
        slot_at(&a, &c, "2031-08-04T09:00:00Z", 30, &[&c.room]),
    )
    .await;
    ok(&first, 201);
    let id = first.id();
    ok(&block(&app, &a).await, 200);
    // While a's slot is blocked, b may hold the room then.
    let second = create(
        &app,
        &b,
        slot_at(&b, &c, "2031-08-04T09:00:00Z", 30, &[&c.room]),
    )
    .await;
    ok(&second, 201);
    let refused = app
        .send(&a, "POST", &format!("/slots/{id}/release"), None)
        .await;
    problem(&refused, 409, "resource_conflict");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains(&second.id()),
        "{}",
        refused.body
    );
    // b blocks theirs: a's slot opens again and holds the room once more.
    ok(&block(&app, &b).await, 200);
    let released = app
        .send(&a, "POST", &format!("/slots/{id}/release"), None)
        .await;
    ok(&released, 200);
    assert_eq!(released.body["status"], "available");
    let back = app
        .send(&b, "POST", &format!("/slots/{}/release", second.id()), None)
        .await;
    problem(&back, 409, "resource_conflict");
    let day = app
        .get(
            &format!(
                "/locations/{}/resources/{}/schedule?date=2031-08-04",
                c.location, c.room
            ),
            &a.token,
        )
        .await;
    ok(&day, 200);
    let held: Vec<&str> = day.body["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(held, [id.as_str()], "{}", day.body);
}

/// Bulk generation for two providers sharing a room: the second's days that collide with the first's
/// are left out whole and named; the rest are made. Every day refused: 409.
#[tokio::test]
async fn bulk_generation_refuses_the_days_a_shared_room_is_taken_and_makes_the_rest() {
    let app = TestApp::spawn().await;
    let staff = app.staff().await;
    let c = clinic(&app, &staff).await;
    let (a, b) = (app.provider().await, app.provider().await);
    let morning = json!({"morning": {"start": "09:00", "end": "11:00"}});
    // a holds the room Tuesday and Thursday mornings.
    let first = bulk(
        &app,
        &c,
        &a,
        morning.clone(),
        json!(["2031-09-01", "2031-09-03", "2031-09-05"]),
    )
    .await;
    ok(&first, 201);
    assert_eq!(first.body["created"], 8);
    // b's 10:00-12:00 overlaps a's 10:00-11:00 on those days: Tuesday and Thursday are refused, named.
    let late = json!({"morning": {"start": "10:00", "end": "12:00"}});
    let second = bulk(&app, &c, &b, late.clone(), json!([])).await;
    ok(&second, 201);
    assert_eq!(second.body["created"], 12, "{}", second.body);
    let refused: Vec<(&str, usize)> = second.body["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap(),
                d["conflicts"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [("2031-09-02", 2), ("2031-09-04", 2)],
        "{}",
        second.body
    );
    let conflict = &second.body["refused"][0]["conflicts"][0];
    assert_eq!(
        (
            conflict["resource"]["name"].as_str(),
            conflict["startTime"].as_str(),
            conflict["heldFrom"].as_str()
        ),
        (
            Some("Exam 2B"),
            Some("2031-09-02T15:00:00Z"),
            Some("2031-09-02T15:00:00Z")
        ),
        "{conflict}"
    );
    // A repeat makes nothing new and refuses the same days; only colliding days: 409.
    let again = bulk(&app, &c, &b, late.clone(), json!([])).await;
    ok(&again, 201);
    assert_eq!(
        (
            again.body["created"].as_u64(),
            again.body["existing"].as_u64()
        ),
        (Some(0), Some(12))
    );
    let only = bulk(
        &app,
        &c,
        &b,
        late,
        json!(["2031-09-01", "2031-09-03", "2031-09-05"]),
    )
    .await;
    problem(&only, 409, "resource_conflict");
}

/// The requests a slot with a room costs: reading the location and the room, then the guards, then
/// one transaction; blocking it one transaction; releasing it three (the plain release refused, the
/// guards and the room, the transaction).
#[tokio::test]
async fn resources_cost_a_few_requests() {
    use shared::domain::resource::{Resource, ResourceKind};
    use shared::domain::{Interval, ProviderId, Slot, SlotId, UtcTime};
    let (_stack, store, counter) = clinic_tests::counted_store().await;
    let now = UtcTime::from_timestamp(jiff::Timestamp::now());
    let location = uuid::Uuid::new_v4();
    let room = Resource {
        id: uuid::Uuid::new_v4(),
        location_id: location,
        name: "Exam 2B".into(),
        kind: ResourceKind::Room,
        capacity: 1,
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store.put_resource(&room).await.unwrap();
    counter.take();
    let (_, found) = store
        .location_and_resources(location, &[room.id])
        .await
        .unwrap();
    assert_eq!(found, [Some(room.clone())]);
    clinic_tests::counted(&counter, &[("BatchGetItem", 1)], "a slot's place");
    let start: UtcTime = "2031-10-01T23:45:00Z".parse().unwrap();
    let iv = Interval::new(start, start.plus(jiff::SignedDuration::from_mins(30))).unwrap();
    let mut slot = Slot::open(SlotId::new(), ProviderId::new(), iv, 1, now);
    slot.location_id = Some(location.to_string());
    slot.resources = vec![room.shown()];
    let capacity = std::collections::HashMap::from([(room.id, 1)]);
    store.create_slot(&slot, &capacity, now).await.unwrap();
    // Across midnight: two days of the provider's guards and two of the room's, one batch read.
    clinic_tests::counted(
        &counter,
        &[("BatchGetItem", 1), ("TransactWriteItems", 1)],
        "a slot holding a room",
    );
    assert!(store.block_slot(&slot, None, now).await.unwrap());
    clinic_tests::counted(&counter, &[("TransactWriteItems", 1)], "blocking it");
    let open = store
        .release_slot(slot.id, None, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.resources, slot.resources);
    clinic_tests::counted(
        &counter,
        &[
            ("UpdateItem", 1),
            ("BatchGetItem", 1),
            ("TransactWriteItems", 1),
        ],
        "releasing it",
    );
    let guards = store.resource_days(room.id, &iv.utc_dates()).await.unwrap();
    assert!(
        guards
            .iter()
            .all(|g| g.intervals.contains_key(&slot.id.to_string())),
        "both days hold it again"
    );
}

/// A day whose transaction would pass DynamoDB's 100 actions (94 quarter-hour slots, the provider's
/// guard, five resources' guards and the provider's zone: 101) is refused before anything is written.
#[tokio::test]
async fn a_bulk_day_too_large_for_one_transaction_is_refused_whole() {
    let app = TestApp::spawn().await;
    let staff = app.staff().await;
    let c = clinic(&app, &staff).await;
    let a = app.provider().await;
    let mut five = vec![c.room.clone(), c.other_room.clone(), c.ecg.clone()];
    for name in ["Exam 4", "Exam 5"] {
        let r = app
            .send(
                &staff,
                "POST",
                &format!("/locations/{}/resources", c.location),
                Some(json!({"name": name, "kind": "room"})),
            )
            .await;
        ok(&r, 201);
        five.push(r.id());
    }
    let day = json!({"morning": {"start": "00:00", "end": "12:00"},
                     "afternoon": {"start": "12:00", "end": "23:30"}});
    let r = app
        .send(
            &a,
            "POST",
            "/slots/bulk",
            Some(
                json!({"providerId": a.id, "timeZone": "UTC", "startDate": "2031-10-06",
                "endDate": "2031-10-06", "workingHours": {"monday": day}, "slotDuration": 15,
                "locationId": c.location, "resourceIds": five}),
            ),
        )
        .await;
    problem(&r, 400, "validation_failed");
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("101 writes"),
        "{}",
        r.body
    );
    let mine = app
        .get(
            &format!("/providers/{}/schedule?date=2031-10-06&timeZone=UTC", a.id),
            &a.token,
        )
        .await;
    ok(&mine, 200);
    assert_eq!(mine.body["summary"]["total"], 0, "nothing written");
}
