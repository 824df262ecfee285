//! Every file in events/ is a real event of the kind Lambda delivers; each is fed to the handler of its
//! function, against the emulator.

use clinic_tests::TestApp;
use serde_json::Value;
use shared::api::{self, Ctx};
use shared::config::Config;

use local::FIXTURE_SLOT as SLOT;
const APPOINTMENT: &str = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ctx(app: &TestApp) -> Ctx {
    let table = app.table.clone();
    let config = Config::from_lookup(|k| match k {
        "TABLE_NAME" => Some(table.clone()),
        "CURSOR_KEY" => Some("a cursor key for the fixtures, 32 characters or more".into()),
        _ => None,
    })
    .unwrap();
    // Metric and audit lines into the test's own lists, not stdout.
    let lines = shared::metrics::Lines::default();
    Ctx {
        metrics: shared::metrics::Metrics::to(&lines),
        audit: shared::audit::AuditLog::Local(lines),
        ..Ctx::new(app.db.clone(), config).unwrap()
    }
}

/// Feeds events/<name>.json to the handler of that function, as the Lambda runtime would.
async fn run(ctx: &Ctx, name: &str) -> (u16, Value) {
    let request =
        lambda_http::request::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let response = api::serve(api::endpoint(name).unwrap(), ctx, request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    (response.status().as_u16(), body)
}

/// A stack with the fixtures' slot in it, and the handlers' context on it.
async fn seeded() -> (TestApp, Ctx) {
    let app = TestApp::spawn().await;
    local::seed_fixture_slot(&app.stack.stack, &app.stack.stack.sdk)
        .await
        .unwrap();
    let ctx = ctx(&app);
    (app, ctx)
}

/// Each of these fixtures names an id that is not in the table: its handler answers 404 `not_found`.
async fn answer_not_found(ctx: &Ctx, names: &[&str]) {
    for name in names {
        let (status, body) = run(ctx, name).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("not_found")),
            "{name}: {body}"
        );
    }
}

