//! The emulator says no where DynamoDB says no, with DynamoDB's error type and message, and fails the
//! way AWS fails when asked to (local/emulator.py). Each limit is from "Quotas in Amazon DynamoDB"
//! (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use clinic_tests::TestApp;
use serde_json::json;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn put(table: &str, pk: &str, padding: usize) -> TransactWriteItem {
    let item = Put::builder()
        .table_name(table)
        .item("PK", s(pk))
        .item("SK", s("X"))
        .item("padding", s(&"x".repeat(padding)))
        .build()
        .unwrap();
    TransactWriteItem::builder().put(item).build()
}

/// The error's code and message, which must be what DynamoDB answers.
fn refused<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, aws_sdk_dynamodb::error::SdkError<E>>,
) -> (String, String) {
    let e = r.expect_err("DynamoDB refuses this");
    let aws_sdk_dynamodb::error::SdkError::ServiceError(e) = e else {
        panic!("not a service error: {e:?}");
    };
    let e = e.into_err();
    (
        e.code().unwrap_or_default().to_owned(),
        e.message().unwrap_or_default().to_owned(),
    )
}

async fn table() -> (TestApp, Client, String) {
    let app = TestApp::spawn().await;
    let (db, table) = (app.db.clone(), app.table.clone());
    (app, db, table)
}

