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
    /// `FilterCriteria`: the patterns of which one must match a record for it to be sent (none: every
    /// record is). See [`crate::filter`].
    pub filters: Vec<serde_json::Value>,
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
    /// The expression of the schedule that invokes it (a `ScheduleV2` event), still unresolved.
    pub schedule: Option<Value>,
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
    /// Each parameter's declaration (`Type`, `MinValue`, `MaxValue`, `AllowedValues`,
    /// `AllowedPattern`), which an override must satisfy as CloudFormation requires.
    declarations: BTreeMap<String, Value>,
    pub resources: BTreeMap<String, Resource>,
    /// The `Conditions` section, by name, unevaluated.
    conditions: BTreeMap<String, Value>,
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

/// A mapping of `doc` by name (`Parameters`, `Conditions`, a function's `Variables`), its entries
/// unevaluated.
fn section(doc: &Value, name: &str) -> BTreeMap<String, Value> {
    doc.get(name)
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// A function's `Environment.Variables`, unresolved.
fn env_of(v: &Value) -> BTreeMap<String, Value> {
    v.get("Environment")
        .map_or_else(BTreeMap::new, |e| section(e, "Variables"))
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

/// Whether `value` satisfies the declaration of parameter `name`: a number within `MinValue` and
/// `MaxValue` for `Type: Number`, one of `AllowedValues`, a whole match of `AllowedPattern`
/// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html).
pub fn check_parameter(name: &str, declared: &Value, value: &str) -> Result<(), String> {
    let number = |k: &str| declared.get(k).and_then(Value::as_f64);
    if declared.get("Type").and_then(Value::as_str) == Some("Number") {
        let n: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{name}={value:?}: a number is required"))?;
        if number("MinValue").is_some_and(|min| n < min)
            || number("MaxValue").is_some_and(|max| n > max)
        {
            return Err(format!(
                "{name}={value}: must be from {} to {}",
                number("MinValue").map_or("-".into(), |v| v.to_string()),
                number("MaxValue").map_or("-".into(), |v| v.to_string())
            ));
        }
    }
    if let Some(allowed) = declared.get("AllowedValues").and_then(Value::as_sequence) {
        if !allowed.iter().filter_map(text).any(|a| a == value) {
            return Err(format!("{name}={value:?}: must be one of {allowed:?}"));
        }
    }
    if let Some(pattern) = declared.get("AllowedPattern").and_then(Value::as_str) {
        let whole = regex_lite::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("{name}: its AllowedPattern does not compile: {e}"))?;
        if !whole.is_match(value) {
            return Err(format!("{name}={value:?}: must match {pattern}"));
        }
    }
    Ok(())
}

/// `sam deploy --parameter-overrides` syntax: `Name=Value` pairs separated by spaces, a value in
/// quotes when it holds spaces, or `ParameterKey=Name,ParameterValue=Value`.
pub fn parameter_overrides(spec: &str) -> Result<Vec<(String, String)>, String> {
    let mut words = vec![];
    let (mut word, mut quote) = (String::new(), None::<char>);
    for c in spec.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in {spec:?}"));
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
        .into_iter()
        .map(|w| {
            if let Some(rest) = w.strip_prefix("ParameterKey=") {
                let (k, v) = rest
                    .split_once(",ParameterValue=")
                    .ok_or_else(|| format!("{w:?}: ParameterKey=Name,ParameterValue=Value"))?;
                return Ok((k.to_owned(), v.to_owned()));
            }
            w.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("{w:?}: Name=Value expected"))
        })
        .collect()
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
        let declarations = section(&doc, "Parameters");
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
        let conditions = section(&doc, "Conditions");
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
            declarations,
            resources,
            conditions,
            globals_env,
            globals,
        })
    }

    /// Overrides a parameter's default; the template must declare it, and the value must pass its
    /// declaration's constraints, as CloudFormation checks them at deploy time.
    pub fn set_parameter(&mut self, name: &str, value: &str) -> Result<(), TemplateError> {
        let declared = self
            .declarations
            .get(name)
            .ok_or_else(|| TemplateError::Shape(format!("no parameter {name}")))?;
        check_parameter(name, declared, value).map_err(TemplateError::Shape)?;
        if let Some(slot) = self.parameters.get_mut(name) {
            *slot = Some(value.to_owned());
        }
        Ok(())
    }

    /// Overrides a property of a resource, `Name` or a dotted path into its properties
    /// (`Events.Stream.Properties.MaximumRetryAttempts`), with `value` read as a YAML scalar (so
    /// `3` is a number): for tests (a queue's `VisibilityTimeout`, a stream mapping's retries).
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
        let path: Vec<&str> = property.split('.').collect();
        let (last, within) = path.split_last().expect("split yields one part at least");
        let mut at = &mut r.properties;
        for step in within {
            at = at
                .as_mapping_mut()
                .and_then(|m| m.get_mut(*step))
                .ok_or_else(|| TemplateError::Shape(format!("{resource} has no {property}")))?;
        }
        let scalar: Value =
            serde_yaml::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        at.as_mapping_mut()
            .ok_or_else(|| {
                TemplateError::Shape(format!("{resource}: {property} is not in a mapping"))
            })?
            .insert(Value::String((*last).to_owned()), scalar);
        Ok(())
    }

    /// Whether condition `name` holds, with the parameters as given: `Fn::Not`, `Fn::Equals`,
    /// `Fn::And`, `Fn::Or` and `Condition`, over values [`Template::resolve`] resolves
    /// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html).
    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let v = self
            .conditions
            .get(name)
            .ok_or_else(|| TemplateError::Shape(format!("no condition {name}")))?;
        self.holds(v)
    }

    fn holds(&self, v: &Value) -> Result<bool, TemplateError> {
        if let Some(other) = v.get("Condition").and_then(Value::as_str) {
            return self.condition(other);
        }
        let (name, arg) =
            intrinsic(v).ok_or_else(|| TemplateError::Shape(format!("not a condition: {v:?}")))?;
        let args = || arg.as_sequence().cloned().unwrap_or_default();
        let plain = |v: &Value| self.resolve(v, &|_, _| None);
        match name.as_str() {
            "Not" => Ok(!self.holds(args().first().unwrap_or(&Value::Null))?),
            "And" => args()
                .iter()
                .try_fold(true, |all, c| Ok(all && self.holds(c)?)),
            "Or" => args()
                .iter()
                .try_fold(false, |any, c| Ok(any || self.holds(c)?)),
            "Equals" => match &args()[..] {
                [a, b] => Ok(plain(a)? == plain(b)?),
                _ => Err(TemplateError::Shape("Fn::Equals takes two values".into())),
            },
            "Condition" => self.condition(arg.as_str().unwrap_or_default()),
            other => Err(TemplateError::Shape(format!(
                "Fn::{other} is not a condition"
            ))),
        }
    }

    /// A property value as CloudFormation would deploy it: `Fn::If` chosen by its condition, and
    /// `None` for `!Ref AWS::NoValue` (the property is left out).
    pub fn chosen(&self, v: &Value) -> Result<Option<Value>, TemplateError> {
        match intrinsic(v) {
            Some((name, arg)) if name == "If" => match arg.as_sequence().map(Vec::as_slice) {
                Some([Value::String(c), yes, no]) => {
                    self.chosen(if self.condition(c)? { yes } else { no })
                }
                _ => Err(TemplateError::Shape(
                    "Fn::If takes a condition and two values".into(),
                )),
            },
            Some((name, arg)) if name == "Ref" && arg.as_str() == Some("AWS::NoValue") => Ok(None),
            _ => Ok(Some(v.clone())),
        }
    }

    /// A list property: a sequence of values, or `!Split [delimiter, value]`.
    pub fn list(&self, v: &Value) -> Result<Vec<String>, TemplateError> {
        let plain = |v: &Value| self.resolve(v, &|_, _| None);
        // The intrinsic first: serde_yaml reads through a tag, so `!Split [..]` is a sequence too.
        match (intrinsic(v), v.as_sequence()) {
            (Some((name, arg)), _) if name == "Split" => match arg.as_sequence().map(Vec::as_slice)
            {
                Some([delimiter, value]) => {
                    let delimiter = plain(delimiter)?;
                    Ok(plain(value)?
                        .split(delimiter.as_str())
                        .map(str::to_owned)
                        .collect())
                }
                _ => Err(TemplateError::Shape(
                    "Fn::Split takes a delimiter and a value".into(),
                )),
            },
            (None, Some(items)) => items.iter().map(plain).collect(),
            _ => Err(TemplateError::Shape(format!("not a list: {v:?}"))),
        }
    }

    /// The HTTP API's `CorsConfiguration` as deployed, or `None` when it allows no cross-origin call.
    pub fn cors(&self) -> Result<Option<crate::cors::Cors>, TemplateError> {
        let Some((_, api)) = self.of_kind("AWS::Serverless::HttpApi").next() else {
            return Ok(None);
        };
        let Some(config) = api.properties.get("CorsConfiguration") else {
            return Ok(None);
        };
        let Some(config) = self.chosen(config)? else {
            return Ok(None);
        };
        let list = |k: &str| config.get(k).map_or(Ok(vec![]), |v| self.list(v));
        Ok(Some(crate::cors::Cors {
            allow_origins: list("AllowOrigins")?,
            allow_headers: list("AllowHeaders")?,
            allow_methods: list("AllowMethods")?,
            expose_headers: list("ExposeHeaders")?,
            max_age: config.get("MaxAge").and_then(Value::as_u64),
        }))
    }

    /// `Globals.Function.<key>`, as SAM gives it to every function that sets none.
    pub fn global(&self, key: &str) -> Option<&Value> {
        self.globals.get(key)
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
                schedule: None,
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
                            filters: crate::filter::criteria(props.get("FilterCriteria"))
                                .map_err(|e| TemplateError::Shape(format!("{id}: {e}")))?,
                        })
                    }
                    Some("SQS") => function.queue = source("Queue"),
                    Some("ScheduleV2") => {
                        function.schedule = props.get("ScheduleExpression").cloned();
                    }
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
    fn conditions_choose_what_is_deployed_and_a_split_parameter_is_a_list() {
        let raw = "Parameters:\n  Origins: {Type: String, Default: ''}\n\
                   Conditions:\n  Named: !Not [!Equals [!Ref Origins, '']]\n  Both: !And [{Condition: Named}, !Equals [a, a]]\n\
                   Resources:\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      CorsConfiguration: !If\n\
                   \x20       - Both\n        - {AllowOrigins: !Split [',', !Ref Origins], AllowMethods: [GET], MaxAge: 60}\n\
                   \x20       - !Ref AWS::NoValue\n";
        let mut t = Template::parse(raw).unwrap();
        assert!(!t.condition("Named").unwrap());
        assert_eq!(t.cors().unwrap(), None, "nothing named: no CORS at all");
        t.set_parameter("Origins", "https://a.test,https://b.test")
            .unwrap();
        assert!(t.condition("Both").unwrap());
        let cors = t.cors().unwrap().unwrap();
        assert_eq!(cors.allow_origins, ["https://a.test", "https://b.test"]);
        assert_eq!(
            (cors.allow_methods, cors.max_age),
            (vec!["GET".to_owned()], Some(60))
        );
        assert!(t.condition("Missing").is_err());
    }

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

    #[test]
    fn parameter_overrides_read_as_sam_deploy_takes_them_and_are_checked() {
        assert_eq!(
            parameter_overrides(
                "OfferTtlSeconds=90 ReminderOffsets=2h,30m VideoBaseUrl='https://v.example/r s'"
            )
            .unwrap(),
            [
                ("OfferTtlSeconds".to_owned(), "90".to_owned()),
                ("ReminderOffsets".to_owned(), "2h,30m".to_owned()),
                (
                    "VideoBaseUrl".to_owned(),
                    "https://v.example/r s".to_owned()
                ),
            ]
        );
        assert_eq!(
            parameter_overrides("ParameterKey=MaxOffers,ParameterValue=5").unwrap(),
            [("MaxOffers".to_owned(), "5".to_owned())]
        );
        assert!(parameter_overrides("=3").is_err() && parameter_overrides("A='b").is_err());
        let mut t = Template::load(&crate::template_path()).unwrap();
        t.set_parameter("OfferTtlSeconds", "90").unwrap();
        t.set_parameter("ReminderOffsets", "2h,30m").unwrap();
        for origins in ["", "*", "https://app.example.org,http://localhost:5173"] {
            t.set_parameter("CorsAllowedOrigins", origins).unwrap();
        }
        for (name, bad) in [
            ("CorsAllowedOrigins", "app.example.org"),
            ("CorsAllowedOrigins", "https://app.example.org/"),
            ("CorsAllowedOrigins", "https://a.org, https://b.org"),
            ("OfferTtlSeconds", "0"),
            ("OfferTtlSeconds", "soon"),
            ("ReminderMinimumLeadSeconds", "901"),
            ("ReminderOffsets", "2 hours"),
            ("NoSuchParameter", "1"),
        ] {
            assert!(t.set_parameter(name, bad).is_err(), "{name}={bad}");
        }
    }
}
