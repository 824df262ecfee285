//! Lambda's event filtering, as the local event source mappings apply it: a record is sent to the
//! function when one of the mapping's patterns matches it (patterns are ORed; none: every record), and
//! discarded otherwise. The subset the template uses: nested objects, and at a leaf a list of values
//! of which one must equal the record's, or `{"prefix": "..."}`
//! (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html). Any other operator
//! is refused when the template is read, so a pattern is never silently misread.

use serde_json::Value;

/// The patterns of a `FilterCriteria` property (`Filters: [{Pattern: "<json>"}]`), parsed and checked.
pub fn criteria(property: Option<&serde_yaml::Value>) -> Result<Vec<Value>, String> {
    let Some(filters) = property.and_then(|c| c.get("Filters")) else {
        return Ok(vec![]);
    };
    let list = filters
        .as_sequence()
        .ok_or("FilterCriteria.Filters must be a list")?;
    let mut out = vec![];
    for f in list {
        let text = f
            .get("Pattern")
            .and_then(serde_yaml::Value::as_str)
            .ok_or("every filter needs a Pattern string")?;
        let pattern: Value =
            serde_json::from_str(text).map_err(|e| format!("a Pattern is not JSON: {e}"))?;
        check(&pattern)?;
        out.push(pattern);
    }
    Ok(out)
}

fn check(pattern: &Value) -> Result<(), String> {
    match pattern {
        Value::Object(fields) => fields.values().try_for_each(check),
        Value::Array(rules) => rules.iter().try_for_each(|r| match r {
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(()),
            Value::Object(op)
                if op.len() == 1 && op.get("prefix").is_some_and(Value::is_string) =>
            {
                Ok(())
            }
            other => Err(format!("filter rule {other} is not served locally")),
        }),
        other => Err(format!(
            "a pattern's leaf must be a list of rules, not {other}"
        )),
    }
}

/// Whether `record` is sent: no patterns, or one of them matches.
pub fn passes(patterns: &[Value], record: &Value) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| matches(p, record))
}

/// Whether one pattern matches: every field it names matches the record's.
pub fn matches(pattern: &Value, record: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(k, p)| record.get(k).is_some_and(|v| matches(p, v))),
        Value::Array(rules) => rules.iter().any(|rule| match (rule, record) {
            (Value::Object(op), Value::String(v)) => op
                .get("prefix")
                .and_then(Value::as_str)
                .is_some_and(|p| v.starts_with(p)),
            (rule, v) => rule == v,
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_passes_when_one_pattern_matches_every_field_it_names() {
        let patterns = vec![
            json!({"dynamodb": {"Keys": {"SK": {"S": ["APPT", "SLOT"]}}}}),
            json!({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "REMINDER#"}]}}}}),
        ];
        let record = |sk: &str| json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"PK": {"S": "X#1"}, "SK": {"S": sk}}}});
        for (sk, sent) in [
            ("APPT", true),
            ("SLOT", true),
            ("REMINDER#24h", true),
            ("APPTS", false),
            ("2030-01-01T00:00:00Z#x", false),
            ("", false),
        ] {
            assert_eq!(passes(&patterns, &record(sk)), sent, "{sk}");
        }
        assert!(!passes(&patterns, &json!({"dynamodb": {}})));
        assert!(passes(&[], &record("anything")));
    }

    #[test]
    fn operators_not_served_locally_are_refused_when_read() {
        let yaml = |pattern: &str| -> serde_yaml::Value {
            serde_yaml::from_str(&format!("Filters:\n  - Pattern: '{pattern}'\n")).unwrap()
        };
        assert!(criteria(Some(&yaml(r#"{"a": ["x", {"prefix": "y"}]}"#))).is_ok());
        assert!(criteria(Some(&yaml(r#"{"a": [{"anything-but": ["x"]}]}"#))).is_err());
        assert!(criteria(Some(&yaml(r#"{"a": "x"}"#))).is_err());
        assert!(criteria(Some(&yaml("not json"))).is_err());
        assert_eq!(criteria(None), Ok(vec![]));
    }
}
