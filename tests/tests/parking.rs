//! Nothing committed is lost when AWS refuses or fails `publish`'s requests (DESIGN.md section 6): a
//! refusal no retry cures parks the record and the stream goes on; a transient failure stops the batch
//! at that record, in order; the deadline stops it before Lambda would; a replay publishes what was
//! parked, once the cause is gone. These tests change the emulator's faults while it runs, so they hold
//! `TestApp::faults_lock` and live in their own binary, with their own emulator.

use clinic_tests::{both_ways, deadline_in, Aws, Done, TestApp};
use serde_json::{json, Value};
use shared::domain::Clock;

both_ways!(
    an_event_aws_refuses_is_parked_the_stream_goes_on_and_a_replay_publishes_it_once,
    a_transient_failure_stops_the_batch_at_its_record_and_reports_every_record_after_it,
    with_bounded_retries_an_outage_discards_the_rest_of_the_batch_as_aws_does,
);

/// Why the template retries until a record ages out: with `MaximumRetryAttempts: 2` (a stack deployed
/// so here), an EventBridge outage longer than the retries makes the mapping discard the failing record
/// and the rest of its batch to the on-failure destination, metadata only: the booking's event is lost
/// to everyone but an operator. The local mapping does exactly what Lambda's does.
async fn with_bounded_retries_an_outage_discards_the_rest_of_the_batch_as_aws_does(aws: Aws) {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn_configured(
        aws,
        Clock::System,
        &[(
            "PublishFunction.Events.Stream.Properties.MaximumRetryAttempts",
            "2",
        )],
    )
    .await;
    let provider = app.provider().await;
    let (first, second) = (app.patient().await, app.patient().await);
    let slot = app.slot(&provider, 30, 2).await;
    app.set_faults("put_events=1").await;
    let lost = app.book(&first, &slot).await.done().id.to_string();
    let discarded = app
        .message_on("StreamFailuresQueue", |m| {
            m["requestContext"]["condition"] == "RetryAttemptsExhausted"
        })
        .await;
    app.set_faults("").await;
    assert_eq!(
        discarded["requestContext"]["approximateInvokeCount"], 3,
        "the first try and 2 retries"
    );
    let batch = &discarded["DDBStreamBatchInfo"];
    assert!(batch["batchSize"].as_u64().unwrap() >= 1, "{discarded}");
    assert!(
        !discarded.to_string().contains(&first.id.to_string()),
        "metadata only: {discarded}"
    );
    // The stream goes on after the discarded records; the lost booking's event never comes.
    let later = app.book(&second, &slot).await.done().id.to_string();
    app.wait_for_kinds(&later, &["appointment.created"]).await;
    assert!(
        app.events_about(&lost).await.is_empty(),
        "lost: only the retries to the record's age (the template's) keep it"
    );
}

async fn an_event_aws_refuses_is_parked_the_stream_goes_on_and_a_replay_publishes_it_once(
    aws: Aws,
) {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let provider = app.provider().await;
    let (first, second) = (app.patient().await, app.patient().await);
    let slot = app.slot(&provider, 30, 2).await;

    // The function's role may not put events (say, a policy deployed wrong): the booking's record is
    // parked rather than retried until it ages out.
    app.set_faults("events_denied=1").await;
    let refused = app.book(&first, &slot).await.done().id.to_string();
    let parked = app
        .message_on("ParkedRecordsQueue", |m| {
            m["keys"]["PK"] == format!("APPT#{refused}").as_str()
        })
        .await;
    assert!(
        parked["error"].as_str().unwrap().contains("AccessDenied"),
        "{parked}"
    );

    // Fixed: later changes flow at once, the parked one waits for its replay.
    app.set_faults("").await;
    let later = app.book(&second, &slot).await.done().id.to_string();
    app.wait_for_kinds(&later, &["appointment.created"]).await;
    assert!(
        app.events_about(&refused).await.is_empty(),
        "nothing of the parked record was published"
    );

    let mut replayed = 0;
    for _ in 0..20 {
        let report = app.replay_parked().await;
        assert_eq!(report.still_failing, 0, "{report:?}");
        replayed += report.replayed;
        if report.stopped.is_none() && replayed > 0 {
            break;
        }
    }
    assert_eq!(replayed, 1);
    app.wait_for_kinds(&refused, &["appointment.created"]).await;
    assert_eq!(app.queue_depth("ParkedRecordsQueue").await, 0);
    assert_eq!(app.queue_depth("StreamFailuresQueue").await, 0);
}

/// An appointment's INSERT record, as the stream delivers it.
fn inserted(sequence: &str) -> Value {
    let id = uuid::Uuid::new_v4();
    json!({
        "eventID": format!("test-{sequence}-{id}"), "eventName": "INSERT", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": jiff::Timestamp::now().as_second(),
            "Keys": {"PK": {"S": format!("APPT#{id}")}, "SK": {"S": "APPT"}},
            "NewImage": {
                "PK": {"S": format!("APPT#{id}")}, "SK": {"S": "APPT"}, "id": {"S": id.to_string()},
                "patientId": {"S": uuid::Uuid::new_v4().to_string()},
                "providerId": {"S": uuid::Uuid::new_v4().to_string()},
                "slotId": {"S": uuid::Uuid::new_v4().to_string()},
                "startTime": {"S": "2031-03-04T14:00:00Z"}, "endTime": {"S": "2031-03-04T14:30:00Z"},
                "status": {"S": "completed"}, "consultationType": {"S": "video"},
                "isPaid": {"BOOL": false}, "createdAt": {"S": "2026-11-24T10:00:00Z"},
                "updatedAt": {"S": "2026-11-24T10:05:00Z"}
            },
            "SequenceNumber": sequence, "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

fn batch(sequences: &[&str]) -> aws_lambda_events::event::dynamodb::Event {
    let records: Vec<Value> = sequences.iter().map(|s| inserted(s)).collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failures(r: &aws_lambda_events::event::streams::DynamoDbEventResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

async fn a_transient_failure_stops_the_batch_at_its_record_and_reports_every_record_after_it(
    aws: Aws,
) {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let publisher = app.publisher();

    // EventBridge fails every entry (an outage): the first record's events are retried within the
    // budget, then the batch stops there; nothing is parked, since the outage will pass.
    app.set_faults("put_events=1").await;
    let outage = publisher
        .handle(batch(&["100", "200", "300"]), deadline_in(60))
        .await;
    app.set_faults("").await;
    assert_eq!(failures(&outage), ["100", "200", "300"]);
    assert_eq!(app.queue_depth("ParkedRecordsQueue").await, 0);

    // Lambda's deadline is near: nothing is started, everything is reported.
    let late = publisher
        .handle(batch(&["400", "500"]), deadline_in(1))
        .await;
    assert_eq!(failures(&late), ["400", "500"]);

    // The same batch when all is well: no failures.
    let fine = publisher
        .handle(batch(&["600", "700"]), deadline_in(60))
        .await;
    assert_eq!(failures(&fine), Vec::<String>::new());
}