#[tokio::test]
async fn expressions_over_4_kb_and_in_over_100_operands_are_refused() {
    let (_app, db, table) = table().await;
    let long = format!(
        "attribute_not_exists(PK) OR padding = :{}",
        "v".repeat(4100)
    );
    let (code, message) = refused(
        db.put_item()
            .table_name(&table)
            .item("PK", s("a"))
            .item("SK", s("b"))
            .condition_expression(long.clone())
            .expression_attribute_values(format!(":{}", "v".repeat(4100)), s("x"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.starts_with(
            "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size"
        ),
        "{message}"
    );

    let mut scan = db.scan().table_name(&table);
    let mut operands = vec![];
    for i in 0..101 {
        operands.push(format!(":v{i}"));
        scan = scan.expression_attribute_values(format!(":v{i}"), s(&i.to_string()));
    }
    let (code, message) = refused(
        scan.filter_expression(format!("PK IN ({})", operands.join(", ")))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains(
            "The IN operator is provided with too many operands; number of operands: 101"
        ),
        "{message}"
    );

    // 100 operands are fine.
    let mut scan = db.scan().table_name(&table);
    for i in 0..100 {
        scan = scan.expression_attribute_values(format!(":v{i}"), s(&i.to_string()));
    }
    let fine: Vec<String> = (0..100).map(|i| format!(":v{i}")).collect();
    scan.filter_expression(format!("PK IN ({})", fine.join(", ")))
        .send()
        .await
        .expect("100 operands are within the limit");
}

#[tokio::test]
async fn transactions_over_100_actions_over_4_mb_or_with_two_actions_on_one_item_are_refused() {
    let (_app, db, table) = table().await;
    let many: Vec<TransactWriteItem> = (0..101).map(|i| put(&table, &format!("k{i}"), 1)).collect();
    let (code, message) = refused(
        db.transact_write_items()
            .set_transact_items(Some(many))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains("Member must have length less than or equal to 100"),
        "{message}"
    );

    let big: Vec<TransactWriteItem> = (0..11)
        .map(|i| put(&table, &format!("b{i}"), 390_000))
        .collect();
    let (code, message) = refused(
        db.transact_write_items()
            .set_transact_items(Some(big))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ValidationException",
            "Transaction request cannot be larger than 4 MB"
        )
    );

    let update = Update::builder()
        .table_name(&table)
        .key("PK", s("same"))
        .key("SK", s("X"))
        .update_expression("SET n = :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .unwrap();
    let twice = vec![
        put(&table, "same", 1),
        TransactWriteItem::builder().update(update).build(),
    ];
    let (code, message) = refused(
        db.transact_write_items()
            .set_transact_items(Some(twice))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains("multiple operations on one item"),
        "{message}"
    );

    let scanned = db.scan().table_name(&table).send().await.unwrap();
    assert_eq!(scanned.count, 0, "a refused transaction writes nothing");
}

#[tokio::test]
async fn items_over_400_kb_and_batch_reads_over_100_keys_are_refused() {
    let (_app, db, table) = table().await;
    let (code, message) = refused(
        db.put_item()
            .table_name(&table)
            .item("PK", s("big"))
            .item("SK", s("X"))
            .item("padding", s(&"x".repeat(410 * 1024)))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains("Item size has exceeded the maximum allowed size"),
        "{message}"
    );

    let mut keys = KeysAndAttributes::builder();
    for i in 0..101 {
        keys = keys.keys(
            [
                ("PK".to_owned(), s(&format!("k{i}"))),
                ("SK".to_owned(), s("X")),
            ]
            .into_iter()
            .collect(),
        );
    }
    let (code, message) = refused(
        db.batch_get_item()
            .request_items(&table, keys.build().unwrap())
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains("Too many items requested for the BatchGetItem call"),
        "{message}"
    );
}

#[tokio::test]
async fn a_batch_write_of_more_than_25_requests_is_refused() {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let (_app, db, table) = table().await;
    let writes = |n: usize| -> Vec<WriteRequest> {
        (0..n)
            .map(|i| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .item("PK", s(&format!("batch-{i}")))
                            .item("SK", s("X"))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect()
    };
    let (code, message) = refused(
        db.batch_write_item()
            .request_items(&table, writes(26))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.contains("less than or equal to 25"), "{message}");
    db.batch_write_item()
        .request_items(&table, writes(25))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_start_key_outside_the_key_condition_and_unused_names_or_values_are_refused() {
    let (_app, db, table) = table().await;
    let start = |sk: &str| {
        [("PK".to_owned(), s("p")), ("SK".to_owned(), s(sk))]
            .into_iter()
            .collect()
    };
    let query = || {
        db.query()
            .table_name(&table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s("p"))
            .expression_attribute_values(":lo", s("2030-01-02"))
            .expression_attribute_values(":hi", s("2030-01-05"))
    };
    let (code, message) = refused(
        query()
            .set_exclusive_start_key(Some(start("2030-01-01")))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ValidationException",
            "The provided starting key is outside query boundaries based on provided conditions"
        )
    );
    query()
        .set_exclusive_start_key(Some(start("2030-01-03")))
        .send()
        .await
        .expect("a start key inside the range is fine");

    let (code, message) = refused(
        db.update_item()
            .table_name(&table)
            .key("PK", s("a"))
            .key("SK", s("b"))
            .update_expression("SET n = :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":spare", AttributeValue::N("2".into()))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains(
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:spare}"
        ),
        "{message}"
    );

    let unused_in_transaction = Update::builder()
        .table_name(&table)
        .key("PK", s("a"))
        .key("SK", s("b"))
        .update_expression("SET n = :one")
        .expression_attribute_names("#spare", "spare")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .unwrap();
    let (code, message) = refused(
        db.transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(unused_in_transaction)
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains("ExpressionAttributeNames unused in expressions: keys: {#spare}"),
        "{message}"
    );
}

/// The faulty emulator cancels transactions with `TransactionConflict`, as DynamoDB does while another
/// transaction holds an item; the test's own (exempt) client never sees a fault.
#[tokio::test]
async fn the_faulty_emulator_injects_conflicts_into_the_service_and_not_into_the_test() {
    let app = TestApp::spawn_faulty().await;
    let service = Client::new(&local::sdk_config(clinic_tests::faulty_emulator_url()));
    let (mut written, mut conflicts) = (0, 0);
    for i in 0..60 {
        match service
            .transact_write_items()
            .transact_items(put(&app.table, &format!("f{i}"), 1))
            .send()
            .await
        {
            Ok(_) => written += 1,
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                    let reasons = c.cancellation_reasons.unwrap_or_default();
                    assert_eq!(reasons.len(), 1);
                    assert_eq!(reasons[0].code(), Some("TransactionConflict"));
                    conflicts += 1;
                }
                // Throttling is injected too (and survives the SDK's own retry now and then).
                other => assert!(
                    matches!(
                        other.code(),
                        Some("ThrottlingException" | "ProvisionedThroughputExceededException")
                    ),
                    "{other:?}"
                ),
            },
        }
    }
    // TEST_FAULTS cancels 30 % of transactions: 60 attempts with none cancelled is a 1e-9 chance.
    assert!(conflicts > 0, "no transaction was cancelled");
    assert!(written > 0, "every transaction failed");
    let stored = app.db.scan().table_name(&app.table).send().await.unwrap();
    assert_eq!(
        stored.count, written,
        "a cancelled transaction writes nothing"
    );
    for i in 0..60 {
        app.db
            .transact_write_items()
            .transact_items(put(&app.table, &format!("g{i}"), 1))
            .send()
            .await
            .expect("the test's own client gets no faults");
    }
}

