//! Builds in the emulator everything template.yaml declares (tables, queues, the event bus, schedule
//! groups), gives each function the configuration its template environment resolves to, and drives the
//! asynchronous paths: the table stream into `publish`, queues into their functions, and every event on
//! the bus into a tap queue that `GET /_local/events` reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use shared::config::Config;
use shared::jobs::Worker;
use shared::store::Store;
use shared::stream::Publisher;

use crate::template::{Function, Template};

pub const ACCOUNT: &str = "123456789012";

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What one provisioned copy of the template is made of.
pub struct Stack {
    pub template: Template,
    pub functions: Vec<Function>,
    pub prefix: String,
    pub sdk: SdkConfig,
    /// `(logical id, attribute)` -> value; attribute `None` is what `!Ref` gives.
    refs: HashMap<(String, Option<String>), String>,
    pub tap_queue_url: String,
    /// Every event delivered on the bus so far, oldest first.
    pub events: Arc<Mutex<Vec<Value>>>,
}

fn yaml_str<'a>(v: &'a Yaml, key: &str) -> Result<&'a str, Error> {
    v.get(key)
        .and_then(Yaml::as_str)
        .ok_or_else(|| format!("template: {key} is missing").into())
}

fn key_schema(v: &Yaml) -> Result<Vec<KeySchemaElement>, Error> {
    let mut out = vec![];
    for k in v.as_sequence().ok_or("KeySchema must be a list")? {
        out.push(
            KeySchemaElement::builder()
                .attribute_name(yaml_str(k, "AttributeName")?)
                .key_type(KeyType::from(yaml_str(k, "KeyType")?))
                .build()?,
        );
    }
    Ok(out)
}

impl Stack {
    /// Creates every resource of `template` with names starting with `prefix` (the stack name).
    pub async fn provision(
        template: Template,
        prefix: &str,
        sdk: SdkConfig,
    ) -> Result<Stack, Error> {
        let functions = template.functions()?;
        let mut stack = Stack {
            template,
            functions,
            prefix: prefix.to_owned(),
            sdk,
            refs: HashMap::new(),
            tap_queue_url: String::new(),
            events: Arc::new(Mutex::new(vec![])),
        };
        stack
            .refs
            .insert(("AWS::StackName".into(), None), prefix.to_owned());
        stack
            .refs
            .insert(("AWS::AccountId".into(), None), ACCOUNT.to_owned());
        stack
            .refs
            .insert(("AWS::Region".into(), None), stack.region());
        stack
            .refs
            .insert(("AWS::URLSuffix".into(), None), "amazonaws.com".into());
        stack.create_tables().await?;
        stack.create_queues().await?;
        stack.create_buses().await?;
        stack.create_schedule_groups().await?;
        for (id, r) in stack.template.resources.clone() {
            match r.kind.as_str() {
                "AWS::IAM::Role" => {
                    stack.refs.insert(
                        (id.clone(), Some("Arn".into())),
                        format!("arn:aws:iam::{ACCOUNT}:role/{prefix}-{id}"),
                    );
                    stack
                        .refs
                        .insert((id.clone(), None), format!("{prefix}-{id}"));
                }
                "AWS::Serverless::HttpApi" => {
                    stack.refs.insert((id, None), "local".into());
                }
                _ => {}
            }
        }
        Ok(stack)
    }

    fn region(&self) -> String {
        self.sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }

    fn name_of(&self, id: &str, properties: &Yaml, name_property: &str) -> Result<String, Error> {
        match properties.get(name_property) {
            Some(v) => Ok(self.resolve(v)?),
            None => Ok(format!("{}-{id}", self.prefix)),
        }
    }

    /// The resources of one type, by logical id, with their properties.
    fn declared(&self, kind: &str) -> Vec<(String, Yaml)> {
        self.template
            .of_kind(kind)
            .map(|(id, r)| (id.clone(), r.properties.clone()))
            .collect()
    }

    pub fn resolve(&self, v: &Yaml) -> Result<String, Error> {
        let refs = &self.refs;
        Ok(self.template.resolve(v, &|id, attr| {
            refs.get(&(id.to_owned(), attr.map(str::to_owned))).cloned()
        })?)
    }

    pub fn reference(&self, id: &str, attr: Option<&str>) -> Option<&String> {
        self.refs.get(&(id.to_owned(), attr.map(str::to_owned)))
    }

