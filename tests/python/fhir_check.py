"""Reads a FHIR R4 resource (JSON) on stdin and validates it with fhir.resources (pinned in
local/requirements.txt; its R4B models check structure and types, not value sets), then checks what it
lets pass: the status value sets, an AuditEvent's action and outcome codes, a participant with a type or an actor, start and end together, a
searchset's total (left out on a page that has a next link) and its entries one by one. Prints "ok", or exits non-zero naming the rule."""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class

APPOINTMENT_STATUS = {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                      "entered-in-error", "checked-in", "waitlist"}
SLOT_STATUS = {"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"}
PARTICIPATION_STATUS = {"accepted", "declined", "tentative", "needs-action"}
ISSUE_SEVERITY = {"fatal", "error", "warning", "information"}
LOCATION_STATUS = {"active", "suspended", "inactive"}
CONTACT_POINT_SYSTEM = {"phone", "fax", "email", "pager", "url", "sms", "other"}


def check(resource):
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    if kind == "Appointment":
        assert resource["status"] in APPOINTMENT_STATUS, resource["status"]
        assert ("start" in resource) == ("end" in resource), "app-2: start and end together"
        for p in resource["participant"]:
            assert "type" in p or "actor" in p, "app-1: a participant has a type or an actor"
            assert p["status"] in PARTICIPATION_STATUS, p["status"]
        assert resource.get("cancelationReason") is None or resource["status"] in {"cancelled", "noshow"}
    elif kind == "Slot":
        assert resource["status"] in SLOT_STATUS, resource["status"]
        assert resource["start"] < resource["end"]
        assert resource["schedule"]["reference"].startswith("Schedule/")
    elif kind == "Bundle":
        assert resource["type"] == "searchset"
        paged = any(link["relation"] == "next" for link in resource.get("link", []))
        if paged:
            # A page of more: its count is not the matches' total, which is then left out.
            assert "total" not in resource, "a page's total would not be the matches' count"
        else:
            assert resource["total"] == len(resource.get("entry", []))
        for entry in resource.get("entry", []):
            assert entry["fullUrl"].endswith("/" + entry["resource"]["id"])
            check(entry["resource"])
    elif kind == "CapabilityStatement":
        assert resource["fhirVersion"] == "4.0.1"
        assert resource["kind"] == "instance" and "implementation" in resource, "cpb-2 / cpb-15"
    elif kind == "OperationOutcome":
        for issue in resource["issue"]:
            assert issue["severity"] in ISSUE_SEVERITY
    elif kind == "AuditEvent":
        assert resource["action"] in {"C", "R", "U", "D", "E"}, resource["action"]
        assert resource["outcome"] in {"0", "4", "8", "12"}, resource["outcome"]
        assert resource["agent"] and all(isinstance(a["requestor"], bool) for a in resource["agent"])
        assert resource["source"]["observer"], "the observer is required"
        for e in resource.get("entity", []):
            assert not ("name" in e and "query" in e), "sev-1: a name or a query, not both"
    elif kind == "Schedule":
        assert resource["actor"], "a Schedule has an actor"
    elif kind == "PractitionerRole":
        assert resource["practitioner"]["reference"] == "Practitioner/" + resource["id"]
    elif kind == "HealthcareService":
        assert resource["appointmentRequired"] is True
    elif kind == "Practitioner":
        for language in resource.get("communication", []):
            assert language["coding"][0]["system"] == "urn:ietf:bcp:47", "languages are BCP 47 codes"
    elif kind == "Location":
        assert resource.get("status") in LOCATION_STATUS, resource.get("status")
        assert resource.get("mode") in {"instance", "kind"}
        for t in resource.get("telecom", []):
            assert t["system"] in CONTACT_POINT_SYSTEM, t["system"]
        for e in resource.get("extension", []):
            assert e["url"].startswith("http"), "an extension names its definition"
    else:
        raise AssertionError(f"unexpected {kind}")


check(json.load(sys.stdin))
print("ok")
