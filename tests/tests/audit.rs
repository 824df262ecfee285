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
    // Creating the slot is not a patient's data: no record.
    assert!(app
        .audit_records()
        .await
        .iter()
        .all(|r| r.function != "create-slot"));
}