#[tokio::test]
async fn every_http_fixture_is_answered_by_its_handler() {
    let (_app, ctx) = seeded().await; // the stack lives as long as the test
    let run = |name: &'static str| run(&ctx, name);
    let (status, body) = run("create-slot").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["startTime"], "2031-03-04T14:00:00Z",
        "the -05:00 offset is stored as UTC"
    );
    let (status, body) = run("available-slots").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let (status, body) = run("create-appointment").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["slotId"].as_str(), body["consultationType"].as_str()),
        (Some(SLOT), Some("video"))
    );
    let (status, body) = run("list-appointments").await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    let (status, body) = run("upcoming-appointments").await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    let (status, body) = run("appointment-history").await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );
    let (status, body) = run("no-show-report").await;
    assert_eq!(
        (status, body["totalAppointments"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    // The fixtures' appointment id is not this booking's: past parsing, validation and authorization,
    // the handlers look it up and answer for a missing one.
    answer_not_found(
        &ctx,
        &[
            "get-appointment",
            "cancel-appointment",
            "update-appointment",
            "reschedule-appointment",
            "check-in-appointment",
            "start-appointment",
            "complete-appointment",
            "no-show-appointment",
            "confirm-appointment",
            "decline-appointment",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_location_fixtures_are_answered_by_their_handlers() {
    let app = TestApp::spawn().await;
    let ctx = ctx(&app);
    let (status, made) = run(&ctx, "create-location").await;
    assert_eq!(
        (status, made["timeZone"].as_str(), made["active"].as_bool()),
        (201, Some("America/Chicago"), Some(true)),
        "{made}"
    );
    let (status, list) = run(&ctx, "list-locations").await;
    assert_eq!(
        (status, list["data"][0]["id"].clone()),
        (200, made["id"].clone()),
        "{list}"
    );
    let (status, found) = run(&ctx, "fhir-locations").await;
    assert_eq!(
        (status, found["entry"][0]["resource"]["name"].as_str()),
        (200, Some("Riverside Clinic")),
        "{found}"
    );
    // The fixtures' location id is not this one.
    answer_not_found(&ctx, &["get-location", "update-location"]).await;
    let (status, outcome) = run(&ctx, "fhir-location").await;
    assert_eq!(
        (status, outcome["resourceType"].as_str()),
        (404, Some("OperationOutcome"))
    );
}

#[tokio::test]
async fn the_resource_fixtures_are_answered_by_their_handlers() {
    let (_app, ctx) = seeded().await;
    // The seeded room holds the fixture slot: its day shows it.
    let (status, day) = run(&ctx, "resource-schedule").await;
    assert_eq!(
        (
            status,
            day["days"][0]["slots"][0]["id"].as_str(),
            day["days"][0]["slots"][0]["resources"][0]["name"].as_str(),
            day["timeZone"].as_str()
        ),
        (
            200,
            Some(local::FIXTURE_SLOT),
            Some("Exam 2B"),
            Some("America/New_York")
        ),
        "{day}"
    );
    let (status, made) = run(&ctx, "create-resource").await;
    assert_eq!(
        (status, made["kind"].as_str(), made["capacity"].as_u64()),
        (201, Some("room"), Some(1)),
        "{made}"
    );
    let (status, list) = run(&ctx, "list-resources").await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        (status, names),
        (200, vec!["Exam 2B", "Exam room 3"]),
        "{list}"
    );
    let (status, renamed) = run(&ctx, "update-resource").await;
    assert_eq!(
        (
            status,
            renamed["name"].as_str(),
            renamed["version"].as_u64()
        ),
        (200, Some("Exam room 2B"), Some(2)),
        "{renamed}"
    );
}

#[tokio::test]
async fn the_hold_fixtures_hold_the_fixture_slot_once() {
    let (_app, ctx) = seeded().await;
    let (status, held) = run(&ctx, "create-hold").await;
    assert_eq!(
        (status, held["slotId"].as_str(), held["status"].as_str()),
        (201, Some(SLOT), Some("held")),
        "{held}"
    );
    // The one seat is held: the same request again is refused (the patient's own hold is that time).
    let (status, again) = run(&ctx, "create-hold").await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("slot_full")),
        "{again}"
    );
    // The fixtures' hold id is not this hold's.
    answer_not_found(&ctx, &["get-hold", "release-hold"]).await;
}

#[tokio::test]
async fn the_slot_and_type_fixtures_are_answered_by_their_handlers() {
    let app = TestApp::spawn().await;
    let ctx = ctx(&app);
    let run = |name: &'static str| run(&ctx, name);
    let (status, body) = run("bulk-create-slots").await;
    assert_eq!(status, 201, "{body}");
    let created = body["created"].as_u64().unwrap();
    assert!(created > 50, "{body}");
    let (status, again) = run("bulk-create-slots").await;
    assert_eq!(
        (
            status,
            again["created"].as_u64(),
            again["existing"].as_u64()
        ),
        (201, Some(0), Some(created))
    );
    // Tuesday 2031-03-04 in New York (the stored zone): 4 morning and 6 afternoon slots.
    let (status, day) = run("provider-schedule").await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(
        (day["timeZone"].as_str(), day["summary"]["total"].as_u64()),
        (Some("America/New_York"), Some(10))
    );
    assert_eq!(day["slots"][0]["localStartTime"], "2031-03-04T09:00:00");
    let (status, blocked) = run("block-slots").await;
    assert_eq!(
        (status, blocked["blocked"].as_array().map(Vec::len)),
        (200, Some(3)),
        "{blocked}"
    );
    answer_not_found(&ctx, &["release-slot"]).await;

    let (status, body) = run("create-appointment-type").await;
    assert_eq!(
        (status, body["consultationFee"].as_f64()),
        (201, Some(45.0)),
        "{body}"
    );
    let (status, body) = run("list-appointment-types").await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    answer_not_found(&ctx, &["get-appointment-type", "update-appointment-type"]).await;
    let (status, body) = run("fhir-healthcare-service").await;
    assert_eq!(
        (status, body["resourceType"].as_str()),
        (404, Some("OperationOutcome")),
        "{body}"
    );
}

#[tokio::test]
async fn the_stream_fixture_becomes_an_appointment_created_event() {
    let app = TestApp::spawn().await;
    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&fixture("publish")).unwrap();
    let change = shared::stream::Change::decode(&event.records[0]).unwrap();
    let effects = shared::stream::effects(&change);
    assert!(
        matches!(
            &effects[..],
            [shared::stream::Effect::Event(
                shared::domain::events::DomainEvent::AppointmentCreated(_)
            )]
        ),
        "{effects:?}"
    );

    let stack = &app.stack.stack;
    let function = stack
        .functions
        .iter()
        .find(|f| f.logical_id == "PublishFunction")
        .unwrap();
    let publisher =
        shared::stream::Publisher::from_config(&stack.config_for(function).unwrap(), &stack.sdk)
            .unwrap();
    let response = publisher.handle(event, clinic_tests::deadline_in(60)).await;
    assert!(response.batch_item_failures.is_empty());
    let events = app
        .wait_for_events(|e| {
            e.iter()
                .any(|e| e["detail"]["appointmentId"] == APPOINTMENT)
        })
        .await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("blood pressure"),
        "the reason for visit stays out of events"
    );
}