/// A schedule for `at` in the stack's group, sent as the service sends it (faults apply); its answer.
async fn create_schedule(
    app: &TestApp,
    name: &str,
    at: &str,
) -> Result<
    (),
    aws_sdk_scheduler::error::SdkError<
        aws_sdk_scheduler::operation::create_schedule::CreateScheduleError,
    >,
> {
    use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
    let stack = &app.stack.stack;
    aws_sdk_scheduler::Client::new(&stack.sdk)
        .create_schedule()
        .name(name)
        .group_name(stack.reference("ScheduleGroup", None).unwrap())
        .schedule_expression(format!("at({at})"))
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            Target::builder()
                .arn(stack.reference("JobsQueue", Some("Arn")).unwrap())
                .role_arn(stack.reference("SchedulerRole", Some("Arn")).unwrap())
                .input("{}")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map(|_| ())
}

/// Asked for, Scheduler's own ways show: a one-time schedule may fire anywhere in the minute of its
/// time (up to 59 s early), and CreateSchedule and DeleteSchedule may be throttled or fail.
#[tokio::test]
async fn the_emulator_moves_schedules_within_their_minute_and_fails_scheduler_calls_on_request() {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn().await;
    let group = app.schedule_group();
    let inspector = aws_sdk_scheduler::Client::new(&app.inspector);

    app.set_faults("scheduler_early=1").await;
    let mut seconds = std::collections::BTreeSet::new();
    for i in 0..20 {
        let name = format!("early-{i}");
        create_schedule(&app, &name, "2031-01-01T10:05:30")
            .await
            .unwrap();
        let got = inspector
            .get_schedule()
            .group_name(&group)
            .name(&name)
            .send()
            .await
            .unwrap();
        let expression = got.schedule_expression().unwrap().to_owned();
        let second = expression
            .strip_prefix("at(2031-01-01T10:05:")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("not in the minute of its time: {expression}"));
        seconds.insert(second.parse::<u32>().unwrap());
    }
    assert!(seconds.iter().all(|s| *s < 60));
    assert!(seconds.len() > 1, "anywhere in the minute: {seconds:?}");

    app.set_faults("scheduler_errors=1").await;
    let refused = create_schedule(&app, "refused", "2031-01-01T10:05:30")
        .await
        .expect_err("every call fails");
    let code = refused.code().unwrap_or_default().to_owned();
    assert!(
        ["ThrottlingException", "InternalServerException"].contains(&code.as_str()),
        "{refused:?}"
    );
    let deleted = aws_sdk_scheduler::Client::new(&app.stack.stack.sdk)
        .delete_schedule()
        .group_name(&group)
        .name("early-0")
        .send()
        .await;
    assert!(deleted.is_err(), "DeleteSchedule fails too");
    app.set_faults("").await;
    assert!(
        inspector
            .get_schedule()
            .group_name(&group)
            .name("early-0")
            .send()
            .await
            .is_ok(),
        "nothing was deleted"
    );
}

