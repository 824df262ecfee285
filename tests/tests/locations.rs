//! Locations (issue 22, section 1): staff and admins keep a clinic's locations; everyone signed in
//! reads them, natively and as R4 Locations (validated by tests/python/fhir_check.py).

use clinic_tests::{ok, problem, TestApp};
use serde_json::json;

#[tokio::test]
async fn staff_keep_locations_everyone_reads_them_and_fhir_shows_them_as_r4() {
    let app = TestApp::spawn().await;
    let (staff, patient, provider) = (app.staff().await, app.patient().await, app.provider().await);
    let clinic = json!({"name": "Riverside Clinic", "timeZone": "america/chicago",
        "address": {"lines": ["12 River St"], "city": "Springfield", "region": "IL", "postalCode": "62701", "country": "US"},
        "telecom": [{"system": "phone", "value": "+1 217 555 0100"}]});
    // Only staff and admins write; bad input is named and nothing is made.
    for who in [&patient, &provider] {
        problem(
            &app.send(who, "POST", "/locations", Some(clinic.clone()))
                .await,
            403,
            "forbidden",
        );
    }
    for (body, field) in [
        (
            json!({"name": "Nowhere", "timeZone": "America/Chicago"}),
            "address",
        ),
        (
            json!({"name": "Clinic", "timeZone": "Mars/Olympus", "virtual": true}),
            "timeZone",
        ),
        (
            json!({"name": "", "timeZone": "UTC", "virtual": true}),
            "name",
        ),
        (
            json!({"name": "Video", "timeZone": "UTC", "virtual": true, "address": clinic["address"]}),
            "address",
        ),
    ] {
        let r = app.send(&staff, "POST", "/locations", Some(body)).await;
        problem(&r, 400, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
    }
    let made = app.send(&staff, "POST", "/locations", Some(clinic)).await;
    ok(&made, 201);
    assert_eq!(
        made.body["timeZone"], "America/Chicago",
        "the canonical name"
    );
    let id = made.id();
    let video = app
        .send(
            &staff,
            "POST",
            "/locations",
            Some(json!({"name": "Video visits", "timeZone": "UTC", "virtual": true})),
        )
        .await;
    ok(&video, 201);

    let read = app.get(&format!("/locations/{id}"), &patient.token).await;
    ok(&read, 200);
    assert_eq!(read.body, made.body);
    let listed = app.get("/locations", &provider.token).await;
    ok(&listed, 200);
    let names: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Riverside Clinic", "Video visits"], "by name");

    // FHIR: the location and a search, valid R4; the virtual one typed so.
    let fhir = app.fhir(&patient, &format!("/fhir/Location/{id}")).await;
    ok(&fhir, 200);
    assert_eq!(
        (
            fhir.body["address"]["city"].as_str(),
            fhir.body["status"].as_str()
        ),
        (Some("Springfield"), Some("active"))
    );
    let found = app.fhir(&patient, "/fhir/Location?name=vid").await;
    ok(&found, 200);
    assert_eq!(
        found.body["entry"][0]["resource"]["physicalType"]["coding"][0]["code"],
        "vi"
    );
    let by_city = app
        .fhir(&patient, "/fhir/Location?address-city=SPRING")
        .await;
    assert_eq!(by_city.body["total"], 1);
    let unsupported = app.fhir(&patient, "/fhir/Location?near=1").await;
    assert_eq!(
        (
            unsupported.status,
            unsupported.body["issue"][0]["details"]["coding"][0]["code"].as_str()
        ),
        (400, Some("validation_failed"))
    );

    // A slot names an active location by its id; anything else is refused and nothing is made.
    let start = clinic_tests::whole_minutes_from_now(24 * 60);
    let slot = |location: serde_json::Value, hours: i64| {
        let begins = start.plus(jiff::SignedDuration::from_hours(hours));
        json!({"providerId": provider.id, "startTime": begins,
               "endTime": begins.plus(jiff::SignedDuration::from_mins(30)), "locationId": location})
    };
    ok(
        &app.send(&provider, "POST", "/slots", Some(slot(json!(id), 0)))
            .await,
        201,
    );
    for bad in [json!("main-street"), json!(uuid::Uuid::new_v4())] {
        let r = app
            .send(&provider, "POST", "/slots", Some(slot(bad, 1)))
            .await;
        problem(&r, 400, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "locationId");
    }

    // Deactivated: gone from the active list, inactive in FHIR; a PATCH of nothing is refused.
    problem(
        &app.send(
            &staff,
            "PATCH",
            &format!("/locations/{id}"),
            Some(json!({})),
        )
        .await,
        400,
        "validation_failed",
    );
    let off = app
        .send(
            &staff,
            "PATCH",
            &format!("/locations/{id}"),
            Some(json!({"active": false})),
        )
        .await;
    ok(&off, 200);
    assert_eq!(
        (off.body["active"].as_bool(), off.body["version"].as_u64()),
        (Some(false), Some(2))
    );
    let active = app.get("/locations?active=true", &patient.token).await;
    assert_eq!(active.body["data"].as_array().unwrap().len(), 1);
    let inactive = app.fhir(&patient, "/fhir/Location?status=inactive").await;
    assert_eq!(inactive.body["entry"][0]["resource"]["id"], json!(id));
    // A deactivated location takes no new slots.
    let r = app
        .send(&provider, "POST", "/slots", Some(slot(json!(id), 2)))
        .await;
    problem(&r, 400, "validation_failed");
    problem(
        &app.send(
            &provider,
            "PATCH",
            &format!("/locations/{id}"),
            Some(json!({"active": true})),
        )
        .await,
        403,
        "forbidden",
    );
}