#[tokio::test]
async fn the_waitlist_fixtures_and_the_queue_fixture_offer_the_freed_seat_to_the_waiting_patient() {
    let (app, ctx) = seeded().await;
    let (status, entry) = run(&ctx, "join-waitlist").await;
    assert_eq!(
        (status, entry["status"].as_str()),
        (201, Some("waiting")),
        "{entry}"
    );
    let (status, again) = run(&ctx, "join-waitlist").await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("already_waiting")),
        "{again}"
    );
    let (status, list) = run(&ctx, "list-waitlist").await;
    assert_eq!(
        (status, list["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{list}"
    );
    // The fixtures' entry id is not this entry's: the handlers answer for a missing one.
    answer_not_found(
        &ctx,
        &[
            "get-waitlist-entry",
            "cancel-waitlist-entry",
            "accept-waitlist-offer",
            "decline-waitlist-offer",
        ],
    )
    .await;

    // The queue fixture (a seat of the fixture slot freed) and a bad message beside it: the seat is
    // offered to the entry and held; only the bad message is reported.
    let mut event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&fixture("worker")).unwrap();
    let mut bad = event.records[0].clone();
    bad.message_id = Some("bad-1".into());
    bad.body = Some("{\"type\":\"unknown\"}".into());
    event.records.push(bad);
    let worker = app.worker(app.store());
    let response = worker.handle(event, clinic_tests::deadline_in(60)).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad-1"]);
    let id: shared::domain::EntryId = entry["id"].as_str().unwrap().parse().unwrap();
    let offered = app.store().waitlist_entry(id).await.unwrap().unwrap();
    assert_eq!(
        (
            offered.status.as_str(),
            offered.offered_slot_id.map(|s| s.to_string())
        ),
        ("offered", Some(SLOT.to_owned()))
    );
    let slot = app
        .store()
        .slot(SLOT.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slot.current_bookings, 1, "the offered seat is held");
}

