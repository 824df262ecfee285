"""Reads an iCalendar feed on stdin, parses it with icalendar (pinned in local/requirements.txt), checks
what parsers let pass (RFC 5545: CRLF line endings, lines of at most 75 octets, DTSTAMP and a unique UID
in every VEVENT, DTSTART before DTEND, VERSION and PRODID), and prints the events as JSON lines for the
Rust test to compare. Exits non-zero, naming the rule, on the first violation."""

import json
import sys

import icalendar

raw = sys.stdin.buffer.read()
text = raw.decode("utf-8")
assert text.endswith("\r\n"), "the feed ends with CRLF"
lines = text.split("\r\n")[:-1]
for line in lines:
    assert "\n" not in line and "\r" not in line, f"a bare line break in {line!r}"
    assert len(line.encode("utf-8")) <= 75, f"a line of {len(line.encode())} octets: {line!r}"

calendar = icalendar.Calendar.from_ical(text)
assert calendar.name == "VCALENDAR"
assert str(calendar["VERSION"]) == "2.0", "VERSION:2.0"
assert calendar.get("PRODID"), "PRODID"
uids = set()
for event in calendar.walk("VEVENT"):
    for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "STATUS", "SEQUENCE", "SUMMARY"):
        assert event.get(required) is not None, f"{required} in every VEVENT"
    uid = str(event["UID"])
    assert uid not in uids, f"UID {uid} twice"
    uids.add(uid)
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start < end, f"{uid}: DTSTART before DTEND"
    assert start.tzinfo is not None and start.utcoffset().total_seconds() == 0, "times in UTC"
    print(json.dumps({
        "uid": uid,
        "status": str(event["STATUS"]),
        "sequence": int(event["SEQUENCE"]),
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": str(event["SUMMARY"]),
        "location": str(event["LOCATION"]) if event.get("LOCATION") is not None else None,
    }))
