//! template.yaml, read as the local stack needs it: resources by logical id, functions with their HTTP
//! routes, stream and queue sources and environment, and the intrinsic functions that connect them
//! (`!Ref`, `!GetAtt`, `!Sub`, short or long form).

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template: {0}")]
    Read(String),
    #[error("template: {0}")]
    Shape(String),
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub kind: String,
    pub properties: Value,
    pub metadata: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// `Auth: {Authorizer: NONE}`: API Gateway lets the request through without a JWT.
    pub public: bool,
}

/// A `DynamoDB` event of a function: how Lambda's event source mapping reads the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSource {
    /// Logical id of the table.
    pub table: String,
    pub batch_size: usize,
    /// Retries of a failing record before it and the rest of its batch are discarded; `None` (-1,
    /// Lambda's default) is infinite.
    pub maximum_retry_attempts: Option<u32>,
    /// Records older than this are discarded unprocessed; `None` (-1, the default) is infinite.
    pub maximum_record_age: Option<std::time::Duration>,
    /// On a function error (a timeout), the batch is split in two for the retry.
    pub bisect_on_error: bool,
    /// Logical id of the queue that gets the metadata of bypassed records.
    pub on_failure: Option<String>,
}

/// A function as the local stack runs it.
#[derive(Clone, Debug)]
pub struct Function {
    pub logical_id: String,
    /// Its binary under functions/, also its name in `shared::api::ENDPOINTS`.
    pub binary: String,
    pub routes: Vec<Route>,
    /// The table stream that feeds it, as its event source mapping reads it.
    pub stream: Option<StreamSource>,
    /// Logical id of the queue that feeds it.
    pub queue: Option<String>,
    /// Environment: globals, then its own; values still unresolved.
    pub environment: BTreeMap<String, Value>,
    /// `Timeout`: its own, else the globals', else Lambda's default of 3 seconds.
    pub timeout: std::time::Duration,
    /// `MemorySize` in MB: its own, else the globals', else Lambda's default of 128.
    pub memory_mb: u32,
}

#[derive(Clone, Debug)]
pub struct Template {
    pub parameters: BTreeMap<String, Option<String>>,
    pub resources: BTreeMap<String, Resource>,
    globals_env: BTreeMap<String, Value>,
    globals: Value,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn env_of(v: &Value) -> BTreeMap<String, Value> {
    v.get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// An intrinsic function call: its name (long form, `Fn::` dropped) and argument.
pub fn intrinsic(v: &Value) -> Option<(String, Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            t.value.clone(),
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k.starts_with("Fn::"))
                .then(|| (k.trim_start_matches("Fn::").to_owned(), arg.clone()))
        }
        _ => None,
    }
}

