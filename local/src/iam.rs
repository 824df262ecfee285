//! Each function's IAM, enforced locally. On AWS a function can do only what its execution role's
//! policies allow: a call its `Policies` forgot is AccessDenied there and nowhere here, unless the
//! emulator knows who is calling and what they may do. So every function of the local stack signs
//! its requests with an access key of its own ([`key`]), and the stack hands the emulator each key's
//! statements as template.yaml writes them, resolved in this stack ([`enforce`]); the emulator then
//! refuses what they do not allow, as IAM would (emulator.py, `Iam`). Every test that drives the
//! stack checks the template's least privilege from both sides: what a function does, it may.
//!
//! The execution role's other powers are the event source mappings' (reading the stream and the
//! queues, which the local stack's stand-ins do with keys of their own) and writing logs.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;

use crate::stack::{Error, Stack};
use crate::template::Function;

/// The access key id `f` signs with in the stack named `prefix`: unique across the stacks that share
/// one emulator (a test binary runs many), and readable in the emulator's refusals.
pub fn key(prefix: &str, f: &Function) -> String {
    let prefix: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{prefix}-{}", f.logical_id)
}

/// `sdk` signing as `f` of the stack named `prefix`.
pub fn signing_as(sdk: &SdkConfig, prefix: &str, f: &Function) -> SdkConfig {
    sdk.to_builder()
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new(key(prefix, f), "local", None, None, "iam"),
        ))
        .build()
}

/// A value that is one item or a list of them, as IAM policies write `Action`, `Resource` and
/// condition values.
fn one_or_many(v: Option<&Yaml>) -> Vec<&Yaml> {
    match v {
        None => vec![],
        Some(Yaml::Sequence(items)) => items.iter().collect(),
        Some(v) => vec![v],
    }
}

/// Each of a policy's one-or-many values, resolved in `stack` (`!GetAtt`, `!Sub`, `!Ref`).
fn resolve_all(stack: &Stack, v: Option<&Yaml>) -> Result<Vec<String>, Error> {
    one_or_many(v)
        .into_iter()
        .map(|x| stack.resolve(x))
        .collect()
}

/// `f`'s identity statements as the emulator evaluates them: effect, actions, resources (resolved to
/// this stack's ARNs) and conditions ({operator: {key: [values]}}).
pub fn statements(stack: &Stack, f: &Function) -> Result<Vec<Value>, Error> {
    let mut out = vec![];
    let properties = &stack.template.resources[&f.logical_id].properties;
    for policy in one_or_many(properties.get("Policies")) {
        let Some(statements) = policy.get("Statement") else {
            return Err(format!(
                "{}: only inline policy statements are enforced locally, not {policy:?}",
                f.logical_id
            )
            .into());
        };
        for st in one_or_many(Some(statements)) {
            let mut conditions = BTreeMap::new();
            if let Some(Yaml::Mapping(ops)) = st.get("Condition") {
                for (op, keys) in ops {
                    let mut by_key = BTreeMap::new();
                    if let Yaml::Mapping(keys) = keys {
                        for (k, values) in keys {
                            by_key.insert(
                                k.as_str().unwrap_or_default().to_owned(),
                                resolve_all(stack, Some(values))?,
                            );
                        }
                    }
                    conditions.insert(op.as_str().unwrap_or_default().to_owned(), by_key);
                }
            }
            out.push(json!({
                "effect": st.get("Effect").and_then(Yaml::as_str).unwrap_or("Allow"),
                "actions": resolve_all(stack, st.get("Action"))?,
                "resources": resolve_all(stack, st.get("Resource"))?,
                "conditions": conditions,
            }));
        }
    }
    Ok(out)
}

/// Gives the stack's emulator every function's statements under its key: from then on it
/// refuses what a function's policies do not allow.
pub async fn enforce(stack: &Stack) -> Result<(), Error> {
    let Some(endpoint) = stack.sdk.endpoint_url() else {
        return Ok(());
    };
    let mut principals = serde_json::Map::new();
    for f in &stack.functions {
        principals.insert(key(&stack.prefix, f), json!(statements(stack, f)?));
    }
    let (status, _, answer) = crate::client::call(
        &crate::client::http(),
        "POST",
        &format!("{endpoint}/_emulator/iam"),
        None,
        Some(json!({ "principals": principals })),
    )
    .await;
    if status != 200 {
        return Err(format!("the emulator refused the functions' policies: {answer}").into());
    }
    Ok(())
}

/// What the emulator at `endpoint` has refused so far, in order: {key, action, resource, context}.
pub async fn refused(endpoint: &str) -> Result<Vec<Value>, Error> {
    let (status, _, answer) = crate::client::call(
        &crate::client::http(),
        "GET",
        &format!("{endpoint}/_emulator/iam"),
        None,
        None,
    )
    .await;
    match answer.get("refused").and_then(Value::as_array) {
        Some(list) if status == 200 => Ok(list.clone()),
        _ => Err(format!("the emulator's IAM refusals: {status} {answer}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_stack_and_function_and_hold_no_slash() {
        let f = |id: &str| Function {
            logical_id: id.into(),
            binary: String::new(),
            routes: vec![],
            stream: None,
            queue: None,
            schedule: None,
            environment: Default::default(),
            timeout: std::time::Duration::from_secs(3),
            memory_mb: 128,
        };
        let a = key("t/1", &f("WorkerFunction"));
        assert_eq!(a, "t-1-WorkerFunction");
        assert_ne!(a, key("t/2", &f("WorkerFunction")));
        assert_ne!(a, key("t/1", &f("PublishFunction")));
    }
}
