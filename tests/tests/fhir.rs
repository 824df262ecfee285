//! FHIR R4 read over HTTP: Appointment, Slot search, Schedule and the CapabilityStatement, each validated
//! by fhir.resources (R4B models, pinned) and the checks validators skip (tests/python/fhir_check.py);
//! the native API's authorization; errors as OperationOutcome.

use clinic_tests::{ok, problem, Done, NewSlot, Reply, TestApp};
use serde_json::json;

/// An OperationOutcome with this status and issue code.
fn outcome(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
    assert_eq!(r.body["issue"][0]["code"], code, "{}", r.body);
}

#[tokio::test]
async fn an_ehr_reads_appointments_slots_and_schedules_as_fhir_r4() {
    let app = TestApp::spawn_at("2030-01-01T08:00:00Z").await;
    let (provider, patient, stranger) = (
        app.provider().await,
        app.patient().await,
        app.patient().await,
    );
    let staff = app.staff().await;
    let mut slots = vec![];
    for start in [
        "2030-01-07T14:00:00Z",
        "2030-01-07T15:00:00Z",
        "2030-01-08T14:00:00Z",
    ] {
        slots.push(app.slot_at(&provider, NewSlot::at(start)).await);
    }
    let id = app.book(&patient, &slots[0]).await.done().id.to_string();

    // The appointment, for those who may see it; for anyone else it does not exist.
    let path = format!("/fhir/Appointment/{id}");
    let a = app.fhir(&patient, &path).await;
    ok(&a, 200);
    assert_eq!(a.body["status"], "booked");
    assert_eq!(a.body["slot"][0]["reference"], format!("Slot/{}", slots[0]));
    assert_eq!(
        a.body["participant"][0]["actor"]["reference"],
        format!("Patient/{}", patient.id)
    );
    ok(&app.fhir(&provider, &path).await, 200);
    ok(&app.fhir(&staff, &path).await, 200);
    outcome(&app.fhir(&stranger, &path).await, 404, "not-found");
    outcome(
        &app.fhir(&patient, "/fhir/Appointment/nope").await,
        400,
        "invalid",
    );

    // Rescheduled: the old one is cancelled, with the reason.
    let moved = app
        .send(
            &patient,
            "POST",
            &format!("/appointments/{id}/reschedule"),
            Some(json!({"newSlotId": slots[1]})),
        )
        .await;
    ok(&moved, 201);
    let old = app.fhir(&patient, &path).await;
    assert_eq!(old.body["status"], "cancelled");
    assert_eq!(old.body["cancelationReason"]["text"], "rescheduled");

    // The provider's slots of the 7th: the booked one busy, the freed one free.
    let search = format!(
        "/fhir/Slot?schedule=Schedule/{}&start=ge2030-01-07&start=lt2030-01-08",
        provider.id
    );
    let bundle = app.fhir(&patient, &search).await;
    ok(&bundle, 200);
    let statuses: Vec<(&str, &str)> = bundle.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["resource"]["id"].as_str().unwrap(),
                e["resource"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [(slots[0].as_str(), "free"), (slots[1].as_str(), "busy")]
    );
    let free = app.fhir(&patient, &format!("{search}&status=free")).await;
    assert_eq!(free.body["total"], 1);
    let week = search.replace("lt2030-01-08", "lt2030-01-08T14:30:00Z");
    assert_eq!(app.fhir(&patient, &week).await.body["total"], 3);
    for bad in [
        format!(
            "/fhir/Slot?schedule=Schedule/{}&start=ge2030-01-07",
            provider.id
        ),
        format!(
            "/fhir/Slot?schedule=Practitioner/{}&start=ge2030-01-07&start=lt2030-01-08",
            provider.id
        ),
        format!(
            "/fhir/Slot?schedule=Schedule/{}&start=ge2030-01-07&start=lt2030-03-08",
            provider.id
        ),
        format!(
            "/fhir/Slot?schedule=Schedule/{}&start=ge2030-01-08&start=lt2030-01-07",
            provider.id
        ),
        format!(
            "/fhir/Slot?schedule=Schedule/{}&start=eq2030-01-07&start=lt2030-01-08",
            provider.id
        ),
        format!("{search}&status=maybe"),
    ] {
        outcome(&app.fhir(&patient, &bad).await, 400, "invalid");
    }

    let schedule = app
        .fhir(&patient, &format!("/fhir/Schedule/{}", provider.id))
        .await;
    ok(&schedule, 200);
    assert_eq!(
        schedule.body["actor"][0]["reference"],
        format!("Practitioner/{}", provider.id)
    );
    outcome(
        &app.fhir(&patient, &format!("/fhir/Schedule/{}", stranger.id))
            .await,
        404,
        "not-found",
    );
    let metadata = app.fhir(&stranger, "/fhir/metadata").await;
    ok(&metadata, 200);
    let types: Vec<&str> = metadata.body["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "Appointment",
            "Schedule",
            "Location",
            "Practitioner",
            "HealthcareService",
            "PractitionerRole",
            "AuditEvent",
            "Slot"
        ]
    );

    // Without a token, the authorizer's answer.
    problem(
        &app.request("GET", &path, None, None, &[]).await,
        401,
        "unauthorized",
    );
}
