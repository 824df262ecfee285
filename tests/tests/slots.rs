//! Slots: no two of a provider's slots overlap, even when created at once; listing open slots.

use clinic_tests::{refused, Done, NewSlot, TestApp};
use shared::api::views::{Page, SlotView};
use shared::domain::SlotState;

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
    app.book(&patient, &taken).await.done();

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
        let mut query = format!(
            "providerId={}&startDate={from}&endDate={to}&limit=2",
            provider.id
        );
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        app.counter.take();
        let page = app.available(&patient, &query).await.done();
        assert_eq!(
            app.counter.take(),
            [("Query".to_owned(), 1), ("GetItem".to_owned(), 1)].into(),
            "one Query per page, and at the same time the provider's settings"
        );
        pages += 1;
        for s in page.data {
            assert_eq!(s.status, SlotState::Available);
            seen.push(s.id.to_string());
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
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
        .available(
            &patient,
            &format!(
                "providerId={}&startDate={from}&endDate={to}&limit=1",
                provider.id
            ),
        )
        .await
        .done();
    let c = first.next_cursor.expect("a cursor");
    let forged = app
        .available(
            &patient,
            &format!(
                "providerId={}&startDate={from}&endDate={to}&cursor={c}",
                other.id
            ),
        )
        .await;
    refused(&forged, 400, "validation_failed");
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
    let query = format!(
        "providerId={}&startDate=2030-02-01&endDate=2030-02-02&limit=1",
        provider.id
    );
    let first = app.available(&patient, &query).await.done();
    assert_eq!(first.data[0].id.to_string(), slots[0]);
    let cursor = first.next_cursor.expect("a cursor");

    // The client reads on after the first slot has started: the query's lower bound is now past the
    // cursor, which DynamoDB would refuse as an ExclusiveStartKey.
    app.travel_to("2030-02-01T10:30:00Z");
    let second = app
        .available(&patient, &format!("{query}&cursor={cursor}"))
        .await
        .done();
    assert_eq!(second.data[0].id.to_string(), slots[2], "{second:?}");
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
    let query = format!(
        "providerId={}&startDate=2030-02-01&endDate=2030-02-01",
        provider.id
    );
    let notes_seen_by = |page: Page<SlotView>| page.data[0].notes.clone();
    let seen = app.available(&patient, &query).await.done();
    assert_eq!(seen.data[0].room_number.as_deref(), Some("4B"));
    assert_eq!(notes_seen_by(seen), None);
    let clinic_notes = Some("INTERNAL: double-check insurance".to_owned());
    let own = app.available(&provider, &query).await.done();
    assert_eq!(notes_seen_by(own), clinic_notes);
    let staff = app.available(&app.staff().await, &query).await.done();
    assert_eq!(notes_seen_by(staff), clinic_notes);
}

/// As the README says: `limit` is what one read examines and the free-seat filter applies after it,
/// so a page can be short, or empty, while `nextCursor` leads on.
#[tokio::test]
async fn a_page_can_be_short_and_the_cursor_leads_to_the_rest() {
    let app = TestApp::spawn_at("2030-02-01T08:00:00Z").await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slots = morning_of_three(&app, &provider).await;
    app.book(&patient, &slots[0]).await.done();
    app.book(&patient, &slots[1]).await.done();
    let query = format!(
        "providerId={}&startDate=2030-02-01&endDate=2030-02-01&limit=2",
        provider.id
    );
    let first = app.available(&patient, &query).await.done();
    assert!(first.data.is_empty(), "both read slots are full");
    let cursor = first.next_cursor.expect("a cursor leads on");
    let second = app
        .available(&patient, &format!("{query}&cursor={cursor}"))
        .await
        .done();
    assert_eq!(second.data[0].id.to_string(), slots[2]);
}
