//! template.yaml, functions/ and events/ describe the same functions, and each function's IAM policy
//! grants only what its code uses.

use std::path::Path;

use local::template::Template;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn every_function_has_a_binary_a_fixture_and_a_handler() {
    let template = Template::load(&local::template_path()).unwrap();
    let functions = template.functions().unwrap();
    assert_eq!(functions.len(), 85);
    for f in &functions {
        assert!(
            root()
                .join(format!("functions/src/bin/{}.rs", f.binary))
                .exists(),
            "{} has no binary",
            f.binary
        );
        assert!(
            root().join(format!("events/{}.json", f.binary)).exists(),
            "{} has no fixture",
            f.binary
        );
        assert_eq!(
            shared::api::endpoint(&f.binary).is_some(),
            !f.routes.is_empty(),
            "{}",
            f.binary
        );
    }
    for (name, _) in shared::api::ENDPOINTS {
        assert!(
            functions
                .iter()
                .any(|f| f.binary == *name && !f.routes.is_empty()),
            "{name} is not routed in template.yaml"
        );
    }
    let bins = std::fs::read_dir(root().join("functions/src/bin"))
        .unwrap()
        .count();
    assert_eq!(
        bins,
        functions.len(),
        "every binary is a function of the template"
    );
}

fn actions(template: &Template, logical_id: &str) -> Vec<String> {
    let policies = template.resources[logical_id]
        .properties
        .get("Policies")
        .cloned()
        .unwrap_or_default();
    let mut out = vec![];
    // A function without Policies may do nothing on AWS.
    for policy in policies
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        for statement in policy["Statement"].as_sequence().unwrap() {
            match &statement["Action"] {
                serde_yaml::Value::String(a) => out.push(a.clone()),
                serde_yaml::Value::Sequence(list) => {
                    out.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)))
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

#[test]
fn each_function_may_do_only_what_it_does() {
    let template = Template::load(&local::template_path()).unwrap();
    let expect = |id: &str, want: &[&str]| assert_eq!(actions(&template, id), want, "{id}");
    expect(
        "AvailableSlotsFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
    );
    expect("ManageVisitFunction", &["dynamodb:GetItem"]);
    expect(
        "ManageCancelFunction",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    );
    expect(
        "ManageOptionsFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
    );
    expect("GetAppointmentFunction", &["dynamodb:GetItem"]);
    expect(
        "BlockSlotsFunction",
        &["dynamodb:Query", "dynamodb:UpdateItem"],
    );
    expect(
        "ProviderScheduleFunction",
        &["dynamodb:GetItem", "dynamodb:Query"],
    );
    expect(
        "CreateSlotFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    );
    expect("GetHoldFunction", &["dynamodb:GetItem"]);
    expect("CreateLocationFunction", &["dynamodb:PutItem"]);
    expect(
        "UpdateLocationFunction",
        &["dynamodb:GetItem", "dynamodb:PutItem"],
    );
    for read in ["GetLocationFunction", "FhirLocationFunction"] {
        expect(read, &["dynamodb:GetItem"]);
    }
    for list in ["ListLocationsFunction", "FhirLocationsFunction"] {
        expect(list, &["dynamodb:Query"]);
    }
    // Each takes a seat, or a run of seats for a visit longer than one slot (the Query of the slots
    // after the first), in one transaction: booking, holding and moving, natively, by FHIR, by link.
    for seat in [
        "CreateAppointmentFunction",
        "CreateHoldFunction",
        "FhirHoldFunction",
        "FhirBookFunction",
        "RescheduleAppointmentFunction",
        "ManageRescheduleFunction",
    ] {
        expect(
            seat,
            &[
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
        );
    }
    expect("ConfirmAppointmentFunction", &["dynamodb:UpdateItem"]);
    expect(
        "DeclineAppointmentFunction",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    );
    expect(
        "ReleaseHoldFunction",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    );
    expect(
        "CancelAppointmentFunction",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    );
    expect(
        "PublishFunction",
        &[
            "dynamodb:BatchWriteItem",
            "dynamodb:GetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "events:PutEvents",
            "iam:PassRole",
            "scheduler:CreateSchedule",
            "scheduler:DeleteSchedule",
            "sqs:DeleteMessage",
            "sqs:ReceiveMessage",
            "sqs:SendMessage",
        ],
    );
    // publish writes and reads parked records only, counts feeds' changes only, writes the directory's
    // listings only, and takes messages off the parking queue only.
    let publish =
        serde_yaml::to_string(&template.resources["PublishFunction"].properties["Policies"])
            .unwrap();
    let dynamo = publish
        .split("- Effect")
        .find(|s| s.contains("dynamodb:PutItem"))
        .unwrap();
    assert!(
        dynamo.contains("dynamodb:LeadingKeys") && dynamo.contains("PARKED#*"),
        "{dynamo}"
    );
    let counts = publish
        .split("- Effect")
        .find(|s| s.contains("dynamodb:UpdateItem"))
        .unwrap();
    assert!(
        counts.contains("dynamodb:LeadingKeys") && counts.contains("OWNER#*"),
        "{counts}"
    );
    // ... and the directory's listings, and nothing else of a provider's.
    let listings = publish
        .split("- Effect")
        .find(|s| s.contains("dynamodb:BatchWriteItem"))
        .unwrap();
    assert!(
        listings.contains("dynamodb:LeadingKeys")
            && listings.contains("LISTING#*")
            && listings.contains("OPEN#*"),
        "{listings}"
    );
    // ... reads providers' items only, and marks patients seen in a partition of its own.
    for statement in publish.split("- Effect") {
        if statement.contains("dynamodb:GetItem") && !statement.contains("PARKED#*") {
            assert!(statement.contains("PROVIDER#*"), "{statement}");
        }
        if statement.contains("dynamodb:PutItem") && !statement.contains("PARKED#*") {
            assert!(statement.contains("SEEN#*"), "{statement}");
        }
    }
    let receive = publish
        .split("- Effect")
        .find(|s| s.contains("sqs:DeleteMessage"))
        .unwrap();
    assert!(
        receive.contains("ParkedRecordsQueue") && !receive.contains("JobsQueue"),
        "{receive}"
    );
    expect(
        "WorkerFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "sqs:SendMessage",
        ],
    );
    expect(
        "JoinWaitlistFunction",
        &[
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
        ],
    );
    expect("ListWaitlistFunction", &["dynamodb:Query"]);
    expect(
        "CreateCalendarFeedFunction",
        &["dynamodb:PutItem", "dynamodb:UpdateItem"],
    );
    expect("FhirAppointmentFunction", &["dynamodb:GetItem"]);
    expect(
        "CreateWebhookFunction",
        &["dynamodb:PutItem", "dynamodb:UpdateItem"],
    );
    expect("ListWebhooksFunction", &["dynamodb:Query"]);
    expect("GetWebhookFunction", &["dynamodb:GetItem"]);
    for versioned in ["UpdateWebhookFunction", "RotateWebhookSecretFunction"] {
        expect(versioned, &["dynamodb:GetItem", "dynamodb:PutItem"]);
    }
    expect(
        "DeleteWebhookFunction",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    );
    expect(
        "ListWebhookDeliveriesFunction",
        &["dynamodb:GetItem", "dynamodb:Query"],
    );
    expect(
        "FhirBulkPublishFunction",
        &["s3:GetObject", "s3:ListBucket"],
    );
    expect(
        "WriteSlotFeedFunction",
        &[
            "dynamodb:Query",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
        ],
    );
    expect(
        "DeliverFunction",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "sqs:SendMessage",
        ],
    );
    // A search across providers: the index's partitions and the types, then one batch read; $find
    // also keeps its proposals.
    let searching = ["dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Query"];
    expect("FhirSlotsFunction", &searching);
    expect("SearchSlotsFunction", &searching);
    expect(
        "FhirFindFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:Query",
            "dynamodb:Query",
        ],
    );
    for id in [
        "FhirSlotsFunction",
        "SearchSlotsFunction",
        "FhirFindFunction",
    ] {
        let policy = serde_yaml::to_string(&template.resources[id].properties["Policies"]).unwrap();
        for statement in policy.split("- Effect") {
            let on_table = statement.contains("Table.Arn") && !statement.contains("index/");
            assert!(
                !on_table || statement.contains("dynamodb:LeadingKeys"),
                "{id}: {statement}"
            );
        }
        assert!(
            policy.contains("OPEN#*") && policy.contains("SLOT#*"),
            "{policy}"
        );
    }
    expect(
        "FhirScheduleFunction",
        &["dynamodb:GetItem", "dynamodb:Query"],
    );
    expect("FhirMetadataFunction", &[]);
    expect(
        "BookSeriesFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
    );
    expect(
        "GetSeriesFunction",
        &["dynamodb:BatchGetItem", "dynamodb:GetItem"],
    );
    expect(
        "CancelSeriesFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
        ],
    );
    expect("ListCalendarFeedsFunction", &["dynamodb:Query"]);
    expect("GetProviderSettingsFunction", &["dynamodb:GetItem"]);
    expect("GetProviderFunction", &["dynamodb:GetItem"]);
    expect("PutProviderFunction", &["dynamodb:UpdateItem"]);
    expect("ListProvidersFunction", &["dynamodb:Query"]);
    expect("FhirPractitionerFunction", &["dynamodb:GetItem"]);
    expect("FhirHealthcareServiceFunction", &["dynamodb:GetItem"]);
    expect(
        "FhirPractitionerRolesFunction",
        &["dynamodb:GetItem", "dynamodb:Query"],
    );
    expect("PutProviderSettingsFunction", &["dynamodb:UpdateItem"]);
    expect(
        "RevokeCalendarFeedFunction",
        &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    );
    expect(
        "CalendarFeedFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
    );
    expect("GetWaitlistEntryFunction", &["dynamodb:GetItem"]);
    for answer in [
        "CancelWaitlistEntryFunction",
        "DeclineWaitlistOfferFunction",
    ] {
        expect(answer, &["dynamodb:GetItem", "dynamodb:UpdateItem"]);
    }
    expect(
        "AcceptWaitlistOfferFunction",
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    );
    for reader in [
        "ListAppointmentsFunction",
        "UpcomingAppointmentsFunction",
        "AppointmentHistoryFunction",
        "NoShowReportFunction",
    ] {
        expect(reader, &["dynamodb:Query"]);
    }
    for one_update in [
        "CheckInAppointmentFunction",
        "CompleteAppointmentFunction",
        "NoShowAppointmentFunction",
    ] {
        expect(one_update, &["dynamodb:UpdateItem"]);
    }
    expect(
        "StartAppointmentFunction",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    );
    expect(
        "UpdateAppointmentFunction",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    );
    for f in template.functions().unwrap() {
        let all = actions(&template, &f.logical_id);
        assert!(
            !all.iter().any(|a| a.ends_with(":*")
                || (a.contains("Delete")
                    && a != "scheduler:DeleteSchedule"
                    && !(a == "sqs:DeleteMessage" && f.logical_id == "PublishFunction"))
                || a.contains("Scan")),
            "{}: {all:?}",
            f.logical_id
        );
    }
}

