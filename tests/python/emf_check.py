"""Reads a JSON array of log lines on stdin and checks each is a CloudWatch embedded metric format
document as the specification defines it
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
the structure with jsonschema (pinned in local/requirements.txt) against a schema of the specification's
rules written here, then what a schema cannot say: every metric's target member is a number or an array
of at most 100 numbers on the root node, every dimension's target a string, at most 100 metrics and 9
dimensions a set, and one metric name appears once. Prints "ok <lines>"; exits non-zero on the first
violation, naming it."""

import json
import sys

import jsonschema

NAME = {"type": "string", "minLength": 1, "maxLength": 255}
UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
]
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": NAME,
                            "Dimensions": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"type": "array", "maxItems": 9, "items": NAME},
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": NAME,
                                        "Unit": {"type": "string", "enum": UNITS},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}

lines = json.load(sys.stdin)
assert lines, "no lines"
validator = jsonschema.Draft7Validator(SCHEMA)
for line in lines:
    doc = json.loads(line)
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, f"{errors[0].message} in {line}"
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        names = [m["Name"] for m in directive["Metrics"]]
        assert len(names) == len(set(names)), f"a metric twice in {line}"
        for name in names:
            target = doc.get(name)
            numeric = isinstance(target, (int, float)) and not isinstance(target, bool)
            array = isinstance(target, list) and 0 < len(target) <= 100 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in target
            )
            assert numeric or array, f"metric {name} has no numeric target in {line}"
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                assert isinstance(doc.get(dimension), str), f"dimension {dimension} is not a string in {line}"
print(f"ok {len(lines)}")