/// Asked for, the jobs' queues deliver as a standard queue may: a message again after it was
/// received and deleted, and a message after one sent later. Only the local stack's stand-ins for
/// Lambda's pollers (`INFRA_APP`) meet this; the test's own reads do not.
#[tokio::test]
async fn the_emulator_delivers_messages_twice_and_out_of_order_on_request() {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn().await;
    let sqs = aws_sdk_sqs::Client::new(&app.inspector);
    let poller = aws_sdk_sqs::Client::new(
        &app.stack
            .stack
            .sdk
            .to_builder()
            .app_name(aws_config::AppName::new(local::INFRA_APP).unwrap())
            .build(),
    );
    let url = sqs
        .create_queue()
        .queue_name(format!("unreliable-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let send = |body: &'static str| {
        let (sqs, url) = (sqs.clone(), url.clone());
        async move {
            sqs.send_message()
                .queue_url(url)
                .message_body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let receive = || {
        let (poller, url) = (poller.clone(), url.clone());
        async move {
            poller
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default()
        }
    };

    app.set_faults("sqs_duplicate=1").await;
    send("twice").await;
    let first = receive().await;
    assert_eq!(first.len(), 1);
    poller
        .delete_message()
        .queue_url(&url)
        .receipt_handle(first[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    app.set_faults("").await;
    let again = receive().await;
    assert_eq!(
        (again[0].body(), again[0].message_id()),
        (Some("twice"), first[0].message_id()),
        "delivered again, deleted or not"
    );
    // The copy's receipt handle deletes nothing more; the queue is then empty.
    poller
        .delete_message()
        .queue_url(&url)
        .receipt_handle(again[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert!(receive().await.is_empty());

    app.set_faults("sqs_reorder=1").await;
    send("sent first").await;
    assert!(receive().await.is_empty(), "held back");
    app.set_faults("").await;
    send("sent second").await;
    let bodies: Vec<String> = receive()
        .await
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect();
    assert_eq!(bodies, ["sent second", "sent first"]);
}

/// DynamoDB cancels a transaction whose update cannot apply to the item as stored (adding 1 to a
/// string) with a `ValidationError` reason. No retry can cure that: the store answers at once with a
/// defect (500 `internal` at the API), not after its retry budget with 503 `contended`.
#[tokio::test]
async fn a_transaction_cancelled_for_a_validation_error_is_a_defect_and_is_not_retried() {
    let (app, db, table) = table().await;
    db.put_item()
        .table_name(&table)
        .item("PK", s("odd"))
        .item("SK", s("X"))
        .item("n", s("not a number"))
        .send()
        .await
        .unwrap();
    let update = Update::builder()
        .table_name(&table)
        .key("PK", s("odd"))
        .key("SK", s("X"))
        .update_expression("SET n = n + :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let outcome = app
        .store()
        .transact(vec![TransactWriteItem::builder().update(update).build()])
        .await;
    let Err(e) = outcome else {
        panic!("committed: {outcome:?}")
    };
    assert!(
        matches!(e, shared::store::StoreError::Dynamo(_)),
        "a defect, not a condition to retry: {e:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let api: shared::api::ApiError = e.into();
    assert_eq!((api.status(), api.code), (500, shared::api::Code::Internal));
}

/// Every record of the table's stream so far, from its first shard's start.
async fn stream_records(app: &TestApp) -> Vec<aws_sdk_dynamodbstreams::types::Record> {
    let arn = app
        .db
        .describe_table()
        .table_name(&app.table)
        .send()
        .await
        .unwrap()
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    let streams = aws_sdk_dynamodbstreams::Client::new(&app.inspector);
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id.unwrap())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(at) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(at)
                .send()
                .await
                .unwrap();
            let got = page.records.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            records.extend(got);
            iterator = page.next_shard_iterator;
        }
    }
    records
}

/// A transaction DynamoDB cancels leaves no trace: what it put, updated and deleted before the action
/// whose condition failed is as it was (absent, with its old attributes, present), and the table's
/// stream holds no record of it. Readers of the stream then see the next committed write.
#[tokio::test]
async fn a_cancelled_transaction_leaves_its_items_and_the_stream_as_they_were() {
    let (app, db, table) = table().await;
    for (pk, n) in [("kept", "1"), ("gone", "1"), ("guard", "1")] {
        db.put_item()
            .table_name(&table)
            .item("PK", s(pk))
            .item("SK", s("X"))
            .item("n", AttributeValue::N(n.into()))
            .send()
            .await
            .unwrap();
    }
    let key = |pk: &str| {
        std::collections::HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s("X"))])
    };
    let set_n = |n: &str| {
        Update::builder()
            .table_name(&table)
            .set_key(Some(key("kept")))
            .update_expression("SET n = :n")
            .expression_attribute_values(":n", AttributeValue::N(n.into()))
            .build()
            .unwrap()
    };
    let before = stream_records(&app).await.len();
    let delete = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(&table)
        .set_key(Some(key("gone")))
        .build()
        .unwrap();
    let guard = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(&table)
        .set_key(Some(key("guard")))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .unwrap();
    let cancelled = db
        .transact_write_items()
        .transact_items(put(&table, "new", 1))
        .transact_items(TransactWriteItem::builder().update(set_n("2")).build())
        .transact_items(TransactWriteItem::builder().delete(delete).build())
        .transact_items(TransactWriteItem::builder().condition_check(guard).build())
        .send()
        .await;
    let (code, message) = refused(cancelled);
    assert_eq!(code, "TransactionCanceledException");
    assert!(
        message.contains("[None, None, None, ConditionalCheckFailed]"),
        "{message}"
    );

    let get = |pk: &'static str| {
        db.get_item()
            .table_name(&table)
            .set_key(Some(key(pk)))
            .consistent_read(true)
            .send()
    };
    assert_eq!(get("new").await.unwrap().item, None);
    assert_eq!(
        get("kept").await.unwrap().item.unwrap()["n"],
        AttributeValue::N("1".into())
    );
    assert!(get("gone").await.unwrap().item.is_some());
    assert_eq!(stream_records(&app).await.len(), before, "no record of it");

    db.transact_write_items()
        .transact_items(TransactWriteItem::builder().update(set_n("3")).build())
        .send()
        .await
        .unwrap();
    let records = stream_records(&app).await;
    assert_eq!(records.len(), before + 1);
    let last = records.last().unwrap().dynamodb.as_ref().unwrap();
    assert_eq!(
        last.new_image.as_ref().unwrap()["n"],
        aws_sdk_dynamodbstreams::types::AttributeValue::N("3".into())
    );
    assert_eq!(
        last.old_image.as_ref().unwrap()["n"],
        aws_sdk_dynamodbstreams::types::AttributeValue::N("1".into())
    );
}

/// Asked for, a write reaches the indexes late, as DynamoDB's global secondary indexes are updated
/// asynchronously: for `gsi_lag` seconds a query of an index does not see the item (the test's own
/// reads, exempt, see it at once).
#[tokio::test]
async fn the_emulator_lets_index_queries_lag_behind_writes_on_request() {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn().await;
    let service = aws_sdk_dynamodb::Client::new(&app.stack.stack.sdk);
    let query = |db: &Client| {
        db.query()
            .table_name(&app.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s("LAGGING"))
            .send()
    };
    app.set_faults("gsi_lag=0.5").await;
    service
        .put_item()
        .table_name(&app.table)
        .item("PK", s("lag"))
        .item("SK", s("X"))
        .item("GSI1PK", s("LAGGING"))
        .item("GSI1SK", s("1"))
        .send()
        .await
        .unwrap();
    let at_once = query(&service).await.unwrap();
    assert_eq!(at_once.count(), 0, "not in the index yet");
    assert_eq!(
        query(&app.db).await.unwrap().count(),
        1,
        "the test's own read is exempt"
    );
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        query(&service).await.unwrap().count(),
        1,
        "there once the lag passed"
    );
    app.set_faults("").await;
}

/// The units a request reports consuming.
fn consumed(c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) -> f64 {
    c.and_then(|c| c.capacity_units).unwrap_or(-1.0)
}

#[tokio::test]
async fn asked_for_its_consumed_capacity_the_emulator_answers_by_dynamodbs_rules() {
    use aws_sdk_dynamodb::types::{
        ConditionCheck, ReturnConsumedCapacity::Indexes, ReturnConsumedCapacity::Total,
    };
    let (_app, db, table) = table().await;
    let pk = uuid::Uuid::new_v4().to_string();
    let key = |sk: &str| {
        std::collections::HashMap::from([("PK".to_owned(), s(&pk)), ("SK".to_owned(), s(sk))])
    };
    // 1,513 bytes (names and values): two write units; no index key, so no index write.
    let big = db
        .put_item()
        .table_name(&table)
        .set_item(Some(key("big")))
        .item("padding", s(&"x".repeat(1500 - pk.len())))
        .return_consumed_capacity(Indexes)
        .send()
        .await
        .unwrap();
    let c = big.consumed_capacity.unwrap();
    assert_eq!(c.capacity_units, Some(2.0));
    assert_eq!(c.global_secondary_indexes, None);

    // A small item in GSI1 (all attributes projected): one unit for the table, one for the index.
    let small = db
        .put_item()
        .table_name(&table)
        .set_item(Some(key("small")))
        .item("GSI1PK", s("g"))
        .item("GSI1SK", s("1"))
        .return_consumed_capacity(Indexes)
        .send()
        .await
        .unwrap();
    let c = small.consumed_capacity.unwrap();
    assert_eq!(c.capacity_units, Some(2.0));
    assert_eq!(
        c.global_secondary_indexes.unwrap()["GSI1"].capacity_units,
        Some(1.0)
    );
    // Moving its index key is a delete and a put in the index; changing another attribute one write.
    let update = |expression: &'static str| {
        db.update_item()
            .table_name(&table)
            .set_key(Some(key("small")))
            .update_expression(expression)
            .expression_attribute_values(":v", s("2"))
            .return_consumed_capacity(Indexes)
            .send()
    };
    let moved = update("SET GSI1SK = :v").await.unwrap();
    assert_eq!(
        moved
            .consumed_capacity
            .as_ref()
            .unwrap()
            .global_secondary_indexes
            .as_ref()
            .unwrap()["GSI1"]
            .capacity_units,
        Some(2.0)
    );
    assert_eq!(consumed(moved.consumed_capacity.as_ref()), 3.0);
    let noted = update("SET note = :v").await.unwrap();
    assert_eq!(consumed(noted.consumed_capacity.as_ref()), 2.0);
    // GSI3 projects only its keys, the table's, `id` and `offerCount`: the padding stays out of it.
    let projected = db
        .put_item()
        .table_name(&table)
        .set_item(Some(key("projected")))
        .item("GSI3PK", s("h"))
        .item("GSI3SK", s("1"))
        .item("padding", s(&"y".repeat(1500)))
        .return_consumed_capacity(Indexes)
        .send()
        .await
        .unwrap();
    let c = projected.consumed_capacity.unwrap();
    assert_eq!(c.table.unwrap().capacity_units, Some(2.0));
    assert_eq!(
        c.global_secondary_indexes.unwrap()["GSI3"].capacity_units,
        Some(1.0)
    );

    // Reads: 4 KB a unit, half for an eventually consistent read, the minimum for nothing found.
    for (sk, consistent, want) in [("big", false, 0.5), ("big", true, 1.0), ("none", true, 1.0)] {
        let got = db
            .get_item()
            .table_name(&table)
            .set_key(Some(key(sk)))
            .consistent_read(consistent)
            .return_consumed_capacity(Total)
            .send()
            .await
            .unwrap();
        assert_eq!(
            consumed(got.consumed_capacity.as_ref()),
            want,
            "{sk} {consistent}"
        );
    }
    // A query pays for every item it reads, not for the one its filter keeps: ten items of about a
    // kilobyte are three 4 KB units, halved.
    let many = uuid::Uuid::new_v4().to_string();
    for i in 0..10 {
        db.put_item()
            .table_name(&table)
            .item("PK", s(&many))
            .item("SK", s(&i.to_string()))
            .item("padding", s(&"z".repeat(1000)))
            .send()
            .await
            .unwrap();
    }
    let queried = db
        .query()
        .table_name(&table)
        .key_condition_expression("PK = :p")
        .filter_expression("SK = :s")
        .expression_attribute_values(":p", s(&many))
        .expression_attribute_values(":s", s("3"))
        .return_consumed_capacity(Total)
        .send()
        .await
        .unwrap();
    assert_eq!(queried.count, 1);
    assert_eq!(consumed(queried.consumed_capacity.as_ref()), 1.5);
    // Unfiltered, it pays for what it answers: five of them (a Limit) are two units, halved; all ten
    // consistently three.
    let unfiltered = |limit: Option<i32>| {
        db.query()
            .table_name(&table)
            .key_condition_expression("PK = :p")
            .expression_attribute_values(":p", s(&many))
            .set_limit(limit)
            .consistent_read(limit.is_none())
            .return_consumed_capacity(Total)
            .send()
    };
    let five = unfiltered(Some(5)).await.unwrap();
    assert_eq!(five.count, 5);
    assert_eq!(consumed(five.consumed_capacity.as_ref()), 1.0);
    let all = unfiltered(None).await.unwrap();
    assert_eq!(all.count, 10);
    assert_eq!(consumed(all.consumed_capacity.as_ref()), 3.0);
    // A batch read rounds each item: two items under 4 KB, eventually consistent, one unit.
    let batch = db
        .batch_get_item()
        .request_items(
            &table,
            KeysAndAttributes::builder()
                .keys(key("big"))
                .keys(key("small"))
                .build()
                .unwrap(),
        )
        .return_consumed_capacity(Total)
        .send()
        .await
        .unwrap();
    assert_eq!(consumed(batch.consumed_capacity().first()), 1.0);
    // A transaction writes each item twice, its condition checks included: a small put (2) and a
    // check of the 1.5 KB item (4).
    let tx = db
        .transact_write_items()
        .transact_items(put(&table, &uuid::Uuid::new_v4().to_string(), 10))
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&table)
                        .set_key(Some(key("big")))
                        .condition_expression("attribute_exists(PK)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .return_consumed_capacity(Total)
        .send()
        .await
        .unwrap();
    assert_eq!(consumed(tx.consumed_capacity().first()), 6.0);
    // Not asked, not answered.
    let quiet = db
        .get_item()
        .table_name(&table)
        .set_key(Some(key("big")))
        .send()
        .await
        .unwrap();
    assert_eq!(quiet.consumed_capacity, None);
}

