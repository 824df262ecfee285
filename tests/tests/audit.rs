//! The audit trail: who read or changed a patient's appointment, and with what outcome, one record
//! each, with nothing but ids, roles, the action and the status.

use clinic_tests::{refused, Done, TestApp};
use shared::audit::Record;

#[tokio::test]
async fn reads_changes_and_refusals_of_an_appointment_are_each_one_record_with_its_actor() {
    let app = TestApp::spawn().await;
    let (provider, patient, other, staff) = (
        app.provider().await,
        app.patient().await,
        app.patient().await,
        app.staff().await,
    );
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    app.appointment(&provider, &id).await.done();
    app.cancel(&staff, &id, "clinic closed for the referral")
        .await
        .done();
    refused(&app.appointment(&other, &id).await, 404, "not_found");

    let about: Vec<Record> = app
        .audit_records()
        .await
        .into_iter()
        .filter(|r| {
            r.resource_id.as_deref() == Some(id.as_str()) || r.patient_id == Some(patient.id)
        })
        .collect();
    let seen: Vec<(&str, &str, Option<uuid::Uuid>, u16)> = about
        .iter()
        .map(|r| (r.function.as_str(), r.action.as_str(), r.actor, r.outcome))
        .collect();
    assert_eq!(
        seen,
        [
            ("create-appointment", "C", Some(patient.id), 201),
            ("get-appointment", "R", Some(provider.id), 200),
            ("cancel-appointment", "U", Some(staff.id), 200),
            ("get-appointment", "R", Some(other.id), 404),
        ],
        "{about:#?}"
    );
    for r in &about {
        assert_eq!(r.patient_id, Some(patient.id), "whose data: {r:?}");
        assert_eq!(r.resource_type, "Appointment");
        assert_eq!(r.mark, shared::audit::MARK);
        assert!(!r.request_id.is_empty() && !r.source_ip.is_empty(), "{r:?}");
    }
    assert_eq!(about[1].roles, ["provider"]);

    // The appointment says who booked it and who changed it last.
    let read = app.appointment(&patient, &id).await.done();
    assert_eq!(
        (read.booked_by, read.updated_by),
        (Some(patient.id), Some(staff.id))
    );
    let text = serde_json::to_string(&about).unwrap();
    assert!(!text.contains("referral"), "no free text in the trail");
    // An admin reads the same history from the audit bucket (once the delivery has put it there),
    // and as FHIR AuditEvents; nobody else may.
    let admin = app.admin().await;
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let days = (today.as_str(), today.as_str());
    let mut trail = vec![];
    for _ in 0..100 {
        trail = app.audit_trail(&admin, &patient, days).await.done().data;
        if trail.iter().any(|r| r.outcome == 404) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The four, in order, among the patient's later reads (their own, the admin's of the trail).
    let mut rest = trail.iter();
    for r in &about {
        assert!(
            rest.any(|t| t == r),
            "{r:?} is not in the bucket in order: {trail:#?}"
        );
    }
    assert!(trail.iter().all(|r| r.patient_id == Some(patient.id)));
    for who in [&patient, &provider, &staff] {
        refused(
            &app.audit_trail(who, &patient, days).await,
            403,
            "forbidden",
        );
    }
    refused(
        &app.audit_trail(&admin, &patient, ("2030-01-01", "2030-03-01"))
            .await,
        400,
        "validation_failed",
    );
    let bundle = app
        .send(
            &admin,
            "GET",
            &format!(
                "/fhir/AuditEvent?patient=Patient/{}&date=ge{today}&date=le{today}",
                patient.id
            ),
            None,
        )
        .await;
    assert_eq!(bundle.status, 200, "{}", bundle.body);
    assert!(
        bundle.body["total"].as_u64().unwrap() >= 4,
        "{}",
        bundle.body
    );
    // The Bundle and each AuditEvent in it, as fhir.resources reads them.
    clinic_tests::python_check("fhir_check.py", &bundle.body.to_string());

    // Creating the slot is not a patient's data: no record.
    assert!(app
        .audit_records()
        .await
        .iter()
        .all(|r| r.function != "create-slot"));
}