    async fn create_tables(&mut self) -> Result<(), Error> {
        let db = aws_sdk_dynamodb::Client::new(&self.sdk);
        let tables: Vec<(String, Yaml)> = self.declared("AWS::DynamoDB::Table");
        for (id, p) in tables {
            let name = self.name_of(&id, &p, "TableName")?;
            let mut create = db
                .create_table()
                .table_name(&name)
                .set_key_schema(Some(key_schema(p.get("KeySchema").ok_or("KeySchema")?)?));
            for a in p
                .get("AttributeDefinitions")
                .and_then(Yaml::as_sequence)
                .ok_or("AttributeDefinitions")?
            {
                create = create.attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(yaml_str(a, "AttributeName")?)
                        .attribute_type(ScalarAttributeType::from(yaml_str(a, "AttributeType")?))
                        .build()?,
                );
            }
            for g in p
                .get("GlobalSecondaryIndexes")
                .and_then(Yaml::as_sequence)
                .cloned()
                .unwrap_or_default()
            {
                let projection = g
                    .get("Projection")
                    .and_then(|p| p.get("ProjectionType"))
                    .and_then(Yaml::as_str)
                    .unwrap_or("ALL");
                create = create.global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(yaml_str(&g, "IndexName")?)
                        .set_key_schema(Some(key_schema(g.get("KeySchema").ok_or("KeySchema")?)?))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::from(projection))
                                .build(),
                        )
                        .build()?,
                );
            }
            create = create.billing_mode(BillingMode::from(
                p.get("BillingMode")
                    .and_then(Yaml::as_str)
                    .unwrap_or("PAY_PER_REQUEST"),
            ));
            if let Some(view) = p
                .get("StreamSpecification")
                .and_then(|s| s.get("StreamViewType"))
                .and_then(Yaml::as_str)
            {
                create = create.stream_specification(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::from(view))
                        .build()?,
                );
            }
            let table = create
                .send()
                .await?
                .table_description
                .ok_or("no table description")?;
            if let Some(ttl) = p
                .get("TimeToLiveSpecification")
                .and_then(|t| t.get("AttributeName"))
                .and_then(Yaml::as_str)
            {
                db.update_time_to_live()
                    .table_name(&name)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .attribute_name(ttl)
                            .enabled(true)
                            .build()?,
                    )
                    .send()
                    .await?;
            }
            self.refs.insert((id.clone(), None), name);
            self.refs.insert(
                (id.clone(), Some("Arn".into())),
                table.table_arn.unwrap_or_default(),
            );
            if let Some(stream) = table.latest_stream_arn {
                self.refs.insert((id, Some("StreamArn".into())), stream);
            }
        }
        Ok(())
    }

    async fn create_queue(&mut self, id: &str, name: &str) -> Result<(), Error> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await?
            .queue_url
            .ok_or("no queue url")?;
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?;
        let arn = attrs
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or("no queue arn")?;
        self.refs.insert((id.to_owned(), None), url);
        self.refs.insert((id.to_owned(), Some("Arn".into())), arn);
        self.refs
            .insert((id.to_owned(), Some("QueueName".into())), name.to_owned());
        Ok(())
    }

    /// Queues first, then their attributes: a redrive policy names another queue's ARN.
    async fn create_queues(&mut self) -> Result<(), Error> {
        let queues: Vec<(String, Yaml)> = self.declared("AWS::SQS::Queue");
        for (id, p) in &queues {
            let name = self.name_of(id, p, "QueueName")?;
            self.create_queue(id, &name).await?;
        }
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        for (id, p) in &queues {
            let url = self.reference(id, None).cloned().ok_or("queue url")?;
            if let Some(v) = p.get("VisibilityTimeout") {
                sqs.set_queue_attributes()
                    .queue_url(&url)
                    .attributes(QueueAttributeName::VisibilityTimeout, self.resolve(v)?)
                    .send()
                    .await?;
            }
            if let Some(r) = p.get("RedrivePolicy") {
                let policy = json!({
                    "deadLetterTargetArn": self.resolve(r.get("deadLetterTargetArn").ok_or("deadLetterTargetArn")?)?,
                    "maxReceiveCount": self.resolve(r.get("maxReceiveCount").ok_or("maxReceiveCount")?)?,
                });
                sqs.set_queue_attributes()
                    .queue_url(&url)
                    .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
                    .send()
                    .await?;
            }
        }
        let tap = format!("{}-events-tap", self.prefix);
        self.create_queue("_EventsTap", &tap).await?;
        self.tap_queue_url = self.reference("_EventsTap", None).cloned().ok_or("tap")?;
        Ok(())
    }

    /// Each bus, with a catch-all rule to the tap queue (local only, not in the template).
    async fn create_buses(&mut self) -> Result<(), Error> {
        let events = aws_sdk_eventbridge::Client::new(&self.sdk);
        let buses: Vec<(String, Yaml)> = self.declared("AWS::Events::EventBus");
        let tap_arn = self
            .reference("_EventsTap", Some("Arn"))
            .cloned()
            .ok_or("tap arn")?;
        for (id, p) in buses {
            let name = self.name_of(&id, &p, "Name")?;
            let arn = events
                .create_event_bus()
                .name(&name)
                .send()
                .await?
                .event_bus_arn
                .unwrap_or_default();
            let rule = format!("{name}-tap");
            events
                .put_rule()
                .name(&rule)
                .event_bus_name(&name)
                .event_pattern(json!({ "account": [ACCOUNT] }).to_string())
                .send()
                .await?;
            events
                .put_targets()
                .rule(&rule)
                .event_bus_name(&name)
                .targets(
                    aws_sdk_eventbridge::types::Target::builder()
                        .id("tap")
                        .arn(&tap_arn)
                        .build()?,
                )
                .send()
                .await?;
            self.refs.insert((id.clone(), None), name);
            self.refs.insert((id, Some("Arn".into())), arn);
        }
        Ok(())
    }

    async fn create_schedule_groups(&mut self) -> Result<(), Error> {
        let scheduler = aws_sdk_scheduler::Client::new(&self.sdk);
        let groups: Vec<(String, Yaml)> = self.declared("AWS::Scheduler::ScheduleGroup");
        for (id, p) in groups {
            let name = self.name_of(&id, &p, "Name")?;
            let arn = scheduler
                .create_schedule_group()
                .name(&name)
                .send()
                .await?
                .schedule_group_arn;
            self.refs.insert((id.clone(), None), name);
            self.refs.insert((id, Some("Arn".into())), arn);
        }
        Ok(())
    }

    /// The function's configuration, from its template environment as resolved in this stack.
    pub fn config_for(&self, f: &Function) -> Result<Config, Error> {
        let mut env = HashMap::new();
        for (k, v) in &f.environment {
            env.insert(k.clone(), self.resolve(v)?);
        }
        Ok(Config::from_lookup(|name| env.get(name).cloned())?)
    }

    pub fn table_name(&self) -> Option<&String> {
        self.template
            .of_kind("AWS::DynamoDB::Table")
            .next()
            .and_then(|(id, _)| self.reference(id, None))
    }

    /// Starts the pollers that stand in for Lambda's event source mappings and the bus tap.
    pub fn spawn_pollers(self: &Arc<Self>) -> Result<(), Error> {
        for f in &self.functions {
            let config = self.config_for(f)?;
            if let Some(table) = &f.stream_of {
                let publisher = Publisher {
                    events: aws_sdk_eventbridge::Client::new(&self.sdk),
                    sqs: aws_sdk_sqs::Client::new(&self.sdk),
                    bus: Config::require(&config.event_bus_name, "EVENT_BUS_NAME")?,
                    jobs_queue_url: Config::require(&config.jobs_queue_url, "JOBS_QUEUE_URL")?,
                };
                let stream_arn = self
                    .reference(table, Some("StreamArn"))
                    .cloned()
                    .ok_or("table without a stream")?;
                tokio::spawn(poll_stream(self.sdk.clone(), stream_arn, publisher));
            }
            if let Some(queue) = &f.queue {
                let url = self
                    .reference(queue, None)
                    .cloned()
                    .ok_or("unknown queue")?;
                let worker = Worker {
                    store: Store::new(
                        aws_sdk_dynamodb::Client::new(&self.sdk),
                        Config::require(&config.table_name, "TABLE_NAME")?,
                    ),
                };
                let arn = self
                    .reference(queue, Some("Arn"))
                    .cloned()
                    .unwrap_or_default();
                tokio::spawn(poll_queue(self.sdk.clone(), url, arn, worker));
            }
        }
        tokio::spawn(poll_tap(
            self.sdk.clone(),
            self.tap_queue_url.clone(),
            self.events.clone(),
        ));
        Ok(())
    }
}