/// A Query of the table reads its own partition, in sort-key order, page by page (the emulator
/// answers it from the partition alone, as DynamoDB finds a partition by its key, where moto sorted
/// the whole table): the same items, order, limits and cursors as before.
#[tokio::test]
async fn a_query_of_the_table_reads_its_partition_in_order_page_by_page() {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let (_app, db, table) = table().await;
    // Two partitions interleaved, their sort keys written out of order.
    let mut writes = vec![];
    for i in [7, 2, 9, 0, 4, 1, 8, 3, 6, 5] {
        for pk in ["OPEN#a", "OPEN#b"] {
            writes.push(
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .item("PK", s(pk))
                            .item("SK", s(&format!("2030-01-01T0{i}:00:00Z")))
                            .item("n", AttributeValue::N(i.to_string()))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            );
        }
    }
    for chunk in writes.chunks(25) {
        db.batch_write_item()
            .request_items(&table, chunk.to_vec())
            .send()
            .await
            .unwrap();
    }
    let mut seen = vec![];
    let mut start = None;
    loop {
        let page = db
            .query()
            .table_name(&table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s("OPEN#a"))
            .expression_attribute_values(":lo", s("2030-01-01T02"))
            .expression_attribute_values(":hi", s("2030-01-01T08~"))
            .filter_expression("n <> :five")
            .expression_attribute_values(":five", AttributeValue::N("5".into()))
            .limit(3)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            assert_eq!(item["PK"], s("OPEN#a"));
            seen.push(item["n"].as_n().unwrap().parse::<u32>().unwrap());
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    // 2 to 8 in order, 5 filtered out after the limit counted it (pages of 3 read: 2-4, 5-7, 8).
    assert_eq!(seen, [2, 3, 4, 6, 7, 8]);
    let backwards = db
        .query()
        .table_name(&table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", s("OPEN#b"))
        .scan_index_forward(false)
        .limit(2)
        .send()
        .await
        .unwrap();
    let last: Vec<&str> = backwards
        .items()
        .iter()
        .map(|i| i["SK"].as_s().unwrap().as_str())
        .collect();
    assert_eq!(last, ["2030-01-01T09:00:00Z", "2030-01-01T08:00:00Z"]);
}

/// `sdk` signing with the access key `key`, as a function of the local stack signs (`local::iam`).
fn signing_with(key: &str) -> Client {
    Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&local::sdk_config(clinic_tests::emulator_url()))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                key, "local", None, None, "test",
            ))
            .build(),
    )
}