/// Every query of the service reads an index; every other DynamoDB action is on the table's items.
/// So a statement that names an index allows only Query, and one that names the table Query only in
/// the partitions a LeadingKeys condition names (the search index).
#[test]
fn queries_reach_only_indexes_and_item_actions_only_the_table() {
    let template = Template::load(&local::template_path()).unwrap();
    for f in template.functions().unwrap() {
        let r = &template.resources[&f.logical_id];
        let Some(policies) = r.properties.get("Policies").and_then(|p| p.as_sequence()) else {
            continue;
        };
        for statement in policies
            .iter()
            .filter_map(|p| p["Statement"].as_sequence())
            .flatten()
        {
            let actions: Vec<String> = match &statement["Action"] {
                serde_yaml::Value::String(a) => vec![a.clone()],
                serde_yaml::Value::Sequence(list) => list
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                _ => vec![],
            };
            let dynamo: Vec<&String> = actions
                .iter()
                .filter(|a| a.starts_with("dynamodb:"))
                .collect();
            if dynamo.is_empty() {
                continue;
            }
            let resources = format!("{:?}", statement["Resource"]);
            let on_index = resources.contains("/index/");
            let on_table = resources.contains("Table.Arn") && !on_index
                || resources.contains("GetAtt") && resources.contains("Table");
            for a in &dynamo {
                if *a == "dynamodb:Query" {
                    // The table itself is queried only in partitions a condition names (the search
                    // index's OPEN#*): a scan-like read of every item's partition is never granted.
                    let leading = format!("{:?}", statement["Condition"]).contains("LeadingKeys");
                    assert!(
                        (on_index && !on_table) || (on_table && leading),
                        "{}: Query must name indexes, or the table with LeadingKeys: {resources}",
                        f.logical_id
                    );
                } else {
                    assert!(
                        !on_index,
                        "{}: {a} must not name an index: {resources}",
                        f.logical_id
                    );
                }
            }
        }
    }
}

