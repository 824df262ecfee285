//! Lists: each caller sees their own appointments, one query per page.

use clinic_tests::{ok, problem, TestApp};

const EARLY: &str = "2027-06-01T07:00:00Z";

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
            app.booked_at(
                &provider,
                &patient,
                &format!("2027-06-0{}T09:00:00Z", h + 2),
                "in_person",
            )
            .await,
        );
    }
    let theirs = app
        .booked_at(
            &provider,
            &other_patient,
            "2027-06-02T11:00:00Z",
            "in_person",
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