const IDLE: Duration = Duration::from_millis(100);

/// A stream record from the DynamoDB Streams API in the shape Lambda delivers it.
fn lambda_record(r: aws_sdk_dynamodbstreams::types::Record, stream_arn: &str) -> Value {
    let image = |m: Option<HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        serde_json::to_value(serde_dynamo::Item::from(m.unwrap_or_default())).unwrap_or(Value::Null)
    };
    let d = r
        .dynamodb
        .unwrap_or_else(|| aws_sdk_dynamodbstreams::types::StreamRecord::builder().build());
    json!({
        "eventID": r.event_id,
        "eventName": r.event_name.map(|e| e.as_str().to_owned()),
        "eventVersion": r.event_version,
        "eventSource": r.event_source,
        "awsRegion": r.aws_region,
        "eventSourceARN": stream_arn,
        "dynamodb": {
            "ApproximateCreationDateTime": d.approximate_creation_date_time.map(|t| t.secs()).unwrap_or_default(),
            "Keys": image(d.keys),
            "NewImage": image(d.new_image),
            "OldImage": image(d.old_image),
            "SequenceNumber": d.sequence_number,
            "SizeBytes": d.size_bytes.unwrap_or_default(),
            "StreamViewType": d.stream_view_type.map(|v| v.as_str().to_owned()),
        }
    })
}