#[test]
fn http_functions_end_before_api_gateway_gives_up_and_the_largest_requests_get_more() {
    let template = Template::load(&local::template_path()).unwrap();
    let functions = template.functions().unwrap();
    for f in functions.iter().filter(|f| !f.routes.is_empty()) {
        // An HTTP API integration answers within 30 s or the client gets a 503
        // (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
        assert!(
            f.timeout < std::time::Duration::from_secs(30),
            "{}: {:?}",
            f.logical_id,
            f.timeout
        );
    }
    let of = |id: &str| functions.iter().find(|f| f.logical_id == id).unwrap();
    assert_eq!(of("GetAppointmentFunction").timeout.as_secs(), 10);
    assert_eq!(of("GetAppointmentFunction").memory_mb, 128);
    for id in [
        "BulkCreateSlotsFunction",
        "BlockSlotsFunction",
        "ProviderScheduleFunction",
        // Not HTTP, but CPU-bound over the whole directory (make bench-feed): a vCPU.
        "WriteSlotFeedFunction",
    ] {
        assert!(
            of(id).timeout.as_secs() > 10 && of(id).memory_mb > 128,
            "{id}"
        );
    }
}

/// The error catalogue, the README's table of it and DESIGN.md section 11 say the same.
#[test]
fn the_error_catalogue_is_the_one_the_readme_and_the_design_list() {
    use shared::api::Code;
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut documented: Vec<(u16, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let status = cells.get(1)?.parse().ok()?;
            let code = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((status, code.to_owned()))
        })
        .collect();
    let mut catalogue: Vec<(u16, String)> = Code::ALL
        .iter()
        .map(|c| (c.status(), c.as_str().to_owned()))
        .collect();
    documented.sort();
    catalogue.sort();
    assert_eq!(documented, catalogue, "README's error table");

    // DESIGN.md (beside the repository) names some codes with their statuses in section 11's
    // "Errors:" paragraph; each is in the catalogue with that status.
    let design = std::fs::read_to_string(root().join("../shared/DESIGN.md")).unwrap();
    let errors = design
        .split("\nErrors: ")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("DESIGN.md section 11 has an Errors paragraph");
    let mut status = 0u16;
    let mut named = 0;
    for word in errors.split_whitespace() {
        if let Ok(s) = word
            .trim_matches(|c: char| !c.is_ascii_digit())
            .parse::<u16>()
        {
            if (400..600).contains(&s) {
                status = s;
            }
        }
        if let Some(code) = word
            .trim_matches(|c: char| c == ',' || c == '/' || c == '(' || c == ')')
            .strip_prefix('`')
            .and_then(|w| w.strip_suffix('`'))
        {
            if code.chars().all(|c| c.is_ascii_lowercase() || c == '_') && code.contains('_')
                || code == "contended"
            {
                let found = Code::ALL.iter().find(|c| c.as_str() == code);
                assert_eq!(found.map(|c| c.status()), Some(status), "{code}");
                named += 1;
            }
        }
    }
    assert!(named >= 8, "found {named} codes in DESIGN.md");
}

