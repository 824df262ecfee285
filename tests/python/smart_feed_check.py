"""Checks a SMART Scheduling Links feed (STU 1, specification.md of
https://github.com/smart-on-fhir/smart-scheduling-links) as a slot finder would read it: the manifest's
fields; each NDJSON line a FHIR R4 resource that fhir.resources (pinned in local/requirements.txt)
validates; the fields and extensions the specification requires of each Location, Schedule and Slot;
and every reference resolving within the feed. Reads {"manifest": {...}, "files": {url: text}} on
stdin; prints "ok", or exits non-zero naming the rule broken."""

import json
import re
import sys
from datetime import datetime

from fhir.resources.R4B import get_fhir_model_class

ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# YYYY-MM-DDThh:mm:ss(.sss) with an offset or Z ("Timestamps").
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
EXTENSIONS = {
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link": "valueUrl",
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone": "valueString",
    "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity": "valueInteger",
}

feed = json.load(sys.stdin)
manifest = feed["manifest"]
assert TIMESTAMP.match(manifest["transactionTime"]), "transactionTime is a timestamp"
assert manifest["request"].split("?")[0].endswith("$bulk-publish"), "request is the manifest's URL"
assert manifest["error"] == [], "error is a list"
resources = {"Location": {}, "Schedule": {}, "Slot": {}}
for item in manifest["output"]:
    kind = item["type"]
    assert kind in resources, f"output type {kind}"
    assert item["url"].startswith("http"), "output url is a URL"
    states = item.get("extension", {}).get("state", [])
    assert isinstance(states, list) and all(isinstance(s, str) for s in states), "state is a list"
    for line in feed["files"][item["url"]].splitlines():
        r = json.loads(line)
        assert r["resourceType"] == kind, f"a {kind} file holds {r['resourceType']}"
        get_fhir_model_class(kind).model_validate(r)
        assert ID.match(r["id"]), f"id {r['id']}"
        assert r["id"] not in resources[kind], f"{kind}/{r['id']} twice"
        resources[kind][r["id"]] = r
        if kind == "Slot" and states:
            r["_state"] = states

for loc in resources["Location"].values():
    assert loc["name"], "Location.name"
    assert loc["telecom"], "Location.telecom: at least one contact point"
    for t in loc["telecom"]:
        assert t["system"] in {"phone", "url"} and t["value"], "telecom is a phone or a URL"
    a = loc["address"]
    assert a["line"] and a["city"] and a["state"] and a["postalCode"], "a complete address"
    assert loc["identifier"] and all(i["system"] and i["value"] for i in loc["identifier"])

for s in resources["Schedule"].values():
    assert len(s["actor"]) == 1, "Schedule.actor: one Location"
    ref = s["actor"][0]["reference"]
    assert ref.startswith("Location/") and ref[9:] in resources["Location"], f"{ref} resolves"
    assert s["serviceType"], "Schedule.serviceType"

for slot in resources["Slot"].values():
    ref = slot["schedule"]["reference"]
    assert ref.startswith("Schedule/") and ref[9:] in resources["Schedule"], f"{ref} resolves"
    assert slot["status"] in {"free", "busy"}, slot["status"]
    assert TIMESTAMP.match(slot["start"]) and TIMESTAMP.match(slot["end"]), "start and end"
    start = datetime.fromisoformat(slot["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(slot["end"].replace("Z", "+00:00"))
    assert start < end, "start before end"
    for e in slot.get("extension", []):
        assert e["url"] in EXTENSIONS, f"extension {e['url']}"
        value = EXTENSIONS[e["url"]]
        assert set(e) == {"url", value}, f"{e['url']} carries {value}"
        if value == "valueUrl":
            assert e[value].startswith("http"), "a deep link is a URL"
    if "_state" in slot:
        schedule = resources["Schedule"][ref[9:]]
        location = resources["Location"][schedule["actor"][0]["reference"][9:]]
        assert location["address"]["state"] in slot["_state"], "a slot's file names its state"

print("ok")
