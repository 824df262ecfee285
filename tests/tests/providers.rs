//! The provider directory's profiles (issue 20, section 1): `PUT /providers/{id}` by the provider,
//! staff or an admin, stored canonical and versioned with ETag / If-Match; `GET` by anyone signed in;
//! never touching the provider's settings, nor they it; read through FHIR as a Practitioner, valid R4;
//! listed in the directory (`GET /providers`), a read model `publish` keeps from the stream.

use std::time::{Duration, Instant};

use clinic_tests::{both_ways, ok, problem, Actor, Aws, Done, TestApp};
use serde_json::{json, Value};

both_ways!(the_directory_finds_providers_by_what_patients_choose_them_by);

#[tokio::test]
async fn a_provider_publishes_a_profile_that_anyone_signed_in_reads() {
    let app = TestApp::spawn().await;
    let (provider, other, patient, staff, admin) = (
        app.provider().await,
        app.provider().await,
        app.patient().await,
        app.staff().await,
        app.admin().await,
    );
    problem(&app.profile_of(&patient, &provider).await, 404, "not_found");

    let body = json!({
        "displayName": " Dr. Ana Ruiz ",
        "specialties": [{"code": "207Q00000X", "display": "Family Medicine"}],
        "languages": ["ES-mx", "en", "es-MX"],
        "telehealthRegions": ["us-ca", "US-AZ"],
        "acceptingNewPatients": true
    });
    // Only the provider, staff and admins write it; another provider or a patient is refused, before
    // the body is even read.
    for who in [&other, &patient] {
        problem(
            &app.put_profile(who, &provider, body.clone(), None).await,
            403,
            "forbidden",
        );
    }
    let put = app
        .put_profile(&provider, &provider, body.clone(), None)
        .await;
    ok(&put, 200);
    assert_eq!(put.headers["etag"], "\"1\"");
    assert_eq!(
        (
            &put.body["displayName"],
            &put.body["languages"],
            &put.body["telehealthRegions"],
            &put.body["active"],
            &put.body["locationIds"]
        ),
        (
            &json!("Dr. Ana Ruiz"),
            &json!(["en", "es-MX"]),
            &json!(["US-AZ", "US-CA"]),
            &json!(true),
            &json!([])
        )
    );
    for who in [&patient, &other, &staff, &admin] {
        let read = app.profile_of(who, &provider).await;
        ok(&read, 200);
        assert_eq!(read.body, put.body);
        assert_eq!(read.headers["etag"], "\"1\"");
    }

    // What GET answered goes back as it is; a stale If-Match writes nothing.
    let mut changed = put.body.clone();
    changed["acceptingNewPatients"] = json!(false);
    problem(
        &app.put_profile(&staff, &provider, changed.clone(), Some("\"0\""))
            .await,
        412,
        "precondition_failed",
    );
    assert_eq!(app.profile_of(&admin, &provider).await.body, put.body);
    let second = app
        .put_profile(&staff, &provider, changed.clone(), Some("\"1\""))
        .await;
    ok(&second, 200);
    assert_eq!(second.headers["etag"], "\"2\"");
    assert_eq!(second.body["acceptingNewPatients"], json!(false));

    // Bad input is refused whole, naming each field, and changes nothing.
    let bad = app
        .put_profile(
            &admin,
            &provider,
            json!({"displayName": "", "languages": ["english"], "telehealthRegions": ["California"]}),
            None,
        )
        .await;
    problem(&bad, 400, "validation_failed");
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["displayName", "languages", "telehealthRegions"]);
    for shape in [
        json!({"displayName": "A", "ssn": "123"}),
        json!({"displayName": "A", "languages": "en"}),
        json!({"providerId": other.id, "displayName": "A"}),
    ] {
        problem(
            &app.put_profile(&admin, &provider, shape.clone(), None)
                .await,
            400,
            "validation_failed",
        );
    }
    assert_eq!(app.profile_of(&admin, &provider).await.body, second.body);

    // The profile and the settings are two parts of the provider's item, each with its own version.
    ok(
        &app.put_settings(&provider, &provider, json!({"minimumNoticeMinutes": 60}))
            .await,
        200,
    );
    let settings = app.settings(&provider, &provider).await;
    assert_eq!(settings.headers["etag"], "\"1\"");
    assert_eq!(settings.body["minimumNoticeMinutes"], 60);
    let profile = app.profile_of(&patient, &provider).await;
    assert_eq!(profile.body, second.body);
    assert_eq!(profile.headers["etag"], "\"2\"");
}