impl Template {
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        let raw = std::fs::read_to_string(path)
            .map_err(|e| TemplateError::Read(format!("{}: {e}", path.display())))?;
        Self::parse(&raw)
    }

    pub fn parse(raw: &str) -> Result<Template, TemplateError> {
        let doc: Value =
            serde_yaml::from_str(raw).map_err(|e| TemplateError::Read(e.to_string()))?;
        let parameters = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str()?.to_owned(), v.get("Default").and_then(text)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError::Shape("no Resources".into()))?
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str()?.to_owned(),
                    Resource {
                        kind: v.get("Type")?.as_str()?.to_owned(),
                        properties: v.get("Properties").cloned().unwrap_or(Value::Null),
                        metadata: v.get("Metadata").cloned().unwrap_or(Value::Null),
                    },
                ))
            })
            .collect();
        let globals_env = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .map(env_of)
            .unwrap_or_default();
        let globals = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .cloned()
            .unwrap_or(Value::Null);
        Ok(Template {
            parameters,
            resources,
            globals_env,
            globals,
        })
    }

    /// Overrides a parameter's default; the template must declare it.
    pub fn set_parameter(&mut self, name: &str, value: &str) -> Result<(), TemplateError> {
        let slot = self
            .parameters
            .get_mut(name)
            .ok_or_else(|| TemplateError::Shape(format!("no parameter {name}")))?;
        *slot = Some(value.to_owned());
        Ok(())
    }

    /// Overrides a top-level property of a resource (for tests: a queue's `VisibilityTimeout`).
    pub fn set_property(
        &mut self,
        resource: &str,
        property: &str,
        value: &str,
    ) -> Result<(), TemplateError> {
        let r = self
            .resources
            .get_mut(resource)
            .ok_or_else(|| TemplateError::Shape(format!("no resource {resource}")))?;
        let props = r
            .properties
            .as_mapping_mut()
            .ok_or_else(|| TemplateError::Shape(format!("{resource} has no Properties")))?;
        props.insert(
            Value::String(property.to_owned()),
            Value::String(value.to_owned()),
        );
        Ok(())
    }

    pub fn of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Resource)> + 'a {
        self.resources.iter().filter(move |(_, r)| r.kind == kind)
    }

    pub fn functions(&self) -> Result<Vec<Function>, TemplateError> {
        let mut out = vec![];
        for (id, r) in self.of_kind("AWS::Serverless::Function") {
            let binary = r
                .metadata
                .get("BuildProperties")
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TemplateError::Shape(format!("{id} has no Metadata.BuildProperties.Binary"))
                })?
                .to_owned();
            // Defaults: https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html and
            // https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
            let setting = |name: &str, default: u64| {
                r.properties
                    .get(name)
                    .or_else(|| self.globals.get(name))
                    .and_then(Value::as_u64)
                    .unwrap_or(default)
            };
            let mut function = Function {
                logical_id: id.clone(),
                binary,
                routes: vec![],
                stream: None,
                queue: None,
                environment: self.globals_env.clone(),
                timeout: std::time::Duration::from_secs(setting("Timeout", 3)),
                memory_mb: setting("MemorySize", 128) as u32,
            };
            function.environment.extend(env_of(&r.properties));
            let events = r
                .properties
                .get("Events")
                .and_then(Value::as_mapping)
                .cloned()
                .unwrap_or_default();
            for (_, event) in events {
                let props = event.get("Properties").cloned().unwrap_or(Value::Null);
                let source = |name: &str| {
                    props.get(name).and_then(intrinsic).and_then(|(_, arg)| {
                        arg.as_str()
                            .map(|s| s.split('.').next().unwrap_or(s).to_owned())
                    })
                };
                match event.get("Type").and_then(Value::as_str) {
                    Some("HttpApi") => function.routes.push(Route {
                        method: props
                            .get("Method")
                            .and_then(Value::as_str)
                            .unwrap_or("ANY")
                            .to_ascii_uppercase(),
                        path: props
                            .get("Path")
                            .and_then(Value::as_str)
                            .unwrap_or("/")
                            .to_owned(),
                        public: props
                            .get("Auth")
                            .and_then(|a| a.get("Authorizer"))
                            .and_then(Value::as_str)
                            == Some("NONE"),
                    }),
                    Some("DynamoDB") => {
                        let number = |name: &str| props.get(name).and_then(Value::as_i64);
                        function.stream = Some(StreamSource {
                            table: source("Stream").ok_or_else(|| {
                                TemplateError::Shape(format!("{id}: a DynamoDB event needs Stream"))
                            })?,
                            // Defaults from https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html
                            batch_size: number("BatchSize")
                                .map_or(100, |n| n.clamp(1, 10_000) as usize),
                            maximum_retry_attempts: number("MaximumRetryAttempts")
                                .filter(|n| *n >= 0)
                                .map(|n| n as u32),
                            maximum_record_age: number("MaximumRecordAgeInSeconds")
                                .filter(|n| *n >= 0)
                                .map(|n| std::time::Duration::from_secs(n as u64)),
                            bisect_on_error: props
                                .get("BisectBatchOnFunctionError")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                            on_failure: props
                                .get("DestinationConfig")
                                .and_then(|d| d.get("OnFailure"))
                                .and_then(|o| o.get("Destination"))
                                .and_then(intrinsic)
                                .and_then(|(_, arg)| {
                                    arg.as_str()
                                        .map(|s| s.split('.').next().unwrap_or(s).to_owned())
                                }),
                        })
                    }
                    Some("SQS") => function.queue = source("Queue"),
                    other => {
                        return Err(TemplateError::Shape(format!(
                            "{id}: event type {other:?} is not served locally"
                        )))
                    }
                }
            }
            out.push(function);
        }
        Ok(out)
    }

    /// Resolves a value to a string: plain scalars, parameters' defaults and resources through `lookup`,
    /// which answers `(logical id, attribute)` with attribute `None` for `!Ref`.
    pub fn resolve(
        &self,
        v: &Value,
        lookup: &dyn Fn(&str, Option<&str>) -> Option<String>,
    ) -> Result<String, TemplateError> {
        if let Some(s) = text(v) {
            return Ok(s);
        }
        let (name, arg) =
            intrinsic(v).ok_or_else(|| TemplateError::Shape(format!("cannot resolve {v:?}")))?;
        let reference = |target: &str| -> Result<String, TemplateError> {
            if let Some((res, attr)) = target.split_once('.') {
                return lookup(res, Some(attr))
                    .ok_or_else(|| TemplateError::Shape(format!("unknown {target}")));
            }
            if let Some(default) = self.parameters.get(target) {
                return default.clone().ok_or_else(|| {
                    TemplateError::Shape(format!("parameter {target} has no default"))
                });
            }
            lookup(target, None).ok_or_else(|| TemplateError::Shape(format!("unknown {target}")))
        };
        match name.as_str() {
            "Ref" => reference(arg.as_str().unwrap_or_default()),
            "GetAtt" => match &arg {
                Value::Sequence(parts) => reference(
                    &parts
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("."),
                ),
                other => reference(other.as_str().unwrap_or_default()),
            },
            "Sub" => {
                let mut s = arg
                    .as_str()
                    .ok_or_else(|| {
                        TemplateError::Shape("only the one-argument !Sub is served".into())
                    })?
                    .to_owned();
                while let Some(start) = s.find("${") {
                    let end = s[start..]
                        .find('}')
                        .map(|e| start + e)
                        .ok_or_else(|| TemplateError::Shape(s.clone()))?;
                    let value = reference(&s[start + 2..end])?;
                    s.replace_range(start..=end, &value);
                }
                Ok(s)
            }
            other => Err(TemplateError::Shape(format!(
                "intrinsic {other} is not served locally"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intrinsics_resolve_in_short_and_long_form() {
        let t = Template::parse(
            "Parameters:\n  Claim: {Type: String, Default: groups}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n",
        )
        .unwrap();
        let lookup = |id: &str, attr: Option<&str>| Some(format!("{id}:{}", attr.unwrap_or("ref")));
        let v = |s: &str| serde_yaml::from_str::<Value>(s).unwrap();
        assert_eq!(t.resolve(&v("!Ref Q"), &lookup).unwrap(), "Q:ref");
        assert_eq!(t.resolve(&v("{Ref: Claim}"), &lookup).unwrap(), "groups");
        assert_eq!(t.resolve(&v("!GetAtt Q.Arn"), &lookup).unwrap(), "Q:Arn");
        assert_eq!(
            t.resolve(&v("{'Fn::GetAtt': [Q, Arn]}"), &lookup).unwrap(),
            "Q:Arn"
        );
        assert_eq!(
            t.resolve(&v("!Sub 'x-${Q}-${Q.Arn}'"), &lookup).unwrap(),
            "x-Q:ref-Q:Arn"
        );
        assert!(t.resolve(&v("!Ref Nope"), &|_, _| None).is_err());
    }
}
