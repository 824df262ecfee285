//! Lists: each caller sees their own appointments, one query per page.

use clinic_tests::{refused, Done, TestApp};
use shared::api::views::Page;
use shared::domain::Appointment;

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
    app.cancel(&patient, &mine[4], "moving").await.done();

    let ids = |page: Page<Appointment>| -> Vec<String> {
        page.data.iter().map(|a| a.id.to_string()).collect()
    };
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".to_owned(),
        };
        app.counter.take();
        let page = app.appointments(&patient, "", &query).await.done();
        assert_eq!(
            app.counter.take(),
            [("Query".to_owned(), 1)].into(),
            "one Query per page"
        );
        cursor = page.next_cursor.clone();
        seen.extend(ids(page));
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, mine, "the patient's own, soonest first, each once");

    let scheduled = app
        .appointments(
            &patient,
            "",
            "status=scheduled&startDate=2027-06-03&endDate=2027-06-05",
        )
        .await
        .done();
    assert_eq!(scheduled.data.len(), 3);
    refused(
        &app.appointments(&patient, "", "status=lost").await,
        400,
        "validation_failed",
    );
    refused(
        &app.appointments(&patient, "", &format!("patientId={}", other_patient.id))
            .await,
        403,
        "forbidden",
    );
    refused(
        &app.appointments(
            &provider,
            "",
            &format!("providerId={}", app.provider().await.id),
        )
        .await,
        403,
        "forbidden",
    );
    refused(
        &app.appointments(&staff, "", "").await,
        400,
        "validation_failed",
    );

    let for_provider = app
        .appointments(&provider, "", &format!("patientId={}", other_patient.id))
        .await
        .done();
    assert_eq!(ids(for_provider), [theirs]);
    let by_staff = app
        .appointments(&staff, "", &format!("providerId={}&limit=100", provider.id))
        .await
        .done();
    assert_eq!(by_staff.data.len(), 6);

    // A cursor of the patient's list does not open another patient's.
    let first = app.appointments(&patient, "", "limit=1").await.done();
    let c = first.next_cursor.expect("a cursor");
    refused(
        &app.appointments(&other_patient, "", &format!("cursor={c}"))
            .await,
        400,
        "validation_failed",
    );
    refused(
        &app.appointments(
            &staff,
            "",
            &format!("patientId={}&cursor={c}", other_patient.id),
        )
        .await,
        400,
        "validation_failed",
    );

    let upcoming = app.appointments(&patient, "upcoming", "").await.done();
    assert_eq!(ids(upcoming), mine[..4], "cancelled ones are not upcoming");
    app.travel_to("2027-06-03T12:00:00Z");
    let later = app.appointments(&patient, "upcoming", "").await.done();
    assert_eq!(later.data.len(), 2, "past ones are not upcoming");
}