#[tokio::test]
async fn a_profile_is_a_valid_fhir_practitioner() {
    let app = TestApp::spawn().await;
    let (provider, stranger, patient) = (
        app.provider().await,
        app.provider().await,
        app.patient().await,
    );
    let body = json!({"displayName": "Dr. Kim Lee", "languages": ["ko", "en-US"], "active": true});
    ok(
        &app.put_profile(&provider, &provider, body, None).await,
        200,
    );
    let read = app
        .fhir(&patient, &format!("/fhir/Practitioner/{}", provider.id))
        .await;
    ok(&read, 200);
    assert_eq!(
        (
            &read.body["resourceType"],
            &read.body["id"],
            &read.body["name"][0]["text"]
        ),
        (
            &json!("Practitioner"),
            &json!(provider.id),
            &json!("Dr. Kim Lee")
        )
    );
    assert_eq!(
        read.body["communication"][1]["coding"][0],
        json!({"system": "urn:ietf:bcp:47", "code": "ko"})
    );
    // A provider without a profile is not a Practitioner here: an OperationOutcome.
    let missing = app
        .fhir(&patient, &format!("/fhir/Practitioner/{}", stranger.id))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["resourceType"], "OperationOutcome");
    let capability = app.fhir(&patient, "/fhir/metadata").await;
    let types: Vec<&str> = capability.body["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert!(types.contains(&"Practitioner"), "{types:?}");
}

#[tokio::test]
async fn an_appointment_type_is_a_valid_fhir_healthcare_service() {
    let app = TestApp::spawn().await;
    let (admin, patient) = (app.admin().await, app.patient().await);
    let made = app
        .create_type(
            &admin,
            json!({"name": "New patient consult", "durationMinutes": 60, "consultationFee": 80,
                   "consultationTypes": ["video", "in_person"], "description": "A first visit."}),
        )
        .await
        .done();
    let read = app
        .fhir(&patient, &format!("/fhir/HealthcareService/{}", made.id))
        .await;
    ok(&read, 200);
    assert_eq!(
        (
            &read.body["name"],
            &read.body["active"],
            &read.body["characteristic"],
            &read.body["extraDetails"]
        ),
        (
            &json!("New patient consult"),
            &json!(true),
            &json!([{"text": "video"}, {"text": "in_person"}]),
            &json!("60 minutes; fee 80.00")
        )
    );
    let missing = app
        .fhir(
            &patient,
            &format!("/fhir/HealthcareService/{}", uuid::Uuid::new_v4()),
        )
        .await;
    assert_eq!(
        (missing.status, &missing.body["resourceType"]),
        (404, &json!("OperationOutcome"))
    );
}

/// The display names of every provider `GET /providers?{query}` lists, page after page.
async fn directory(app: &TestApp, who: &Actor, query: &str) -> Vec<String> {
    let mut names = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/providers?{query}&cursor={c}"),
            None => format!("/providers?{query}"),
        };
        let page = app.send(who, "GET", &path, None).await;
        ok(&page, 200);
        for listing in page.body["data"].as_array().unwrap() {
            names.push(listing["displayName"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return names,
        }
    }
}