async fn emulator_iam(body: Option<serde_json::Value>) -> serde_json::Value {
    let method = if body.is_some() { "POST" } else { "GET" };
    let (status, _, answer) = local::client::call(
        &local::client::http(),
        method,
        &format!("{}/_emulator/iam", clinic_tests::emulator_url()),
        None,
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn get(
    table: &str,
    pk: &str,
) -> aws_sdk_dynamodb::operation::get_item::builders::GetItemInputBuilder {
    aws_sdk_dynamodb::operation::get_item::GetItemInput::builder()
        .table_name(table)
        .key("PK", s(pk))
        .key("SK", s("X"))
}

#[tokio::test]
async fn a_key_with_policies_may_do_only_what_they_allow_as_iam_decides() {
    let (_app, db, table) = table().await;
    let arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}");
    let key = format!("policy-test-{}", uuid::Uuid::new_v4().simple());
    let slots_only = json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SLOT#*"]}});
    emulator_iam(Some(json!({"principals": {&key: [
        {"effect": "Allow", "actions": ["dynamodb:GetItem", "dynamodb:PutItem"], "resources": [&arn],
         "conditions": slots_only},
        {"effect": "Allow", "actions": ["dynamodb:Query"], "resources": [format!("{arn}/index/*")]},
        {"effect": "Allow", "actions": ["dynamodb:Query"], "resources": [&arn],
         "conditions": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["OPEN#*"]}}},
        {"effect": "Deny", "actions": ["dynamodb:*"], "resources": [&arn],
         "conditions": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SLOT#locked*"]}}},
    ]}})))
    .await;
    let client = signing_with(&key);

    // Allowed: an item of a SLOT# partition, read and written.
    let put_slot = |pk: &str| {
        client
            .put_item()
            .table_name(&table)
            .item("PK", s(pk))
            .item("SK", s("X"))
    };
    put_slot("SLOT#1")
        .send()
        .await
        .expect("a SLOT# item may be written");
    get(&table, "SLOT#1")
        .send_with(&client)
        .await
        .expect("and read");

    // Another partition: AccessDenied, with IAM's message.
    let (code, message) = refused(get(&table, "APPT#1").send_with(&client).await);
    assert_eq!(code, "AccessDeniedException");
    assert!(
        message.contains(&format!(
            "{key} is not authorized to perform: dynamodb:GetItem on resource: {arn}"
        )),
        "{message}"
    );
    // An explicit Deny wins over the Allow.
    let (code, _) = refused(put_slot("SLOT#locked-1").send().await);
    assert_eq!(code, "AccessDeniedException");

    // A transaction needs each item's own action: ConditionCheckItem is not allowed, so nothing of it
    // is written, the allowed Put neither.
    let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(&table)
        .key("PK", s("SLOT#1"))
        .key("SK", s("X"))
        .condition_expression("attribute_exists(PK)")
        .build()
        .unwrap();
    let (code, message) = refused(
        client
            .transact_write_items()
            .transact_items(put(&table, "SLOT#2", 1))
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("dynamodb:ConditionCheckItem"), "{message}");
    let stored = db
        .get_item()
        .table_name(&table)
        .key("PK", s("SLOT#2"))
        .key("SK", s("X"));
    assert!(
        stored.send().await.unwrap().item.is_none(),
        "a refused transaction writes nothing"
    );

    // A Query is allowed on the indexes, and on the table in OPEN# partitions; a Scan nowhere.
    client
        .query()
        .table_name(&table)
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :p")
        .expression_attribute_values(":p", s("ANY"))
        .send()
        .await
        .expect("a query of an index");
    let (code, _) = refused(
        client
            .query()
            .table_name(&table)
            .key_condition_expression("PK = :p")
            .expression_attribute_values(":p", s("SLOT#1"))
            .send()
            .await,
    );
    assert_eq!(
        code, "AccessDeniedException",
        "the table itself only in OPEN# partitions"
    );
    // Read from the key condition as the service writes it: names and values by placeholder, a sort
    // key condition beside the partition's.
    client
        .query()
        .table_name(&table)
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :sk)")
        .expression_attribute_names("#pk", "PK")
        .expression_attribute_names("#sk", "SK")
        .expression_attribute_values(":pk", s("OPEN#ANY#2030-01-01#3"))
        .expression_attribute_values(":sk", s("2030"))
        .send()
        .await
        .expect("a query of an OPEN# partition");
    let (code, _) = refused(client.scan().table_name(&table).send().await);
    assert_eq!(code, "AccessDeniedException");

    // A key without policies (the harness's) may do anything; the refusals are listed.
    db.scan()
        .table_name(&table)
        .send()
        .await
        .expect("the harness may scan");
    let answer = emulator_iam(None).await;
    let mine: Vec<String> = answer["refused"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["key"] == key.as_str())
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        mine,
        [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:Query",
            "dynamodb:Scan"
        ]
    );
}

