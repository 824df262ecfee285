//! Builds in the emulator everything template.yaml declares (tables, queues, the event bus, schedule
//! groups) and gives each function the configuration its template environment resolves to. What drives
//! the asynchronous paths (stream, queues, the bus tap) is in `sources.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    /// The value of each Secrets Manager secret the template generates, by its `!Ref` (the emulator
    /// has no Secrets Manager: a dynamic reference to one resolves here, as CloudFormation resolves
    /// it at deploy).
    secrets: HashMap<String, String>,
    /// The EMF lines every function of this stack wrote (`GET /_local/metrics`).
    pub metrics: shared::metrics::Lines,
    /// The audit lines its HTTP functions wrote (`GET /_local/audit`), which on AWS a subscription
    /// filter sends through Firehose to the audit bucket.
    pub audit: shared::metrics::Lines,
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
            secrets: HashMap::new(),
            metrics: Default::default(),
            audit: Default::default(),
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
        stack
            .refs
            .insert(("AWS::Partition".into(), None), "aws".into());
        stack.create_tables().await?;
        stack.create_queues().await?;
        stack.create_buckets().await?;
        stack.create_buses().await?;
        stack.create_rules().await?;
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
                "AWS::SecretsManager::Secret" => {
                    let arn = format!(
                        "arn:aws:secretsmanager:{}:{ACCOUNT}:secret:{prefix}-{id}",
                        stack.region()
                    );
                    stack
                        .secrets
                        .insert(arn.clone(), generated_secret(&r.properties));
                    stack.refs.insert((id, None), arn);
                }
                _ => {}
            }
        }
        stack.create_schedules().await?;
        Ok(stack)
    }

    pub fn region(&self) -> String {
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
        let value = self.template.resolve(v, &|id, attr| {
            refs.get(&(id.to_owned(), attr.map(str::to_owned))).cloned()
        })?;
        self.dynamic_references(value)
    }

    /// `{{resolve:secretsmanager:<secret>:SecretString}}` replaced by the secret's value
    /// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html).
    fn dynamic_references(&self, mut value: String) -> Result<String, Error> {
        const OPEN: &str = "{{resolve:secretsmanager:";
        while let Some(start) = value.find(OPEN) {
            let end = value[start..]
                .find("}}")
                .map(|e| start + e)
                .ok_or_else(|| format!("template: an unclosed dynamic reference in {value}"))?;
            let inner = &value[start + OPEN.len()..end];
            let id = inner
                .strip_suffix(":SecretString")
                .ok_or_else(|| format!("template: only :SecretString is served ({inner})"))?;
            let secret = self
                .secrets
                .get(id)
                .ok_or_else(|| format!("template: no secret {id}"))?
                .clone();
            value.replace_range(start..end + 2, &secret);
        }
        Ok(value)
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
                let included: Option<Vec<String>> = g
                    .get("Projection")
                    .and_then(|p| p.get("NonKeyAttributes"))
                    .and_then(Yaml::as_sequence)
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(|n| n.as_str().map(str::to_owned))
                            .collect()
                    });
                create = create.global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(yaml_str(&g, "IndexName")?)
                        .set_key_schema(Some(key_schema(g.get("KeySchema").ok_or("KeySchema")?)?))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::from(projection))
                                .set_non_key_attributes(included)
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

    /// Each bucket, named `<prefix>-<logical id>` in lower case (the audit bucket, with Object Lock as
    /// the template asks).
    async fn create_buckets(&mut self) -> Result<(), Error> {
        let s3 = shared::audit::s3_client(&self.sdk);
        for (id, p) in self.declared("AWS::S3::Bucket") {
            let name = format!("{}-{}", self.prefix, id).to_lowercase();
            let locked = p.get("ObjectLockEnabled").and_then(Yaml::as_bool) == Some(true);
            s3.create_bucket()
                .bucket(&name)
                .object_lock_enabled_for_bucket(locked)
                .send()
                .await?;
            self.refs.insert(
                (id.clone(), Some("Arn".into())),
                format!("arn:aws:s3:::{name}"),
            );
            self.refs.insert((id, None), name);
        }
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
            put_rule(
                &events,
                &name,
                &format!("{name}-tap"),
                json!({ "account": [ACCOUNT] }),
                &[("tap".to_owned(), tap_arn.clone())],
            )
            .await?;
            self.refs.insert((id.clone(), None), name);
            self.refs.insert((id, Some("Arn".into())), arn);
        }
        Ok(())
    }

    /// The template's rules: their bus, pattern and targets (ids and ARNs; no input transformers).
    async fn create_rules(&mut self) -> Result<(), Error> {
        let events = aws_sdk_eventbridge::Client::new(&self.sdk);
        let rules: Vec<(String, Yaml)> = self.declared("AWS::Events::Rule");
        for (id, p) in rules {
            let name = self.name_of(&id, &p, "Name")?;
            let bus = match p.get("EventBusName") {
                Some(b) => self.resolve(b)?,
                None => "default".to_owned(),
            };
            let pattern: serde_json::Value =
                serde_json::to_value(p.get("EventPattern").ok_or("EventPattern")?)?;
            let mut targets = vec![];
            for target in p
                .get("Targets")
                .and_then(Yaml::as_sequence)
                .cloned()
                .unwrap_or_default()
            {
                targets.push((
                    self.resolve(target.get("Id").ok_or("target Id")?)?,
                    self.resolve(target.get("Arn").ok_or("target Arn")?)?,
                ));
            }
            let arn = put_rule(&events, &bus, &name, pattern, &targets).await?;
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

    /// The template's own schedules (the sweeper's rate schedule), as CloudFormation creates them:
    /// not subject to the emulator's faults.
    async fn create_schedules(&mut self) -> Result<(), Error> {
        use aws_sdk_scheduler::types::{
            DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
        };
        let exempt = self
            .sdk
            .to_builder()
            .app_name(aws_config::AppName::new(crate::EXEMPT_APP)?)
            .build();
        let scheduler = aws_sdk_scheduler::Client::new(&exempt);
        for (id, p) in self.declared("AWS::Scheduler::Schedule") {
            let name = self.name_of(&id, &p, "Name")?;
            let target = p.get("Target").ok_or("a schedule needs a Target")?;
            let field = |v: Option<&Yaml>| v.map(|v| self.resolve(v)).transpose();
            let mut built = Target::builder()
                .arn(field(target.get("Arn"))?.ok_or("Target.Arn")?)
                .role_arn(field(target.get("RoleArn"))?.ok_or("Target.RoleArn")?)
                .set_input(field(target.get("Input"))?);
            if let Some(dlq) = field(target.get("DeadLetterConfig").and_then(|d| d.get("Arn")))? {
                built = built.dead_letter_config(DeadLetterConfig::builder().arn(dlq).build());
            }
            scheduler
                .create_schedule()
                .name(&name)
                .set_group_name(field(p.get("GroupName"))?)
                .schedule_expression(
                    field(p.get("ScheduleExpression"))?.ok_or("ScheduleExpression")?,
                )
                .flexible_time_window(
                    FlexibleTimeWindow::builder()
                        .mode(FlexibleTimeWindowMode::Off)
                        .build()?,
                )
                .target(built.build()?)
                .send()
                .await?;
            self.refs.insert((id, None), name);
        }
        Ok(())
    }

    /// The function's environment as CloudFormation would deploy it in this stack: each variable
    /// resolved, those whose `Fn::If` chooses `AWS::NoValue` left out.
    pub fn environment(
        &self,
        f: &Function,
    ) -> Result<std::collections::BTreeMap<String, String>, Error> {
        let mut env = std::collections::BTreeMap::new();
        for (k, v) in &f.environment {
            if let Some(v) = self.template.chosen(v)? {
                env.insert(k.clone(), self.resolve(&v)?);
            }
        }
        Ok(env)
    }

    /// The function's configuration, from its template environment as resolved in this stack, and
    /// one setting of the local stack's own, which template.yaml never sets: webhooks may also go to
    /// http://127.0.0.1, so that a receiver on this machine works out of the box (issue 23).
    pub fn config_for(&self, f: &Function) -> Result<Config, Error> {
        let mut env = self.environment(f)?;
        env.entry("WEBHOOK_ALLOW_LOOPBACK".into())
            .or_insert_with(|| "true".into());
        Ok(Config::from_lookup(|name| env.get(name).cloned())?)
    }

    /// Every function's environment in the format of `sam local invoke --env-vars` and `sam local
    /// start-api --env-vars` (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-using-invoke.html#serverless-sam-cli-using-invoke-environment-file):
    /// by logical id, each variable the template declares for it as resolved in this stack, and
    /// `AWS_ENDPOINT_URL` set to `endpoint`, the emulator as the function reaches it. SAM sets only
    /// variables the template declares, which is why the template declares `AWS_ENDPOINT_URL`.
    pub fn sam_env_vars(&self, endpoint: &str) -> Result<Value, Error> {
        let mut out = serde_json::Map::new();
        for f in &self.functions {
            let mut env = self.environment(f)?;
            env.insert("AWS_ENDPOINT_URL".into(), endpoint.to_owned());
            out.insert(f.logical_id.clone(), json!(env));
        }
        Ok(Value::Object(out))
    }

    /// The SDK configuration `f` calls AWS with: its own access key, which the emulator holds its
    /// policies under (`crate::iam`).
    pub fn sdk_for(&self, f: &Function) -> SdkConfig {
        crate::iam::signing_as(&self.sdk, &self.prefix, f)
    }

    pub fn table_name(&self) -> Option<&String> {
        self.template
            .of_kind("AWS::DynamoDB::Table")
            .next()
            .and_then(|(id, _)| self.reference(id, None))
    }
}

/// A rule on `bus` with its pattern and targets (`(id, arn)`); its ARN.
async fn put_rule(
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
    name: &str,
    pattern: serde_json::Value,
    targets: &[(String, String)],
) -> Result<String, Error> {
    let arn = events
        .put_rule()
        .name(name)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .send()
        .await?
        .rule_arn
        .unwrap_or_default();
    for (id, target) in targets {
        events
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id(id)
                    .arn(target)
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(arn)
}

/// A value as `GenerateSecretString` would make it: `PasswordLength` characters (32 by default), letters
/// and digits (what `ExcludePunctuation` leaves).
fn generated_secret(properties: &Yaml) -> String {
    let length = properties
        .get("GenerateSecretString")
        .and_then(|g| g.get("PasswordLength"))
        .and_then(Yaml::as_u64)
        .unwrap_or(32) as usize;
    let mut out = String::new();
    while out.len() < length {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(length);
    out
}
