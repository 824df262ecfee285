//! Slots: no two of a provider's slots overlap, even when created at once; listing open slots.

use clinic_tests::api::NewSlot;
use clinic_tests::TestApp;

#[tokio::test]
async fn available_slots_list_open_future_slots_soonest_first_in_pages() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let mut created = vec![];
    for h in [5, 1, 3, 2, 4] {
        created.push((h, app.slot(&provider, 24 + h, 1).await));
    }
    created.sort();
    // The slot at +2h is taken: it is no longer listed.
    let taken = created[1].1.clone();
    assert_eq!(app.book(&patient, &taken).await.status, 201);

    let from = clinic_tests::whole_minutes_from_now(0).utc_date();
    let to = from
        .tomorrow()
        .unwrap()
        .tomorrow()
        .unwrap()
        .tomorrow()
        .unwrap();
    let mut cursor: Option<String> = None;
    let mut seen = vec![];
    let mut pages = 0;
    loop {
        let mut path = format!(
            "/slots/available?providerId={}&startDate={from}&endDate={to}&limit=2",
            provider.id
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        app.counter.take();
        let page = app.get(&path, &patient.token).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(
            app.counter.take(),
            [("Query".to_owned(), 1), ("GetItem".to_owned(), 1)].into(),
            "one Query per page, and at the same time the provider's settings"
        );
        pages += 1;
        for s in page.body["data"].as_array().unwrap() {
            assert_eq!(s["status"], "available");
            seen.push(s["id"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10);
    }
    let expected: Vec<String> = created
        .iter()
        .filter(|(_, id)| *id != taken)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(seen, expected, "open slots, soonest first, each once");

    // A cursor from this provider's listing cannot read another provider's.
    let other = app.provider().await;
    let first = app
        .get(
            &format!(
                "/slots/available?providerId={}&startDate={from}&endDate={to}&limit=1",
                provider.id
            ),
            &patient.token,
        )
        .await;
    let c = first.body["nextCursor"].as_str().unwrap();
    let forged = app
        .get(
            &format!(
                "/slots/available?providerId={}&startDate={from}&endDate={to}&cursor={c}",
                other.id
            ),
            &patient.token,
        )
        .await;
    assert_eq!((forged.status, forged.code()), (400, "validation_failed"));
}

/// One-seat slots at 09:00, 10:00 and 11:00 UTC on 2030-02-01; their ids.
async fn morning_of_three(app: &TestApp, provider: &clinic_tests::Actor) -> Vec<String> {
    let mut ids = vec![];
    for start in [
        "2030-02-01T09:00:00Z",
        "2030-02-01T10:00:00Z",
        "2030-02-01T11:00:00Z",
    ] {
        ids.push(app.slot_at(provider, NewSlot::at(start)).await);
    }
    ids
}

#[tokio::test]
async fn a_cursor_that_time_has_overtaken_continues_with_the_slots_still_ahead() {
    let app = TestApp::spawn_at("2030-02-01T08:00:00Z").await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slots = morning_of_three(&app, &provider).await;
    let path = format!(
        "/slots/available?providerId={}&startDate=2030-02-01&endDate=2030-02-02&limit=1",
        provider.id
    );
    let first = app.get(&path, &patient.token).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["data"][0]["id"], slots[0].as_str());
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();

    // The client reads on after the first slot has started: the query's lower bound is now past the
    // cursor, which DynamoDB would refuse as an ExclusiveStartKey.
    app.travel_to("2030-02-01T10:30:00Z");
    let second = app
        .get(&format!("{path}&cursor={cursor}"), &patient.token)
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        second.body["data"][0]["id"],
        slots[2].as_str(),
        "{}",
        second.body
    );
}

#[tokio::test]
async fn patients_see_a_slots_time_and_seats_but_not_the_clinics_notes() {
    let app = TestApp::spawn_at("2030-02-01T08:00:00Z").await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let r = app
        .post(
            "/slots",
            &provider.token,
            serde_json::json!({"providerId": provider.id, "startTime": "2030-02-01T09:00:00Z", "endTime": "2030-02-01T09:30:00Z", "notes": "INTERNAL: double-check insurance", "roomNumber": "4B"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let path = format!(
        "/slots/available?providerId={}&startDate=2030-02-01&endDate=2030-02-01",
        provider.id
    );
    let seen = app.get(&path, &patient.token).await;
    assert_eq!(seen.status, 200);
    let slot = &seen.body["data"][0];
    assert_eq!(slot["roomNumber"], "4B");
    assert!(slot.get("notes").is_none(), "{slot}");
    let own = app.get(&path, &provider.token).await;
    assert_eq!(
        own.body["data"][0]["notes"],
        "INTERNAL: double-check insurance"
    );
    let staff = app.get(&path, &app.staff().await.token).await;
    assert_eq!(
        staff.body["data"][0]["notes"],
        "INTERNAL: double-check insurance"
    );
}

/// As the README says: `limit` is what one read examines and the free-seat filter applies after it,
/// so a page can be short, or empty, while `nextCursor` leads on.
#[tokio::test]
async fn a_page_can_be_short_and_the_cursor_leads_to_the_rest() {
    let app = TestApp::spawn_at("2030-02-01T08:00:00Z").await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slots = morning_of_three(&app, &provider).await;
    assert_eq!(app.book(&patient, &slots[0]).await.status, 201);
    assert_eq!(app.book(&patient, &slots[1]).await.status, 201);
    let path = format!(
        "/slots/available?providerId={}&startDate=2030-02-01&endDate=2030-02-01&limit=2",
        provider.id
    );
    let first = app.get(&path, &patient.token).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.body["data"],
        serde_json::json!([]),
        "both read slots are full"
    );
    let cursor = first.body["nextCursor"]
        .as_str()
        .expect("a cursor leads on");
    let second = app
        .get(&format!("{path}&cursor={cursor}"), &patient.token)
        .await;
    assert_eq!(second.body["data"][0]["id"], slots[2].as_str());
}
