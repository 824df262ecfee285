//! One function alone, as `make emulator` and `make invoke` run it (issue 24): the environment file
//! `sam local --env-vars` reads, generated from template.yaml, and a function binary run under
//! cargo-lambda's runtime emulator (`local/src/bin/invoke.rs`) against a provisioned stack with the
//! events/ fixtures' items, answering its fixture as deployed.
//!
//! The binaries must be built: `make test` builds them first (cargo test builds no other package's
//! executables); alone, `cargo build -p functions -p local --bin get-appointment --bin
//! create-appointment --bin publish --bin invoke`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use local::stack::Stack;
use local::template::Template;
use serde_json::Value;

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map_or_else(
            |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
            PathBuf::from,
        )
        .join("debug")
}

/// A provisioned stack of its own in this test binary's emulator, seeded as `make emulator` seeds
/// it, with its functions' policies enforced as `make emulator` enforces them, and the env.json
/// written for it (in a directory of its own).
async fn emulated() -> (Stack, PathBuf) {
    let sdk = local::sdk_config(clinic_tests::emulator_url());
    let prefix = format!("i{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let stack = Stack::provision(
        Template::load(&local::template_path()).unwrap(),
        &prefix,
        sdk.clone(),
    )
    .await
    .unwrap();
    local::seed_fixtures(&stack, &sdk).await.unwrap();
    local::iam::enforce(&stack).await.unwrap();
    let dir = std::env::temp_dir().join(format!("env-{prefix}"));
    std::fs::create_dir_all(&dir).unwrap();
    let written = local::write_env_json(&stack, &dir, 4010).unwrap();
    (stack, written)
}

#[tokio::test]
async fn env_json_names_every_function_with_every_variable_it_reads() {
    let (stack, written) = emulated().await;
    let env: Value = serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    let functions = stack.template.functions().unwrap();
    let named: BTreeSet<&String> = env.as_object().unwrap().keys().collect();
    let declared: BTreeSet<&String> = functions.iter().map(|f| &f.logical_id).collect();
    assert_eq!(named, declared, "one entry a function of template.yaml");
    let read: BTreeSet<&str> = shared::config::VARIABLES
        .iter()
        .copied()
        .chain(["AWS_ENDPOINT_URL"])
        .collect();
    for f in &functions {
        let vars = env[&f.logical_id].as_object().unwrap();
        let given: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
        let template: BTreeSet<&str> = f.environment.keys().map(String::as_str).collect();
        assert_eq!(
            given, template,
            "{}: every variable template.yaml declares",
            f.logical_id
        );
        // What the template declares is what the code reads (shared::config::VARIABLES, and the
        // SDK's AWS_ENDPOINT_URL): a misspelt name would be set and never read.
        let unread: Vec<&&str> = given.difference(&read).collect();
        assert!(
            unread.is_empty(),
            "{}: {unread:?} are read by nothing",
            f.logical_id
        );
        assert_eq!(
            vars["AWS_ENDPOINT_URL"], "http://host.docker.internal:4010",
            "{}",
            f.logical_id
        );
        assert_eq!(
            vars["TABLE_NAME"].as_str(),
            stack.table_name().map(String::as_str),
            "{}: resolved to this stack's names",
            f.logical_id
        );
        // Resolved as this stack's resources, so the function's configuration reads.
        let config = shared::config::Config::from_lookup(|k| {
            vars.get(k).and_then(Value::as_str).map(str::to_owned)
        });
        assert!(config.is_ok(), "{}: {:?}", f.logical_id, config.err());
    }
    // Publish is given every name it needs to reach the bus, the queues and Scheduler.
    let publish = &env["PublishFunction"];
    for name in [
        "EVENT_BUS_NAME",
        "JOBS_QUEUE_URL",
        "SCHEDULE_GROUP",
        "SCHEDULER_ROLE_ARN",
    ] {
        assert!(
            publish[name].as_str().is_some_and(|v| !v.is_empty()),
            "PublishFunction: {name}"
        );
    }
    let _ = std::fs::remove_dir_all(written.parent().unwrap());
}