async fn poll_stream(sdk: SdkConfig, stream_arn: String, publisher: Publisher) {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut pending: Vec<Value> = vec![];
    loop {
        if let Ok(out) = streams
            .describe_stream()
            .stream_arn(&stream_arn)
            .send()
            .await
        {
            for shard in out
                .stream_description
                .and_then(|d| d.shards)
                .unwrap_or_default()
            {
                let Some(id) = shard.shard_id else { continue };
                if iterators.contains_key(&id) {
                    continue;
                }
                let it = streams
                    .get_shard_iterator()
                    .stream_arn(&stream_arn)
                    .shard_id(&id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.shard_iterator);
                iterators.insert(id, it);
            }
        }
        for it in iterators.values_mut() {
            let Some(current) = it.clone() else { continue };
            match streams
                .get_records()
                .shard_iterator(current)
                .limit(100)
                .send()
                .await
            {
                Ok(out) => {
                    pending.extend(
                        out.records
                            .unwrap_or_default()
                            .into_iter()
                            .map(|r| lambda_record(r, &stream_arn)),
                    );
                    *it = out.next_shard_iterator;
                }
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e), "stream poll failed")
                }
            }
        }
        if pending.is_empty() {
            tokio::time::sleep(IDLE).await;
            continue;
        }
        let event: aws_lambda_events::event::dynamodb::Event =
            match serde_json::from_value(json!({ "Records": pending })) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "stream records do not parse as a Lambda event");
                    pending.clear();
                    continue;
                }
            };
        let failures = publisher.handle(event).await.batch_item_failures;
        // Like Lambda with ReportBatchItemFailures: retry from the first failed record, keep the rest.
        match failures.first().and_then(|f| f.item_identifier.clone()) {
            None => pending.clear(),
            Some(seq) => {
                let from = pending
                    .iter()
                    .position(|r| r["dynamodb"]["SequenceNumber"] == json!(seq))
                    .unwrap_or(0);
                pending.drain(..from);
                tokio::time::sleep(IDLE * 5).await;
            }
        }
    }
}

/// Up to ten messages, or an idle pause and none. Short polls: a long poll would hold the
/// single-threaded emulator.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let messages = match sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
    {
        Ok(out) => out.messages.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "queue poll failed");
            vec![]
        }
    };
    if messages.is_empty() {
        tokio::time::sleep(IDLE).await;
    }
    messages
}

async fn poll_queue(sdk: SdkConfig, url: String, arn: String, worker: Worker) {
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    loop {
        let messages = receive(&sqs, &url).await;
        if messages.is_empty() {
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body, "eventSource": "aws:sqs", "eventSourceARN": arn, "attributes": {}, "messageAttributes": {}}))
            .collect();
        let event = match serde_json::from_value(json!({ "Records": records })) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "messages do not parse as an SQS event");
                continue;
            }
        };
        let failed: Vec<String> = worker
            .handle(event)
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for m in messages {
            if !failed.iter().any(|f| Some(f) == m.message_id.as_ref()) {
                if let Some(handle) = m.receipt_handle {
                    let _ = sqs
                        .delete_message()
                        .queue_url(&url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        }
    }
}

async fn poll_tap(sdk: SdkConfig, url: String, events: Arc<Mutex<Vec<Value>>>) {
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    loop {
        let messages = receive(&sqs, &url).await;
        for m in messages {
            if let Some(event) = m
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
            {
                events.lock().expect("events lock").push(event);
            }
            if let Some(handle) = m.receipt_handle {
                let _ = sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
    }
}