/// `openapi.json` at the repository root is the generated document, byte for byte. After a change of
/// a route or a type: `UPDATE_OPENAPI=1 cargo test -p clinic-tests --test template openapi`.
#[test]
fn the_checked_in_openapi_document_is_the_generated_one() {
    let generated = shared::api::openapi::json();
    let path = root().join("openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "openapi.json is out of date: UPDATE_OPENAPI=1 cargo test -p clinic-tests --test template openapi"
    );
}

#[test]
fn the_openapi_document_has_every_route_of_the_template_and_every_error_code() {
    let template = Template::load(&local::template_path()).unwrap();
    let mut declared: Vec<(String, String, String)> = template
        .functions()
        .unwrap()
        .into_iter()
        .flat_map(|f| {
            f.routes
                .into_iter()
                .map(move |r| (f.binary.clone(), r.method, r.path))
        })
        .collect();
    let mut documented: Vec<(String, String, String)> = shared::api::openapi::routes_documented()
        .into_iter()
        .map(|(f, m, p)| (f.to_owned(), m, p.to_owned()))
        .collect();
    declared.sort();
    documented.sort();
    assert_eq!(documented, declared);

    let doc: serde_json::Value = serde_json::from_str(&shared::api::openapi::json()).unwrap();
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"].clone();
    for c in shared::api::Code::ALL {
        assert!(
            codes
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(c.as_str())),
            "{c:?}"
        );
    }
    assert_eq!(doc["openapi"], "3.1.0");

    // Each operation is grouped under a resource the document describes.
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let tag = op["tags"][0].as_str().unwrap_or_default();
            assert!(tags.contains(&tag), "{method} {path} has tag {tag:?}");
        }
    }

    // The operations without a bearer token are exactly the routes without an authorizer.
    let mut public: Vec<String> = template
        .functions()
        .unwrap()
        .into_iter()
        .flat_map(|f| {
            f.routes
                .into_iter()
                .filter(|r| r.public)
                .map(move |_| f.binary.clone())
        })
        .collect();
    let mut open: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter(|op| op["security"] == serde_json::json!([]))
        .map(|op| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    public.sort();
    open.sort();
    assert_eq!(
        open,
        [
            "calendar-feed",
            "calendar-feed-head",
            "fhir-bulk-publish",
            "manage-cancel",
            "manage-options",
            "manage-reschedule",
            "manage-visit"
        ],
        "the feed's GET and HEAD, the SMART manifest and the manage links"
    );
    assert_eq!(
        public,
        [
            "calendar-feed",
            "calendar-feed",
            "fhir-bulk-publish",
            "manage-cancel",
            "manage-options",
            "manage-reschedule",
            "manage-visit"
        ]
    );
}

