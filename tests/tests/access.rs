//! Who may do what (DESIGN.md section 7) and what bad input gets: each a 4xx problem+json with a
//! stable code, and the table unchanged.

use clinic_tests::{problem, refused, Actor, Booking, Done, TestApp};
use serde_json::json;
use shared::domain::AppointmentStatus;

async fn table_size(app: &TestApp) -> usize {
    app.items().await.len()
}

#[tokio::test]
async fn every_role_sees_exactly_what_it_may_of_an_appointment() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let other_provider = app.provider().await;
    let patient = app.patient().await;
    let other_patient = app.patient().await;
    let staff = app.staff().await;
    let admin = app.admin().await;
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    // Private notes are written by the completion endpoint of a later issue; set one directly.
    app.set_appointment_field(&id, "privateNotes", "rule out migraine")
        .await;

    let cases: [(&str, &Actor, u16, bool); 6] = [
        ("owning patient", &patient, 200, false),
        ("another patient", &other_patient, 404, false),
        ("owning provider", &provider, 200, true),
        ("another provider", &other_provider, 404, false),
        ("staff", &staff, 200, false),
        ("admin", &admin, 200, true),
    ];
    for (who, actor, status, sees_private) in cases {
        match (app.appointment(actor, &id).await, status) {
            (Ok(seen), 200) => assert_eq!(seen.private_notes.is_some(), sees_private, "{who}"),
            (Err(refused), 404) => assert_eq!(refused.code, "not_found", "{who}"),
            (answer, _) => panic!("{who}: expected {status}, got {answer:?}"),
        }
    }
    let anonymous = app
        .request("GET", &format!("/appointments/{id}"), None, None, &[])
        .await;
    problem(&anonymous, 401, "unauthorized");

    // Cancel: another patient or provider cannot (and cannot learn it exists); staff can.
    refused(
        &app.cancel(&other_patient, &id, "x").await,
        404,
        "not_found",
    );
    refused(
        &app.cancel(&other_provider, &id, "x").await,
        404,
        "not_found",
    );
    let by_staff = app.cancel(&staff, &id, "clinic closed").await.done();
    assert_eq!(by_staff.status, AppointmentStatus::Cancelled);
    assert!(
        by_staff.private_notes.is_none(),
        "staff do not see private notes"
    );
}

#[tokio::test]
async fn patients_book_for_themselves_and_staff_for_anyone() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let other = app.patient().await;
    let staff = app.staff().await;
    let slot = app.slot(&provider, 30, 3).await;
    let before = table_size(&app).await;

    let for_other = Booking {
        slot: &slot,
        patient: Some(other.id),
        ..Default::default()
    };
    let by_patient = app.book(&patient, for_other.clone()).await;
    refused(&by_patient, 403, "forbidden");
    assert_eq!(
        by_patient.unwrap_err().detail,
        "a patient may book only for themself"
    );
    let by_provider = app.book(&provider, for_other.clone()).await;
    refused(&by_provider, 403, "forbidden");
    assert_eq!(
        by_provider.unwrap_err().detail,
        "only the patient, staff or an admin may book",
        "a provider is told who may book, not what a patient may"
    );
    refused(&app.book(&staff, &slot).await, 400, "validation_failed");
    assert_eq!(
        table_size(&app).await,
        before,
        "refused bookings write nothing"
    );

    let by_staff = app.book(&staff, for_other).await.done();
    assert_eq!(by_staff.patient_id.uuid(), other.id);
    let own = Booking {
        slot: &slot,
        patient: Some(patient.id),
        ..Default::default()
    };
    app.book(&patient, own).await.done();
}

