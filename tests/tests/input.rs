//! Bad input everywhere gets a clear 4xx problem and changes nothing: dates out of range, bodies of
//! the wrong shape, control characters, edited cursors, and what the local server meets before a
//! handler runs.

use clinic_tests::{Actor, Done, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn dates_outside_2000_to_2099_are_refused_by_every_endpoint_that_takes_one() {
    let app = TestApp::spawn().await;
    let admin = app.actor(&["provider", "staff", "admin"]).await;
    let p = &admin.id;
    let patient = app.patient().await;
    let slot = app.slot(&admin, 30, 1).await;
    let appointment = app.book(&patient, &slot).await.done().id.to_string();
    let hours = json!({"monday": {"morning": {"start": "09:00", "end": "10:00"}}});
    let before = app.items().await;

    let mut cases: Vec<(&str, String, Option<Value>)> = vec![];
    for far in [
        "9999-12-30",
        "2100-01-01",
        "1999-12-31",
        "0000-01-01",
        "-000001-01-01",
    ] {
        cases.extend([
            ("GET", format!("/slots/available?providerId={p}&startDate=2030-01-01&endDate={far}"), None),
            ("GET", format!("/slots/available?providerId={p}&startDate={far}&endDate=2030-01-01"), None),
            ("GET", format!("/appointments?providerId={p}&startDate={far}"), None),
            ("GET", format!("/appointments?providerId={p}&endDate={far}"), None),
            ("GET", format!("/appointments/reports/no-shows?providerId={p}&startDate=2030-01-01&endDate={far}"), None),
            ("GET", format!("/providers/{p}/schedule?date={far}&timeZone=UTC"), None),
            ("GET", format!("/audit?patientId={p}&from={far}&to=2030-01-01"), None),
            ("POST", "/slots/bulk".into(), Some(json!({"providerId": p, "timeZone": "UTC", "startDate": far, "endDate": far, "workingHours": hours, "slotDuration": 30}))),
            ("POST", "/slots/bulk".into(), Some(json!({"providerId": p, "timeZone": "UTC", "startDate": "2030-01-07", "endDate": "2030-01-07", "excludeDates": [far], "workingHours": hours, "slotDuration": 30}))),
            ("POST", format!("/appointments/{appointment}/complete"), Some(json!({"followUpRequired": true, "followUpDate": far}))),
        ]);
    }
    for far in [
        "9999-12-30T09:00:00Z",
        "2100-01-01T00:00:00Z",
        "1999-12-31T23:59:00Z",
    ] {
        cases.extend([
            (
                "GET",
                format!("/appointments?providerId={p}&startDate={far}"),
                None,
            ),
            (
                "POST",
                "/slots".into(),
                Some(json!({"providerId": p, "startTime": far, "endTime": "2030-01-01T09:30:00Z"})),
            ),
            (
                "POST",
                "/slots".into(),
                Some(json!({"providerId": p, "startTime": "2030-01-01T09:00:00Z", "endTime": far})),
            ),
            (
                "POST",
                "/slots/block".into(),
                Some(json!({"providerId": p, "startTime": "2030-01-01T00:00:00Z", "endTime": far})),
            ),
        ]);
    }
    for (method, path, body) in cases {
        let r = app.send(&admin, method, &path, body.clone()).await;
        assert_eq!(r.status, 400, "{method} {path} {body:?}: {}", r.body);
        assert!(r.is_problem(), "{method} {path}");
        let field = r.body["errors"][0]["field"].as_str().unwrap_or_default();
        assert!(
            [
                "startDate",
                "endDate",
                "date",
                "startTime",
                "endTime",
                "followUpDate",
                "from",
                "to",
            ]
            .contains(&field)
                || field.starts_with("excludeDates"),
            "{method} {path}: the date is named, not {field:?}: {}",
            r.body
        );
    }
    assert_eq!(app.items().await, before, "nothing changed");

    // The last day of the range is a day like any other.
    for path in [
        format!("/appointments?providerId={p}&startDate=2099-12-31"),
        format!("/slots/available?providerId={p}&startDate=2099-12-01&endDate=2099-12-31"),
        format!("/providers/{p}/schedule?date=2099-12-31&timeZone=UTC"),
        format!(
            "/appointments/reports/no-shows?providerId={p}&startDate=2099-12-01&endDate=2099-12-31"
        ),
    ] {
        let r = app.send(&admin, "GET", &path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn a_body_must_be_a_json_object_and_its_errors_name_what_is_wrong() {
    let app = TestApp::spawn().await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let before = app.items().await;
    let raw = |body: String| {
        let (app, token) = (&app, patient.token.clone());
        async move {
            app.request(
                "POST",
                "/appointments",
                Some(&token),
                Some(body),
                &[("content-type", "application/json")],
            )
            .await
        }
    };
    // serde takes an array for a struct, field by field: `["<slot>", null, ...]` once booked.
    let array = json!([slot, null, null, null, null, null, null, false]).to_string();
    for (body, expected) in [
        (array.as_str(), "must be a JSON object, not an array"),
        ("[]", "must be a JSON object, not an array"),
        ("\"x\"", "must be a JSON object, not a string"),
        ("null", "must be a JSON object, not null"),
    ] {
        let r = raw(body.to_owned()).await;
        clinic_tests::problem(&r, 400, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "body", "{body}");
        assert_eq!(r.body["errors"][0]["message"], expected, "{body}");
        assert!(!r.body.to_string().contains("BookBody"), "{}", r.body);
    }
    let r = raw(format!("{{\"slotId\": \"{slot}\",}}")).await;
    clinic_tests::problem(&r, 400, "validation_failed");
    let message = r.body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(r.body["errors"][0]["field"], "body");
    assert!(
        message.contains("trailing comma") && message.contains("line 1 column"),
        "{message}"
    );
    assert_eq!(app.items().await, before, "nothing booked");

    // A nested value of the wrong shape is named by its path, without Rust's type names.
    let r = app.send(&provider,
        "POST",
        "/slots/bulk",
        Some(json!({"providerId": provider.id, "timeZone": "UTC", "startDate": "2030-01-07", "endDate": "2030-01-07", "workingHours": "weekdays", "slotDuration": 30})),
    )
    .await;
    clinic_tests::problem(&r, 400, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "workingHours");
    assert_eq!(
        r.body["errors"][0]["message"],
        "invalid type: string \"weekdays\", expected a JSON object"
    );
}

#[tokio::test]
async fn free_text_refuses_control_characters_and_times_are_only_hh_mm() {
    let app = TestApp::spawn().await;
    let (provider, patient, staff) = (app.provider().await, app.patient().await, app.staff().await);
    let slot = app.slot(&provider, 30, 1).await;
    let booked = app.book(&patient, &slot).await.done().id.to_string();
    let before = app.items().await;
    let start = clinic_tests::whole_minutes_from_now(60 * 40);
    let end = start.plus(jiff::SignedDuration::from_mins(30));
    let cases: Vec<(&Actor, &str, String, Value, &str)> = vec![
        (
            &patient,
            "POST",
            "/appointments".into(),
            json!({"slotId": slot, "reasonForVisit": "pain\u{0}"}),
            "reasonForVisit",
        ),
        (
            &patient,
            "POST",
            "/appointments".into(),
            json!({"slotId": slot, "symptoms": ["ok", "bell\u{7}"]}),
            "symptoms",
        ),
        (
            &patient,
            "POST",
            format!("/appointments/{booked}/cancel"),
            json!({"reason": "moved\u{202e}txt.exe"}),
            "reason",
        ),
        (
            &provider,
            "POST",
            "/slots".into(),
            json!({"providerId": provider.id, "startTime": start, "endTime": end, "notes": "\u{1b}[31mINTERNAL"}),
            "notes",
        ),
        (
            &staff,
            "POST",
            "/appointment-types".into(),
            json!({"name": "Check\u{2066}up", "durationMinutes": 30}),
            "name",
        ),
        (
            &provider,
            "POST",
            "/slots/bulk".into(),
            json!({"providerId": provider.id, "timeZone": "UTC", "startDate": "2030-01-07", "endDate": "2030-01-07", "workingHours": {"monday": {"morning": {"start": "+9:00", "end": "10:00"}}}, "slotDuration": 30}),
            "workingHours.monday.morning.start",
        ),
    ];
    for (who, method, path, body, field) in cases {
        let r = app.send(who, method, &path, Some(body.clone())).await;
        clinic_tests::problem(&r, 400, "validation_failed");
        assert_eq!(
            r.body["errors"][0]["field"], field,
            "{path} {body}: {}",
            r.body
        );
    }
    assert_eq!(app.items().await, before, "nothing changed");

    // Newlines and tabs are text.
    let r = app
        .send(
            &patient,
            "POST",
            &format!("/appointments/{booked}/cancel"),
            Some(json!({"reason": "Moved away.\n\tNew address follows."})),
        )
        .await;
    clinic_tests::ok(&r, 200);
    // A type's consultation types are kept once each, in the order given.
    let r = app.send(&staff,
        "POST",
        "/appointment-types",
        Some(json!({"name": "Follow-up", "durationMinutes": 15, "consultationTypes": ["video", "phone", "video"]})),
    )
    .await;
    clinic_tests::ok(&r, 201);
    assert_eq!(r.body["consultationTypes"], json!(["video", "phone"]));
}

/// A cursor is sealed: it shows nothing of the table's keys, and one edited or made up is refused.
#[tokio::test]
async fn a_cursor_is_opaque_and_an_edited_or_forged_one_is_refused() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let provider = app.provider().await;
    for h in 1..=2 {
        let slot = app.slot(&provider, 30 + h, 1).await;
        app.book(&patient, &slot).await.done();
    }
    let page = app.get("/appointments?limit=1", &patient.token).await;
    let cursor = page.body["nextCursor"].as_str().unwrap();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes = engine.decode(cursor).unwrap();
    let shown = String::from_utf8_lossy(&bytes);
    assert!(
        serde_json::from_slice::<Value>(&bytes).is_err()
            && !shown.contains("PATIENT")
            && !shown.contains(&patient.id.to_string()),
        "the cursor shows the table's keys: {shown}"
    );
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    // What a client could make up from the keys it knows (the shape cursors had before they were sealed).
    let made_up = serde_json::json!({
        "PK": format!("APPT#{}", uuid::Uuid::new_v4()), "SK": "APPT",
        "GSI1PK": format!("PATIENT#{}", patient.id), "GSI1SK": "2030-01-01T00:00:00Z#x",
    });
    for forged in [
        engine.encode(flipped),
        engine.encode(made_up.to_string()),
        format!("{cursor}A"),
    ] {
        let r = app
            .get(
                &format!("/appointments?limit=1&cursor={forged}"),
                &patient.token,
            )
            .await;
        clinic_tests::problem(&r, 400, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "cursor");
    }
    let next = app
        .get(
            &format!("/appointments?limit=1&cursor={cursor}"),
            &patient.token,
        )
        .await;
    clinic_tests::ok(&next, 200);
    assert_eq!(next.body["data"].as_array().map(Vec::len), Some(1));
}

/// Sends `head` (request line and headers, without the blank line) over a plain TCP connection and
/// returns the status and body of the answer: for requests a well-behaved client cannot build.
async fn raw_request(app: &TestApp, head: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    stream
        .write_all(b"\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![];
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_local_server_answers_broken_and_oversized_requests_with_problems() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let auth = format!("authorization: Bearer {}", patient.token);

    // A broken percent-encoding of a multi-byte character used to panic and close the connection.
    let head = format!("GET /appointments/%\u{20ac} HTTP/1.1\r\nhost: x\r\n{auth}");
    let (status, body) = raw_request(&app, head.as_bytes()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation_failed")),
        "{body}"
    );

    let long = format!(
        "GET /appointments/{} HTTP/1.1\r\nhost: x\r\n{auth}",
        "a".repeat(70_000)
    );
    let (status, body) = raw_request(&app, long.as_bytes()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (414, Some("uri_too_long")),
        "{body}"
    );

    let big = format!(
        "GET /appointments HTTP/1.1\r\nhost: x\r\n{auth}\r\nx-padding: {}",
        "p".repeat(20_000)
    );
    let (status, body) = raw_request(&app, big.as_bytes()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (431, Some("headers_too_large")),
        "{body}"
    );

    // A byte no URL may hold (here a raw 0xFF, which is not UTF-8) used to get hyper's bare 400: a
    // problem now, and an OperationOutcome on a FHIR route.
    let mut head = b"GET /slots/available?providerId=\xff HTTP/1.1\r\nhost: x\r\n".to_vec();
    head.extend_from_slice(auth.as_bytes());
    let (status, body) = raw_request(&app, &head).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("validation_failed")),
        "{body}"
    );
    let mut head = b"GET /fhir/Appointment/\xff HTTP/1.1\r\nhost: x\r\n".to_vec();
    head.extend_from_slice(auth.as_bytes());
    let (status, body) = raw_request(&app, &head).await;
    assert_eq!(
        (
            status,
            body["resourceType"].as_str(),
            body["issue"][0]["code"].as_str()
        ),
        (400, Some("OperationOutcome"), Some("invalid")),
        "{body}"
    );

    // The server is still there.
    clinic_tests::ok(&app.get("/appointments", &patient.token).await, 200);
}

#[tokio::test]
async fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let started = local::LocalStack::start(local::Options {
        prefix: format!("p{}", &uuid::Uuid::new_v4().simple().to_string()[..10]),
        sdk: local::sdk_config(clinic_tests::emulator_url()),
        api_db: None,
        clock: Default::default(),
        addr,
        parameters: vec![],
    })
    .await;
    let error = started.err().expect("the port is taken").to_string();
    assert!(error.contains(&addr.to_string()), "{error}");
}

/// Found by schemathesis: an empty query value (`?providerId=`) was taken for an absent one.
#[tokio::test]
async fn an_empty_query_value_is_a_wrong_value_not_an_absent_one() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    for (path, field) in [
        ("/appointments/upcoming?providerId=", "providerId"),
        ("/appointments/history?patientId=", "patientId"),
        ("/appointments?status=", "status"),
        ("/appointments?limit=", "limit"),
        ("/appointment-types?cursor=", "cursor"),
    ] {
        let r = app.get(path, &patient.token).await;
        clinic_tests::problem(&r, 400, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{path}: {}", r.body);
    }
}