/// `local/src/bin/invoke.rs` on one function of `stack` with its fixture.
fn run_invoke(stack: &Stack, written: &std::path::Path, name: &str) -> std::process::Output {
    let invoke = target_dir().join("invoke");
    assert!(
        invoke.exists() && target_dir().join(name).exists(),
        "build the binaries first (make test does): cargo build -p functions -p local --bin {name} --bin invoke"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::process::Command::new(invoke)
        .arg(name)
        .env("ENV_JSON", written)
        .env("EMULATOR_URL", clinic_tests::emulator_url())
        .env("INVOKE_PORT", port.to_string())
        .env("FUNCTIONS_DIR", target_dir())
        .env("STACK", &stack.prefix)
        .output()
        .unwrap()
}

/// `local/src/bin/invoke.rs` on one function of `stack` with its fixture, which must succeed: its
/// stdout, the function's response.
fn invoke(stack: &Stack, written: &std::path::Path, name: &str) -> Value {
    let out = run_invoke(stack, written, name);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{name} answered no JSON ({e}): {stdout}"))
}

fn body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap()
}

#[tokio::test]
async fn two_http_functions_and_publish_answer_their_fixtures_under_cargo_lambda() {
    let (stack, written) = emulated().await;
    let stack = std::sync::Arc::new(stack);
    let (stack2, written2) = (stack.clone(), written.clone());
    // The seeded appointment, read as its patient.
    let got = tokio::task::spawn_blocking(move || invoke(&stack2, &written2, "get-appointment"))
        .await
        .unwrap();
    assert_eq!(got["statusCode"], 200, "{got}");
    assert_eq!(body(&got)["id"], local::FIXTURE_APPOINTMENT, "{got}");
    // A booking of the fixture slot: written to the stack's table.
    let (stack2, written2) = (stack.clone(), written.clone());
    let booked =
        tokio::task::spawn_blocking(move || invoke(&stack2, &written2, "create-appointment"))
            .await
            .unwrap();
    assert_eq!(booked["statusCode"], 201, "{booked}");
    let booked = body(&booked);
    assert_eq!(booked["slotId"], local::FIXTURE_SLOT);
    let store = shared::store::Store::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table_name().unwrap().clone(),
    );
    let stored = store
        .appointment(booked["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    assert!(stored.is_some(), "the booking is in the stack's table");
    // publish, with its stream record (an appointment created): no record failed, and the
    // appointment's reminders are scheduled in the stack's group.
    let (stack2, written2) = (stack.clone(), written.clone());
    let published = tokio::task::spawn_blocking(move || invoke(&stack2, &written2, "publish"))
        .await
        .unwrap();
    assert_eq!(
        published,
        serde_json::json!({"batchItemFailures": []}),
        "{published}"
    );
    let env: Value = serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    let group = env["PublishFunction"]["SCHEDULE_GROUP"].as_str().unwrap();
    let schedules = aws_sdk_scheduler::Client::new(&stack.sdk)
        .list_schedules()
        .group_name(group)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = schedules
        .schedules()
        .iter()
        .filter_map(|s| s.name())
        .collect();
    assert!(
        names.iter().any(|n| n.contains(local::FIXTURE_APPOINTMENT)),
        "publish scheduled the fixture appointment's reminders: {names:?}"
    );
    let _ = std::fs::remove_dir_all(written.parent().unwrap());
}

/// `make invoke` runs a function as itself: the emulator holds it to its policies, and a call they do
/// not allow fails the invocation, named. Here get-appointment's key is left a policy that allows
/// nothing but reading another table.
#[tokio::test]
async fn a_function_invoked_alone_is_held_to_its_policies() {
    let (stack, written) = emulated().await;
    let function = stack
        .functions
        .iter()
        .find(|f| f.binary == "get-appointment")
        .unwrap();
    let key = local::iam::key(&stack.prefix, function);
    let (status, _, answer) = local::client::call(
        &local::client::http(),
        "POST",
        &format!("{}/_emulator/iam", clinic_tests::emulator_url()),
        None,
        Some(serde_json::json!({"principals": {&key: [{
            "effect": "Allow",
            "actions": ["dynamodb:GetItem"],
            "resources": ["arn:aws:dynamodb:us-east-1:123456789012:table/another"],
            "conditions": {},
        }]}})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let stack = std::sync::Arc::new(stack);
    let (stack2, written2) = (stack.clone(), written.clone());
    let out =
        tokio::task::spawn_blocking(move || run_invoke(&stack2, &written2, "get-appointment"))
            .await
            .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "make invoke: IAM refused {key} dynamodb:GetItem on "
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(written.parent().unwrap());
}
