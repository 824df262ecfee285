//! The provider directory's profiles (issue 20, section 1): `PUT /providers/{id}` by the provider,
//! staff or an admin, stored canonical and versioned with ETag / If-Match; `GET` by anyone signed in;
//! never touching the provider's settings, nor they it; read through FHIR as a Practitioner, valid R4.

use clinic_tests::{ok, problem, Done, TestApp};
use serde_json::json;

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
        .send(
            &patient,
            "GET",
            &format!("/fhir/Practitioner/{}", provider.id),
            None,
        )
        .await;
    ok(&read, 200);
    assert_eq!(read.headers["content-type"], "application/fhir+json");
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
    let checked = clinic_tests::python_check("fhir_check.py", &read.body.to_string());
    assert_eq!(checked.trim(), "ok");
    // A provider without a profile is not a Practitioner here: an OperationOutcome.
    let missing = app
        .send(
            &patient,
            "GET",
            &format!("/fhir/Practitioner/{}", stranger.id),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["resourceType"], "OperationOutcome");
    let capability = app.send(&patient, "GET", "/fhir/metadata", None).await;
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
        .send(
            &patient,
            "GET",
            &format!("/fhir/HealthcareService/{}", made.id),
            None,
        )
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
    let checked = clinic_tests::python_check("fhir_check.py", &read.body.to_string());
    assert_eq!(checked.trim(), "ok");
    let missing = app
        .send(
            &patient,
            "GET",
            &format!("/fhir/HealthcareService/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(
        (missing.status, &missing.body["resourceType"]),
        (404, &json!("OperationOutcome"))
    );
}