/// Waits (up to 30 s) until the directory lists exactly `want` for `query`: the index follows the
/// stream, so a change shows once `publish` has run.
async fn listed(app: &TestApp, who: &Actor, query: &str, want: &[&str]) {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let names = directory(app, who, query).await;
        if names == want {
            return;
        }
        assert!(Instant::now() < give_up, "{query}: {names:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_directory_finds_providers_by_what_patients_choose_them_by(aws: Aws) {
    let app = TestApp::spawn_on(aws, shared::domain::Clock::System).await;
    let patient = app.patient().await;
    let clinic = uuid::Uuid::new_v4();
    let family = json!({"code": "207Q00000X", "display": "Family Medicine"});
    let cardio = json!({"code": "207RC0000X", "display": "Cardiovascular Disease"});
    let mut made: Vec<(Actor, Value)> = vec![];
    for body in [
        json!({"displayName": "Ana Ruiz", "specialties": [family], "languages": ["es-MX", "en"],
               "telehealthRegions": ["US-CA"], "locationIds": [clinic]}),
        json!({"displayName": "Bruno Silva", "specialties": [cardio], "languages": ["es", "pt-BR"],
               "telehealthRegions": ["US-AZ"]}),
        json!({"displayName": "Carla Jones", "specialties": [family], "languages": ["en"],
               "telehealthRegions": ["US-CA", "US-NV"], "locationIds": [clinic]}),
        json!({"displayName": "Dora Inactive", "specialties": [family], "languages": ["es"],
               "telehealthRegions": ["US-CA"], "active": false}),
    ] {
        let provider = app.provider().await;
        ok(
            &app.put_profile(&provider, &provider, body.clone(), None)
                .await,
            200,
        );
        made.push((provider, body));
    }
    // Everyone active, by name; never the inactive one.
    listed(
        &app,
        &patient,
        "limit=100",
        &["Ana Ruiz", "Bruno Silva", "Carla Jones"],
    )
    .await;
    // Each profile's first write created the provider's item (an UpdateItem): one stream record, which
    // publish read. (moto wrote a key-only INSERT first, which publish parked; the emulator writes one.)
    assert_eq!(
        app.peek_queue("ParkedRecordsQueue").await,
        Vec::<Value>::new(),
        "nothing parked"
    );
    // Each filter, and filters together (any region of a language; codes in any case).
    for (query, want) in [
        ("language=es", &["Ana Ruiz", "Bruno Silva"][..]),
        ("language=ES-es", &["Ana Ruiz", "Bruno Silva"]),
        ("language=es&region=us-ca", &["Ana Ruiz"]),
        ("specialty=207Q00000X", &["Ana Ruiz", "Carla Jones"]),
        (
            "specialty=207Q00000X&language=en&region=US-CA",
            &["Ana Ruiz", "Carla Jones"],
        ),
        ("region=US-NV", &["Carla Jones"]),
        ("language=pt", &["Bruno Silva"]),
        ("language=fr", &[]),
    ] {
        assert_eq!(directory(&app, &patient, query).await, want, "{query}");
    }
    let at_clinic = format!("locationId={clinic}&language=es");
    assert_eq!(directory(&app, &patient, &at_clinic).await, ["Ana Ruiz"]);
    // One listing a page, followed by its cursor, is the same directory.
    assert_eq!(
        directory(&app, &patient, "limit=1").await,
        ["Ana Ruiz", "Bruno Silva", "Carla Jones"]
    );

    // The same directory as FHIR PractitionerRoles: by specialty (a token's system is not compared),
    // or one practitioner's; valid R4.
    let roles = app
        .fhir(
            &patient,
            "/fhir/PractitionerRole?specialty=http://nucc.org/provider-taxonomy|207Q00000X",
        )
        .await;
    ok(&roles, 200);
    let names: Vec<&str> = roles.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["practitioner"]["display"].as_str())
        .collect();
    assert_eq!(names, ["Ana Ruiz", "Carla Jones"]);
    let bruno = &made[1].0;
    let one = app
        .fhir(
            &patient,
            &format!(
                "/fhir/PractitionerRole?practitioner=Practitioner/{}",
                bruno.id
            ),
        )
        .await;
    assert_eq!(one.body["total"], 1);
    assert_eq!(
        one.body["entry"][0]["resource"]["specialty"][0]["coding"][0]["code"],
        "207RC0000X"
    );
    let bad = app
        .fhir(&patient, "/fhir/PractitionerRole?practitioner=Bruno")
        .await;
    assert_eq!(
        (bad.status, &bad.body["resourceType"]),
        (400, &json!("OperationOutcome"))
    );

    // A change of profile moves the provider: Ana now sees patients in Arizona, not California; Carla
    // stops practising.
    let (ana, mut body) = made[0].clone();
    body["telehealthRegions"] = json!(["US-AZ"]);
    ok(&app.put_profile(&ana, &ana, body, None).await, 200);
    listed(&app, &patient, "region=US-CA", &["Carla Jones"]).await;
    listed(
        &app,
        &patient,
        "region=US-AZ&language=es",
        &["Ana Ruiz", "Bruno Silva"],
    )
    .await;
    let (carla, mut body) = made[2].clone();
    body["active"] = json!(false);
    ok(&app.put_profile(&carla, &carla, body, None).await, 200);
    listed(&app, &patient, "specialty=207Q00000X", &["Ana Ruiz"]).await;
    listed(&app, &patient, "limit=100", &["Ana Ruiz", "Bruno Silva"]).await;

    // Bad filters are refused, naming the field.
    for (query, field) in [
        ("language=english", "language"),
        ("region=California", "region"),
        ("specialty=a%20b", "specialty"),
        ("locationId=clinic", "locationId"),
        ("limit=0", "limit"),
        ("cursor=forged", "cursor"),
    ] {
        let refused = app
            .send(&patient, "GET", &format!("/providers?{query}"), None)
            .await;
        problem(&refused, 400, "validation_failed");
        assert_eq!(refused.body["errors"][0]["field"], field, "{query}");
    }
}