#[tokio::test]
async fn providers_create_only_their_own_slots() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let other = app.provider().await;
    let patient = app.patient().await;
    let staff = app.staff().await;
    let start = clinic_tests::whole_minutes_from_now(24 * 60);
    let end = start.plus(jiff::SignedDuration::from_mins(30));
    let body = json!({"providerId": provider.id, "startTime": start, "endTime": end});
    problem(
        &app.post("/slots", &other.token, body.clone()).await,
        403,
        "forbidden",
    );
    problem(
        &app.post("/slots", &patient.token, body.clone()).await,
        403,
        "forbidden",
    );
    problem(&app.post("/slots", &provider.token, json!({"providerId": provider.id, "startTime": start, "endTime": end, "isOverbook": true})).await, 403, "forbidden");
    assert_eq!(table_size(&app).await, 0);
    assert_eq!(app.post("/slots", &staff.token, body).await.status, 201);
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_it_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    let before = app.items().await;
    let raw = |path: &str, body: &str| {
        let (path, body) = (path.to_owned(), body.to_owned());
        let (app, token) = (&app, patient.token.clone());
        async move {
            app.request("POST", &path, Some(&token), Some(body), &[])
                .await
        }
    };

    problem(
        &raw("/appointments", "{\"slotId\": ").await,
        400,
        "validation_failed",
    );
    problem(&raw("/appointments", "").await, 400, "validation_failed");
    problem(&raw("/appointments", "[]").await, 400, "validation_failed");
    let wrong_type = raw("/appointments", &json!({"slotId": 42}).to_string()).await;
    problem(&wrong_type, 400, "validation_failed");
    assert_eq!(wrong_type.body["errors"][0]["field"], "slotId");
    let not_uuid = raw("/appointments", &json!({"slotId": "slot-1"}).to_string()).await;
    assert_eq!(not_uuid.body["errors"][0]["field"], "slotId");
    let unknown_field = raw(
        "/appointments",
        &json!({"slotId": slot, "slotID": slot}).to_string(),
    )
    .await;
    problem(&unknown_field, 400, "validation_failed");
    let bad_enum = raw(
        "/appointments",
        &json!({"slotId": slot, "consultationType": "telepathy"}).to_string(),
    )
    .await;
    assert_eq!(bad_enum.body["errors"][0]["field"], "consultationType");
    let long = raw(
        "/appointments",
        &json!({"slotId": slot, "reasonForVisit": "x".repeat(1001)}).to_string(),
    )
    .await;
    assert_eq!(long.body["errors"][0]["field"], "reasonForVisit");
    problem(
        &raw(
            "/appointments",
            &json!({"slotId": uuid::Uuid::new_v4()}).to_string(),
        )
        .await,
        404,
        "not_found",
    );
    let bad_key = app
        .request(
            "POST",
            "/appointments",
            Some(&patient.token),
            Some(json!({"slotId": slot}).to_string()),
            &[("idempotency-key", "")],
        )
        .await;
    problem(&bad_key, 400, "validation_failed");
    let form = app
        .request(
            "POST",
            "/appointments",
            Some(&patient.token),
            None,
            &[("content-type", "text/plain")],
        )
        .await;
    problem(&form, 415, "unsupported_media_type");

    problem(
        &app.get("/appointments/not-a-uuid", &patient.token).await,
        400,
        "validation_failed",
    );
    problem(
        &app.get(
            &format!("/appointments/{}", uuid::Uuid::new_v4()),
            &patient.token,
        )
        .await,
        404,
        "not_found",
    );
    problem(
        &raw(&format!("/appointments/{id}/cancel"), "{}").await,
        400,
        "validation_failed",
    );
    problem(
        &raw(
            &format!("/appointments/{id}/cancel"),
            &json!({"reason": "  "}).to_string(),
        )
        .await,
        400,
        "validation_failed",
    );

    let start = clinic_tests::whole_minutes_from_now(48 * 60);
    let slot_body = |end: jiff::SignedDuration, seats: u32| {
        json!({"providerId": provider.id, "startTime": start, "endTime": start.plus(end), "maxBookings": seats}).to_string()
    };
    let as_provider = |body: String| {
        let (app, token) = (&app, provider.token.clone());
        async move {
            app.request("POST", "/slots", Some(&token), Some(body), &[])
                .await
        }
    };
    let backwards = as_provider(slot_body(jiff::SignedDuration::from_mins(-30), 1)).await;
    problem(&backwards, 400, "validation_failed");
    assert_eq!(backwards.body["errors"][0]["field"], "endTime");
    problem(
        &as_provider(slot_body(jiff::SignedDuration::from_mins(30), 0)).await,
        400,
        "validation_failed",
    );
    problem(
        &as_provider(slot_body(jiff::SignedDuration::from_hours(13), 1)).await,
        400,
        "validation_failed",
    );
    problem(&as_provider(json!({"providerId": provider.id, "startTime": "2020-01-01T09:00:00Z", "endTime": "2020-01-01T09:30:00Z"}).to_string()).await, 400, "validation_failed");
    problem(&as_provider(json!({"providerId": provider.id, "startTime": "tomorrow", "endTime": "2030-01-01T09:30:00Z"}).to_string()).await, 400, "validation_failed");

    let q = |query: &str| {
        let path = format!("/slots/available?{query}");
        let (app, token) = (&app, patient.token.clone());
        async move { app.get(&path, &token).await }
    };
    problem(
        &q("providerId=x&startDate=2027-01-01&endDate=2027-01-02").await,
        400,
        "validation_failed",
    );
    let missing = q("").await;
    problem(&missing, 400, "validation_failed");
    assert_eq!(
        missing.body["errors"].as_array().unwrap().len(),
        3,
        "every missing parameter is named"
    );
    problem(
        &q(&format!(
            "providerId={}&startDate=2027-01-02&endDate=2027-01-01",
            provider.id
        ))
        .await,
        400,
        "validation_failed",
    );
    problem(
        &q(&format!(
            "providerId={}&startDate=2027-01-01&endDate=2027-01-02&limit=500",
            provider.id
        ))
        .await,
        400,
        "validation_failed",
    );
    problem(
        &q(&format!(
            "providerId={}&startDate=2027-01-01&endDate=2027-01-02&cursor=abc",
            provider.id
        ))
        .await,
        400,
        "validation_failed",
    );

    for token in [None, Some("garbage"), Some("a.b.c")] {
        let r = app
            .request(
                "POST",
                "/appointments",
                token,
                Some(json!({"slotId": slot}).to_string()),
                &[],
            )
            .await;
        problem(&r, 401, "unauthorized");
    }
    problem(
        &app.request("GET", "/nowhere", Some(&patient.token), None, &[])
            .await,
        404,
        "not_found",
    );
    assert_eq!(
        app.items().await,
        before,
        "no bad request changed the table"
    );
}