/// A stack may be named with up to 128 characters; a name the template builds from it must fit its
/// service's limit whatever the stack's name. A schedule group's name is at most 64 characters, so the
/// group takes the name CloudFormation gives it; an event bus's may be 256.
#[test]
fn names_built_from_the_stack_name_fit_their_limits_for_any_stack_name() {
    let template = Template::load(&local::template_path()).unwrap();
    let limit = |kind: &str, property: &str| match (kind, property) {
        ("AWS::Events::EventBus", "Name") => 256,
        // https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
        ("AWS::Logs::LogGroup", "LogGroupName") => 512,
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
        ("AWS::CloudWatch::Dashboard", "DashboardName") => 255,
        (other, property) => {
            panic!("{other}'s {property} built from the stack name: give its limit here")
        }
    };
    for (id, resource) in &template.resources {
        for property in ["Name", "LogGroupName", "DashboardName"] {
            let Some(name) = resource.properties.get(property) else {
                continue;
            };
            let text = serde_yaml::to_string(name).unwrap();
            if text.contains("AWS::StackName") {
                let built = text.replace("${AWS::StackName}", &"s".repeat(128));
                assert!(
                    built.trim().len() <= limit(&resource.kind, property),
                    "{id}: {built}"
                );
            }
        }
    }
    assert!(
        template.resources["ScheduleGroup"]
            .properties
            .get("Name")
            .is_none(),
        "the schedule group is named by CloudFormation"
    );
}