/// Throttled, BatchWriteItem does part of its requests and returns the rest as UnprocessedItems; the
/// directory's relisting sends them again until every listing is written, and a second delivery of
/// the same change writes the same.
#[tokio::test]
async fn relisting_survives_throttled_batch_writes() {
    let _lock = TestApp::faults_lock().await;
    let app = TestApp::spawn_on(Aws::Faulty, shared::domain::Clock::System).await;
    app.set_faults("throttling=0.6").await;
    let store = app.service_store();
    let provider = shared::domain::ProviderId::new();
    let profile: shared::domain::profile::Profile = serde_json::from_value(json!({
        "displayName": "Many Regions",
        "languages": ["en", "es", "fr", "de"],
        "telehealthRegions": (1..=40).map(|i| format!("US-{i}")).collect::<Vec<_>>(),
    }))
    .unwrap();
    let profile = profile.canonical();
    let facets = profile.facets().len();
    assert!(facets > 25, "more than one batch: {facets}");
    let throttled = || async {
        let answer = app
            .http
            .get(
                format!("{}/_emulator/faults", clinic_tests::faulty_emulator_url())
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        let body = http_body_util::BodyExt::collect(answer.into_body())
            .await
            .unwrap()
            .to_bytes();
        serde_json::from_slice::<Value>(&body).unwrap()["counts"]["throttling"]
            .as_u64()
            .unwrap()
    };
    let before = throttled().await;
    for _ in 0..2 {
        let written = store.relist(provider, None, Some(&profile)).await.unwrap();
        assert_eq!(written, facets);
    }
    assert!(throttled().await > before, "the writes were throttled");
    app.set_faults("").await;
    let query = shared::store::directory::DirectoryQuery {
        region: Some("US-40".into()),
        ..Default::default()
    };
    let page = app.store().directory(&query, 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let all = app
        .store()
        .directory(&Default::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(all.items[0].display_name, "Many Regions");
}