#[tokio::test]
async fn every_function_of_a_stack_calls_aws_under_its_own_policies() {
    let app = TestApp::spawn().await;
    let stack = &app.stack.stack;
    let principals = emulator_iam(None).await["principals"].clone();
    for f in &stack.functions {
        let key = local::iam::key(&stack.prefix, f);
        assert!(
            principals
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == key.as_str()),
            "{} has no policies in the emulator",
            f.logical_id
        );
    }
    // The worker may read a slot, and may not write the audit bucket's partition, scan the table or
    // put events on the bus: its template statements, resolved in this stack, and nothing more.
    let worker = stack
        .functions
        .iter()
        .find(|f| f.binary == "worker")
        .unwrap();
    let as_worker = Client::new(&stack.sdk_for(worker));
    get(&app.table, "SLOT#anything")
        .send_with(&as_worker)
        .await
        .expect("the worker may read the table");
    let (code, _) = refused(as_worker.scan().table_name(&app.table).send().await);
    assert_eq!(code, "AccessDeniedException");
    let bus = stack
        .reference("EventBus", None)
        .cloned()
        .unwrap_or_default();
    let events = aws_sdk_eventbridge::Client::new(&stack.sdk_for(worker));
    let e = events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source("clinic")
                .detail_type("x")
                .detail("{}")
                .build(),
        )
        .send()
        .await
        .expect_err("the worker may not put events");
    assert_eq!(
        aws_sdk_eventbridge::error::ProvideErrorMetadata::code(&e.into_service_error()),
        Some("AccessDeniedException")
    );
}