/// The patient's list, asked from a browser at `origin`.
async fn listed(app: &TestApp, token: &str, origin: &str) -> clinic_tests::Reply {
    app.request(
        "GET",
        "/appointments",
        Some(token),
        None,
        &[("origin", origin)],
    )
    .await
}

/// A browser client: with no origin named (the default), no cross-origin call is allowed and `OPTIONS`
/// is a route like any other (none: 404); with `CorsAllowedOrigins`, the gateway answers preflights
/// itself, before the authorizer, and only the origins named get CORS headers.
#[tokio::test]
async fn browsers_may_call_only_from_the_origins_named() {
    const APP: &str = "https://app.example.org";
    let preflight = |origin: &'static str, method: &'static str, headers: &'static str| {
        [
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", headers),
        ]
    };

    let closed = TestApp::spawn().await;
    let patient = closed.patient().await;
    let asked = preflight(APP, "POST", "authorization,content-type,idempotency-key");
    problem(
        &closed
            .request("OPTIONS", "/appointments", None, None, &asked)
            .await,
        404,
        "not_found",
    );
    let plain = listed(&closed, &patient.token, APP).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert!(plain.headers.get("access-control-allow-origin").is_none());

    let open = TestApp::spawn_configured(
        clinic_tests::Aws::Faithful,
        shared::domain::Clock::System,
        &[(
            "CorsAllowedOrigins",
            "https://app.example.org,https://admin.example.org",
        )],
    )
    .await;
    let patient = open.patient().await;
    // No token: the gateway answers a preflight before the authorizer.
    let allowed = open
        .request("OPTIONS", "/appointments", None, None, &asked)
        .await;
    assert_eq!(allowed.status, 204, "{}", allowed.body);
    let header = |r: &clinic_tests::Reply, name: &str| {
        r.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    assert!(header(&allowed, "access-control-allow-headers")
        .unwrap()
        .contains("idempotency-key"));
    assert_eq!(
        header(&allowed, "access-control-max-age").as_deref(),
        Some("600")
    );

    for refused in [
        preflight("https://evil.example", "GET", "authorization"),
        preflight(APP, "CONNECT", "authorization"),
        preflight(APP, "GET", "x-forwarded-secret"),
    ] {
        let r = open
            .request("OPTIONS", "/appointments", None, None, &refused)
            .await;
        assert_eq!(r.status, 204);
        assert!(
            header(&r, "access-control-allow-origin").is_none(),
            "{refused:?}"
        );
    }

    let from_app = listed(&open, &patient.token, APP).await;
    assert_eq!(from_app.status, 200, "{}", from_app.body);
    assert_eq!(
        header(&from_app, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert!(header(&from_app, "access-control-expose-headers")
        .unwrap()
        .contains("location"));
    // A refusal carries them too, so the browser lets the client read the problem.
    let refusal = open
        .request("GET", "/appointments", None, None, &[("origin", APP)])
        .await;
    problem(&refusal, 401, "unauthorized");
    assert_eq!(
        header(&refusal, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    let elsewhere = listed(&open, &patient.token, "https://evil.example").await;
    assert_eq!(elsewhere.status, 200);
    assert!(header(&elsewhere, "access-control-allow-origin").is_none());
}