/// `v` as `!Ref <id>`: the logical id it names.
fn reference(v: &serde_yaml::Value) -> Option<String> {
    match local::template::intrinsic(v)? {
        (name, serde_yaml::Value::String(id)) if name == "Ref" => Some(id),
        _ => None,
    }
}

/// The logical id of the queue `v` names by `!GetAtt <id>.QueueName`.
fn queue_named(v: &serde_yaml::Value) -> Option<String> {
    let (name, arg) = local::template::intrinsic(v)?;
    let target = match arg {
        serde_yaml::Value::String(s) => s,
        serde_yaml::Value::Sequence(parts) => parts
            .iter()
            .filter_map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("."),
        _ => return None,
    };
    (name == "GetAtt")
        .then(|| target.strip_suffix(".QueueName").map(str::to_owned))
        .flatten()
}

#[test]
fn every_alarm_reaches_someone_every_function_logs_and_traces_and_every_parked_queue_alarms() {
    let template = Template::load(&local::template_path()).unwrap();
    let alarms: Vec<_> = template.of_kind("AWS::CloudWatch::Alarm").collect();
    assert!(alarms.len() >= 11, "{} alarms", alarms.len());
    for (id, alarm) in &alarms {
        for key in ["AlarmActions", "OKActions"] {
            let actions = alarm.properties[key]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                actions.iter().filter_map(reference).collect::<Vec<_>>(),
                ["AlarmTopic"],
                "{id}: {key}"
            );
        }
        let runbook = alarm.properties["AlarmDescription"]
            .as_str()
            .unwrap_or_default();
        assert!(
            runbook.contains("First:"),
            "{id}: a runbook says what to check first"
        );
    }
    assert_eq!(template.resources["AlarmTopic"].kind, "AWS::SNS::Topic");

    // Every function: traced, JSON logs, its own log group with a retention.
    let globals = template.global("Tracing").and_then(|v| v.as_str());
    assert_eq!(globals, Some("Active"));
    let logging = template
        .global("LoggingConfig")
        .cloned()
        .unwrap_or_default();
    assert_eq!(logging["LogFormat"].as_str(), Some("JSON"));
    for (id, function) in template.of_kind("AWS::Serverless::Function") {
        let group = reference(&function.properties["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{id} names no log group"));
        let group = &template.resources[&group];
        assert_eq!(group.kind, "AWS::Logs::LogGroup", "{id}");
        assert!(
            reference(&group.properties["RetentionInDays"]).as_deref() == Some("LogRetentionDays"),
            "{id}: its log group keeps LogRetentionDays"
        );
    }

    // Every queue no function consumes holds what failed (dead letters, parked or bypassed records):
    // each has an alarm on its depth.
    let consumed: Vec<String> = template
        .functions()
        .unwrap()
        .into_iter()
        .filter_map(|f| f.queue)
        .collect();
    let watched: Vec<String> = alarms
        .iter()
        .flat_map(|(_, a)| {
            a.properties["Dimensions"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|d| d["Name"].as_str() == Some("QueueName"))
        .filter_map(|d| queue_named(&d["Value"]))
        .collect();
    for (id, _) in template.of_kind("AWS::SQS::Queue") {
        if !consumed.contains(id) {
            assert!(watched.contains(id), "{id} holds failures and has no alarm");
        }
    }
    assert_eq!(consumed, ["WebhookDeliveriesQueue", "JobsQueue"]);
}

#[test]
fn the_audited_functions_lines_reach_the_locked_bucket_and_nothing_may_delete_there() {
    let template = Template::load(&local::template_path()).unwrap();
    // Each audited function's log group has one subscription filter, on the audit mark, to Firehose;
    // no other function's has one.
    let filtered: Vec<String> = template
        .of_kind("AWS::Logs::SubscriptionFilter")
        .map(|(id, f)| {
            assert_eq!(
                f.properties["FilterPattern"].as_str(),
                Some(r#"{ $._audit = "v1" }"#),
                "{id}"
            );
            reference(&f.properties["LogGroupName"]).expect("a log group")
        })
        .collect();
    for function in template.functions().unwrap() {
        let logs = format!("{}Logs", function.logical_id);
        assert_eq!(
            filtered.contains(&logs),
            shared::audit::audited(&function.binary).is_some(),
            "{}: its audit lines are routed exactly when it is audited",
            function.binary
        );
    }
    let bucket = &template.resources["AuditBucket"].properties;
    let lock = &bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"];
    assert_eq!(lock["Mode"].as_str(), Some("COMPLIANCE"));
    assert_eq!(
        reference(&lock["Years"]).as_deref(),
        Some("AuditRetentionYears")
    );
    // Only Firehose writes there; no role of the stack may delete or unlock a version.
    let text = serde_yaml::to_string(
        &template
            .resources
            .values()
            .map(|r| &r.properties)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for forbidden in [
        "s3:Delete",
        "s3:PutObjectRetention",
        "s3:BypassGovernanceRetention",
        "s3:PutBucketObjectLockConfiguration",
    ] {
        assert!(
            !text.contains(forbidden),
            "{forbidden} is granted somewhere"
        );
    }
    // Only the trail's readers touch the audit bucket, and only to list and read it; the slot feed's
    // writer and server touch the feed bucket only.
    for function in template.functions().unwrap() {
        let s3: Vec<String> = actions(&template, &function.logical_id)
            .into_iter()
            .filter(|a| a.starts_with("s3:"))
            .collect();
        let (want, bucket): (&[&str], &str) = match function.binary.as_str() {
            "audit-trail" | "fhir-audit-events" => {
                (&["s3:GetObject", "s3:ListBucket"], "AuditBucket")
            }
            "fhir-bulk-publish" => (&["s3:GetObject", "s3:ListBucket"], "FeedBucket"),
            "write-slot-feed" => (
                &["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
                "FeedBucket",
            ),
            _ => (&[], ""),
        };
        assert_eq!(s3, want, "{}", function.binary);
        let policy =
            serde_yaml::to_string(&template.resources[&function.logical_id].properties["Policies"])
                .unwrap_or_default();
        for other in ["AuditBucket", "FeedBucket"] {
            assert!(
                other == bucket || !policy.contains(other),
                "{} names {other}",
                function.binary
            );
        }
    }
}

/// publish's stream mapping sends it exactly the records of the items it acts on: its filters, read
/// as Lambda reads them (local::filter), pass a record iff `kind_of` its sort key is not `Other`.
#[test]
fn the_stream_sends_publish_only_the_items_it_acts_on() {
    use shared::store::keys::{kind_of, ItemKind};
    let template = Template::load(&local::template_path()).unwrap();
    let publish = template
        .functions()
        .unwrap()
        .into_iter()
        .find(|f| f.stream.is_some())
        .unwrap();
    let filters = &publish.stream.unwrap().filters;
    assert!(!filters.is_empty());
    for sk in [
        "APPT",
        "SLOT",
        "WAIT",
        "PROFILE",
        "HOLD",
        "REMINDER#24h",
        "REMINDER#30m",
        "DAY#2030-01-01",
        "SCHEDULE",
        "IDEM",
        "TYPE",
        "BOOKED#2030-01-01",
        "SERIES",
        "FEED",
        "FEEDS",
        "PARKED",
        "PROPOSAL",
        "PROVIDER#6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "ALL",
        "SPECIALTY#207Q00000X",
        "2030-01-01T09:00:00Z#6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "WAIT#6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b#2030-01-01",
    ] {
        let record = serde_json::json!({"eventName": "INSERT", "dynamodb": {"Keys": {"PK": {"S": "X#1"}, "SK": {"S": sk}}}});
        assert_eq!(
            local::filter::passes(filters, &record),
            kind_of(sk) != ItemKind::Other,
            "{sk}"
        );
    }
}
