//! Every endpoint as every role, and bad lifecycle input: a problem each time, and nothing changed.

use clinic_tests::{ok, NewSlot, TestApp};
use serde_json::json;

const EARLY: &str = "2027-06-01T07:00:00Z";

/// Every endpoint for every role: (patient, other patient, provider, other provider, staff, admin, no token).
#[tokio::test]
async fn every_endpoint_answers_every_role_as_the_design_says() {
    let app = TestApp::spawn_at(EARLY).await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let cast = [
        patient.clone(),
        app.patient().await,
        provider.clone(),
        app.provider().await,
        app.staff().await,
        app.admin().await,
    ];
    // (endpoint, expected statuses, what happens first, when it is tried)
    let table: [(&str, [u16; 7], &[&str], &str); 8] = [
        ("get", [200, 404, 200, 404, 200, 200, 401], &[], "08:00"),
        ("cancel", [200, 404, 200, 404, 200, 200, 401], &[], "08:00"),
        (
            "check-in",
            [200, 404, 200, 404, 200, 200, 401],
            &[],
            "08:50",
        ),
        (
            "start",
            [403, 403, 200, 404, 200, 200, 401],
            &["check-in"],
            "09:00",
        ),
        (
            "complete",
            [403, 403, 200, 404, 403, 200, 401],
            &["check-in", "start"],
            "09:20",
        ),
        ("no-show", [403, 403, 200, 404, 200, 200, 401], &[], "09:40"),
        (
            "reschedule",
            [201, 404, 201, 404, 201, 201, 401],
            &[],
            "08:00",
        ),
        ("notes", [403, 403, 200, 404, 403, 200, 401], &[], "08:00"),
    ];
    let admin = &cast[5];
    let mut day = 1;
    for (endpoint, expected, setup, at) in table {
        for (who, want) in expected.iter().enumerate() {
            day += 1;
            let date = jiff::civil::date(2027, 7, 1)
                .checked_add(jiff::Span::new().days(day))
                .unwrap();
            app.travel_to(EARLY);
            let id = app
                .booked_at(
                    &provider,
                    &patient,
                    &format!("{date}T09:00:00Z"),
                    "in_person",
                )
                .await;
            let target = app
                .slot_at(&provider, NewSlot::at(&format!("{date}T12:00:00Z")))
                .await;
            for (step, time) in setup.iter().zip(["08:50", "09:00"]) {
                app.travel_to(&format!("{date}T{time}:00Z"));
                let path = format!("/appointments/{id}/{step}");
                ok(&app.send(admin, "POST", &path, None).await, 200);
            }
            app.travel_to(&format!("{date}T{at}:00Z"));
            let token = cast.get(who).map(|a| a.token.as_str());
            let (method, path, body) = match endpoint {
                "get" => ("GET", format!("/appointments/{id}"), None),
                "cancel" => (
                    "POST",
                    format!("/appointments/{id}/cancel"),
                    Some(json!({"reason": "r"})),
                ),
                "reschedule" => (
                    "POST",
                    format!("/appointments/{id}/reschedule"),
                    Some(json!({"newSlotId": target})),
                ),
                "notes" => (
                    "PATCH",
                    format!("/appointments/{id}"),
                    Some(json!({"notes": "n"})),
                ),
                action => (
                    "POST",
                    format!("/appointments/{id}/{action}"),
                    Some(json!({})),
                ),
            };
            let r = app
                .request(method, &path, token, body.map(|b| b.to_string()), &[])
                .await;
            assert_eq!(r.status, *want, "{endpoint} as caller {who}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn bad_lifecycle_input_gets_a_problem_and_changes_nothing() {
    let app = TestApp::spawn_at(EARLY).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let id = app
        .booked_at(&provider, &patient, "2027-06-01T09:00:00Z", "in_person")
        .await;
    app.travel_to("2027-06-01T08:50:00Z");
    app.check_in(&patient, &id).await.unwrap();
    app.start(&provider, &id).await.unwrap();
    let before = app.items().await;

    let raw = |method: &'static str, path: String, body: &'static str| {
        let (app, token) = (&app, provider.token.clone());
        async move {
            app.request(method, &path, Some(&token), Some(body.to_owned()), &[])
                .await
        }
    };
    let cases: Vec<(&str, String, &str, u16)> = vec![
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"vitals\": {\"heartRate\": 900}}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"vitals\": \"fine\"}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"followUpDate\": \"next week\", \"followUpRequired\": true}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"followUpNotes\": \"x\"}",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"notes\": ",
            400,
        ),
        (
            "POST",
            format!("/appointments/{id}/complete"),
            "{\"mood\": \"good\"}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"status\": 3}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"consultationType\": \"carrier pigeon\"}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"cancellationReason\": \"no status\"}",
            400,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"consultationType\": \"video\"}",
            409,
        ),
        (
            "PATCH",
            format!("/appointments/{id}"),
            "{\"status\": \"confirmed\"}",
            409,
        ),
        ("POST", format!("/appointments/{id}/reschedule"), "{}", 400),
        (
            "POST",
            format!("/appointments/{id}/reschedule"),
            "{\"newSlotId\": null}",
            400,
        ),
        ("POST", format!("/appointments/{id}/no-show"), "", 409),
        ("POST", format!("/appointments/{id}/check-in"), "", 409),
        ("POST", "/appointments/not-an-id/start".to_owned(), "", 400),
        (
            "POST",
            format!("/appointments/{}/complete", uuid::Uuid::new_v4()),
            "{}",
            404,
        ),
        ("GET", "/appointments?limit=0".to_owned(), "", 400),
        (
            "GET",
            "/appointments?startDate=2027-06-02&endDate=2027-06-01".to_owned(),
            "",
            400,
        ),
        ("GET", "/appointments?cursor=e30".to_owned(), "", 400),
        (
            "GET",
            "/appointments/history?limit=1000".to_owned(),
            "",
            400,
        ),
        ("GET", "/appointments/reports/no-shows".to_owned(), "", 400),
    ];
    for (method, path, body, status) in cases {
        let body = if method == "GET" || body.is_empty() {
            ""
        } else {
            body
        };
        let r = if body.is_empty() {
            app.request(method, &path, Some(&provider.token), None, &[])
                .await
        } else {
            raw(method, path.clone(), body).await
        };
        assert_eq!(r.status, status, "{method} {path} {body}: {}", r.body);
        assert!(r.is_problem(), "{method} {path}");
    }
    assert_eq!(
        app.items().await,
        before,
        "no bad request changed the table"
    );
}