#[tokio::test]
async fn the_calendar_feed_fixtures_are_answered_by_their_handlers() {
    let app = TestApp::spawn().await;
    let ctx = ctx(&app);
    let (status, feed) = run(&ctx, "create-calendar-feed").await;
    assert_eq!(status, 201, "{feed}");
    assert!(
        feed["url"]
            .as_str()
            .unwrap()
            .starts_with("https://r3pmxmplak.execute-api.eu-west-1.amazonaws.com/calendar/feeds/"),
        "the URL is where API Gateway was reached: {feed}"
    );
    let (status, list) = run(&ctx, "list-calendar-feeds").await;
    assert_eq!(
        (status, list["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{list}"
    );
    // The fixtures' feed id and token are not this feed's.
    answer_not_found(&ctx, &["revoke-calendar-feed", "calendar-feed"]).await;
}

#[tokio::test]
async fn the_webhook_fixtures_are_answered_by_their_handlers() {
    let app = TestApp::spawn().await;
    let ctx = ctx(&app);
    let (status, made) = run(&ctx, "create-webhook").await;
    assert_eq!(status, 201, "{made}");
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    let (status, list) = run(&ctx, "list-webhooks").await;
    assert_eq!(
        (status, list["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{list}"
    );
    // The fixtures' endpoint id is not this one's.
    answer_not_found(
        &ctx,
        &[
            "get-webhook",
            "update-webhook",
            "delete-webhook",
            "rotate-webhook-secret",
            "list-webhook-deliveries",
        ],
    )
    .await;
    // The queue fixture (appointment.created from the bus) and a bad message beside it: the event
    // goes to the endpoint (hooks.example.com does not resolve here: the attempt fails and is queued
    // again, which is the message handled); only the bad message is reported.
    let mut event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&fixture("deliver")).unwrap();
    let mut bad = event.records[0].clone();
    bad.message_id = Some("bad-1".into());
    bad.body = Some("{\"detail-type\": 7}".into());
    event.records.push(bad);
    let response = app
        .deliverer()
        .handle(event, clinic_tests::deadline_in(60))
        .await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad-1"]);
    let id: uuid::Uuid = made["id"].as_str().unwrap().parse().unwrap();
    let logged = app.store().attempts(id, 10).await.unwrap();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        (
            logged[0].attempt,
            logged[0].kind.as_str(),
            logged[0].status_code
        ),
        (1, "appointment.created", None)
    );
    assert_eq!(
        logged[0].outcome,
        shared::domain::webhook::Outcome::Retrying
    );
}

#[tokio::test]
async fn the_slot_feed_fixtures_are_answered() {
    let app = TestApp::spawn().await;
    // The schedule's event says nothing the writer needs: a run writes the feed.
    let event: Value = serde_json::from_str(&fixture("write-slot-feed")).unwrap();
    assert_eq!(event["source"], "aws.scheduler");
    let published = app.feed_writer().run().await.unwrap();
    let mut ctx = ctx(&app);
    ctx.slot_feed = Some(shared::feed::FeedReader {
        s3: shared::audit::s3_client(&app.stack.stack.sdk),
        bucket: app.feed_writer().bucket,
    });
    let (status, manifest) = run(&ctx, "fhir-bulk-publish").await;
    assert_eq!(status, 200, "{manifest}");
    assert_eq!(
        manifest["request"],
        "https://r3pmxmplak.execute-api.eu-west-1.amazonaws.com/fhir/$bulk-publish?_since=2026-11-24T09:00:00Z"
    );
    assert_eq!(
        manifest["output"].as_array().map(Vec::len),
        Some(published.files.len()),
        "every file changed after the fixture's _since: {manifest}"
    );
}

#[tokio::test]
async fn the_manage_link_fixtures_are_answered_by_their_handlers() {
    let app = TestApp::spawn().await;
    // The stack's own key: the fixtures' token (well formed) is not one it made.
    let stack = &app.stack.stack;
    let function = stack
        .functions
        .iter()
        .find(|f| f.binary == "manage-visit")
        .unwrap();
    let mut ctx = ctx(&app);
    ctx.config.manage = stack.config_for(function).unwrap().manage;
    assert!(ctx.config.manage.keys.is_some());
    answer_not_found(
        &ctx,
        &[
            "manage-visit",
            "manage-cancel",
            "manage-reschedule",
            "manage-options",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_fhir_fixtures_are_answered_by_their_handlers() {
    let (_app, ctx) = seeded().await; // the stack lives as long as the test
    let (status, bundle) = run(&ctx, "fhir-slots").await;
    assert_eq!(status, 200, "{bundle}");
    assert_eq!(
        (bundle["resourceType"].as_str(), bundle["total"].as_u64()),
        (Some("Bundle"), Some(1)),
        "the repeated start parameter, joined with a comma as API Gateway does: {bundle}"
    );
    assert_eq!(bundle["entry"][0]["resource"]["id"], SLOT);
    let (status, schedule) = run(&ctx, "fhir-schedule").await;
    assert_eq!(
        (status, schedule["resourceType"].as_str()),
        (200, Some("Schedule"))
    );
    let (status, metadata) = run(&ctx, "fhir-metadata").await;
    assert_eq!(
        (status, metadata["fhirVersion"].as_str()),
        (200, Some("4.0.1"))
    );
    // The fixtures' appointment, proposal and hold ids name nothing here: not-found, as FHIR says it.
    for name in ["fhir-appointment", "fhir-hold", "fhir-book"] {
        let (status, outcome) = run(&ctx, name).await;
        assert_eq!(
            (
                status,
                outcome["resourceType"].as_str(),
                outcome["issue"][0]["code"].as_str()
            ),
            (404, Some("OperationOutcome"), Some("not-found")),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_series_fixtures_are_answered_by_their_handlers() {
    let (_app, ctx) = seeded().await; // the stack lives as long as the test
                                      // Four weeks from the fixture slot, in part: the provider has no slot in the three weeks after.
    let (status, series) = run(&ctx, "book-series").await;
    assert_eq!(status, 201, "{series}");
    assert_eq!(
        (
            series["appointments"].as_array().map(Vec::len),
            series["skipped"].as_array().map(Vec::len)
        ),
        (Some(1), Some(3)),
        "{series}"
    );
    answer_not_found(&ctx, &["get-series", "cancel-series"]).await;
}

#[tokio::test]
async fn the_settings_fixtures_are_answered_by_their_handlers() {
    let app = TestApp::spawn().await;
    let ctx = ctx(&app);
    // Nothing set: today's behaviour, from the configuration.
    let (status, before) = run(&ctx, "get-provider-settings").await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(
        (
            before["timeZone"].as_str(),
            before["minimumNoticeMinutes"].as_u64(),
            before["maxAppointmentsPerDay"].is_null(),
            before["lateCancellationHours"].as_u64(),
            before["reminderOffsets"].clone(),
            before["updatedAt"].is_null()
        ),
        (
            Some("UTC"),
            Some(0),
            true,
            Some(24),
            serde_json::json!(["24h", "2h", "30m"]),
            true
        ),
        "{before}"
    );
    let (status, put) = run(&ctx, "put-provider-settings").await;
    assert_eq!(status, 200, "{put}");
    let (status, after) = run(&ctx, "get-provider-settings").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(put, after);
    assert_eq!(
        (
            after["timeZone"].as_str(),
            after["maxAppointmentsPerDay"].as_u64(),
            after["reminderOffsets"].clone(),
            after["noShowFee"].as_f64(),
            after["providerId"].as_str()
        ),
        (
            Some("America/New_York"),
            Some(12),
            serde_json::json!(["24h", "1h"]),
            Some(40.0),
            Some(local::FIXTURE_PROVIDER)
        ),
        "{after}"
    );
}

/// A FHIR route the service itself refuses answers an OperationOutcome, whatever the refusal: here a
/// request that reached the function without the authorizer's claims is 401, as `application/fhir+json`.
#[tokio::test]
async fn a_fhir_route_answers_operation_outcomes_even_for_a_missing_caller() {
    let app = TestApp::spawn().await;
    let ctx = ctx(&app);
    for name in [
        "fhir-appointment",
        "fhir-schedule",
        "fhir-practitioner",
        "fhir-healthcare-service",
        "fhir-practitioner-roles",
        "fhir-slots",
        "fhir-metadata",
        "fhir-hold",
        "fhir-book",
        "fhir-location",
        "fhir-locations",
    ] {
        let mut event: Value = serde_json::from_str(&fixture(name)).unwrap();
        event["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("authorizer");
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = api::serve(api::endpoint(name).unwrap(), &ctx, request).await;
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(response.status().as_u16(), 401, "{name}: {body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/fhir+json",
            "{name}"
        );
        assert_eq!(body["resourceType"], "OperationOutcome", "{name}: {body}");
        assert_eq!(body["issue"][0]["code"], "login", "{name}");
    }
}

#[tokio::test]
async fn the_profile_fixtures_are_answered_by_their_handlers() {
    let app = TestApp::spawn().await;
    let ctx = ctx(&app);
    // No profile yet; the provider puts one (canonical: its languages sorted), anyone reads it.
    let (status, before) = run(&ctx, "get-provider").await;
    assert_eq!((status, before["code"].as_str()), (404, Some("not_found")));
    let (status, put) = run(&ctx, "put-provider").await;
    assert_eq!(status, 200, "{put}");
    let (status, after) = run(&ctx, "get-provider").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(put, after);
    let (status, listed) = run(&ctx, "list-providers").await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed["data"].is_array(), "{listed}");
    let (status, roles) = run(&ctx, "fhir-practitioner-roles").await;
    assert_eq!(status, 200, "{roles}");
    assert_eq!(
        roles["entry"][0]["resource"]["specialty"][0]["coding"][0]["code"],
        "207Q00000X"
    );
    let (status, practitioner) = run(&ctx, "fhir-practitioner").await;
    assert_eq!(status, 200, "{practitioner}");
    assert_eq!(practitioner["name"][0]["text"], "Dr. Ana Ruiz");
    assert_eq!(
        (
            after["displayName"].as_str(),
            after["languages"].clone(),
            after["telehealthRegions"].clone(),
            after["providerId"].as_str()
        ),
        (
            Some("Dr. Ana Ruiz"),
            serde_json::json!(["en", "es-MX"]),
            serde_json::json!(["US-AZ", "US-CA"]),
            Some(local::FIXTURE_PROVIDER)
        ),
        "{after}"
    );
}
