//! The SMART Scheduling Links feed (issue 23, section 2) as a slot finder reads it: the manifest
//! without a token, each file at its presigned URL, everything checked against the specification's
//! rules and as R4 by tests/python/smart_feed_check.py (fhir.resources from PyPI); a booked slot is
//! busy in the next feed, and `_since` lists only what changed.

use clinic_tests::{ok, Actor, Done, TestApp};
use serde_json::{json, Value};

/// The manifest, without a token.
async fn manifest(app: &TestApp, query: &str) -> Value {
    let r = app
        .request(
            "GET",
            &format!("/fhir/$bulk-publish{query}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    r.body
}

/// Each file of the manifest, fetched from its URL (the emulator's S3) as a finder fetches it.
async fn files(app: &TestApp, manifest: &Value) -> serde_json::Map<String, Value> {
    use http_body_util::BodyExt;
    let mut out = serde_json::Map::new();
    for item in manifest["output"].as_array().unwrap() {
        let url = item["url"].as_str().unwrap();
        let req = hyper::Request::get(url)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let response = app.http.request(req).await.expect("the bucket answers");
        assert_eq!(response.status(), 200, "{url}");
        let text = response.into_body().collect().await.unwrap().to_bytes();
        out.insert(
            url.to_owned(),
            json!(String::from_utf8(text.to_vec()).unwrap()),
        );
    }
    out
}

/// Every line of every file, by resource type.
fn lines(files: &serde_json::Map<String, Value>) -> Vec<Value> {
    files
        .values()
        .flat_map(|t| {
            t.as_str()
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn checked(manifest: &Value, files: &serde_json::Map<String, Value>) {
    let out = clinic_tests::python_check(
        "smart_feed_check.py",
        &json!({"manifest": manifest, "files": files}).to_string(),
    );
    assert_eq!(out.trim(), "ok");
}

/// Runs the writer until the feed holds `slots` Slot lines (the directory that lists providers is a
/// read model `publish` keeps: a provider appears a moment after their profile is saved).
async fn written(app: &TestApp, slots: usize) -> shared::domain::smart::Published {
    written_by(&app.feed_writer(), slots).await
}

/// [`written`] by `writer`.
async fn written_by(
    writer: &shared::feed::FeedWriter,
    slots: usize,
) -> shared::domain::smart::Published {
    let mut last = None;
    for _ in 0..100 {
        let published = writer.run().await.expect("the feed is written");
        let n: usize = published
            .files
            .iter()
            .filter(|f| f.kind == "Slot")
            .map(|f| f.lines)
            .sum();
        if n == slots {
            return published;
        }
        last = Some(published);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the feed never held {slots} slots: {last:?}");
}

/// `slot` booked by `patient` after the feed `first` was published, and the feed `writer` writes once
/// it has seen the booking (a new transaction time). The booking waits out the second `first` was
/// written in: a feed's times are whole seconds, and a change in that second would not be after it.
async fn booked_and_rewritten(
    app: &TestApp,
    writer: &shared::feed::FeedWriter,
    patient: &Actor,
    slot: &str,
    first: &shared::domain::smart::Published,
) -> shared::domain::smart::Published {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.book(patient, slot).await.done();
    loop {
        let p = writer.run().await.unwrap();
        if p.transaction_time != first.transaction_time {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn location(app: &TestApp, staff: &Actor, body: Value) -> String {
    let r = app.send(staff, "POST", "/locations", Some(body)).await;
    ok(&r, 201);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finder_reads_the_feed_a_booked_slot_turns_busy_and_since_lists_what_changed() {
    let app = TestApp::spawn().await;
    let (staff, provider, patient) = (app.staff().await, app.provider().await, app.patient().await);
    // Before there is anything to publish (the local stack writes the feed once as it starts): no
    // line in any file.
    let empty = manifest(&app, "").await;
    assert!(lines(&files(&app, &empty).await).is_empty(), "{empty}");

    let boston = location(&app, &staff, json!({"name": "Back Bay Clinic", "timeZone": "America/New_York",
        "address": {"lines": ["1 Main St"], "city": "Boston", "region": "MA", "postalCode": "02116", "country": "US"},
        "telecom": [{"system": "phone", "value": "+1 617 555 0100"}, {"system": "email", "value": "desk@clinic.example"}]})).await;
    let chicago = location(&app, &staff, json!({"name": "Riverside Clinic", "timeZone": "America/Chicago",
        "address": {"lines": ["12 River St"], "city": "Chicago", "region": "IL", "postalCode": "60601", "country": "US"},
        "telecom": [{"system": "url", "value": "https://clinic.example/riverside"}]})).await;
    let online = location(
        &app,
        &staff,
        json!({"name": "Telehealth", "timeZone": "UTC", "virtual": true}),
    )
    .await;
    ok(
        &app.put_profile(
            &provider,
            &provider,
            json!({"displayName": "Dr. Ada Lind", "acceptingNewPatients": true}),
            None,
        )
        .await,
        200,
    );
    let start = clinic_tests::whole_minutes_from_now(26 * 60);
    let slot = |location: &str, hours: i64, seats: u32| {
        let begins = start.plus(jiff::SignedDuration::from_hours(hours));
        json!({"providerId": provider.id, "startTime": begins, "maxBookings": seats,
               "endTime": begins.plus(jiff::SignedDuration::from_mins(30)), "locationId": location})
    };
    let mut made = vec![];
    for body in [
        slot(&boston, 0, 1),
        slot(&boston, 1, 3),
        slot(&chicago, 2, 1),
        slot(&online, 3, 1),
    ] {
        let r = app.send(&provider, "POST", "/slots", Some(body)).await;
        ok(&r, 201);
        made.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let far = start.plus(jiff::SignedDuration::from_hours(24 * 20));
    let r = app
        .send(
            &provider,
            "POST",
            "/slots",
            Some(json!({"providerId": provider.id, "startTime": far,
            "endTime": far.plus(jiff::SignedDuration::from_mins(30)), "locationId": boston})),
        )
        .await;
    ok(&r, 201);

    // Three slots: not the virtual location's, not the one past 14 days.
    let first = written(&app, 3).await;
    let m = manifest(&app, "").await;
    assert_eq!(m["transactionTime"], json!(first.transaction_time));
    let f = files(&app, &m).await;
    checked(&m, &f);
    let all = lines(&f);
    let of = |kind: &str| {
        all.iter()
            .filter(|r| r["resourceType"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("Location").len(),
        2,
        "the virtual location is no place on a map"
    );
    assert_eq!(of("Schedule").len(), 2, "the provider at each location");
    let slot_line = |id: &str, all: &[Value]| all.iter().find(|r| r["id"] == id).cloned().unwrap();
    assert_eq!(slot_line(&made[0], &all)["status"], "free");
    assert_eq!(
        slot_line(&made[0], &all)["extension"][0]["valueUrl"],
        format!("https://booking.clinic.invalid/slots/{}", made[0])
    );
    assert_eq!(
        slot_line(&made[1], &all)["extension"][1]["valueInteger"],
        3,
        "its seats"
    );
    let states: Vec<&Value> = m["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "Slot")
        .map(|o| &o["extension"]["state"])
        .collect();
    assert_eq!(states, [&json!(["IL"]), &json!(["MA"])], "a file a state");

    // Nothing changed: the same transaction, and nothing since it.
    let again = written(&app, 3).await;
    assert_eq!(again, first);
    let since = manifest(&app, &format!("?_since={}", first.transaction_time)).await;
    assert_eq!(since["output"], json!([]), "{since}");

    // A booking turns its slot busy in the next feed, and only Boston's slot file changed.
    let next = booked_and_rewritten(&app, &app.feed_writer(), &patient, &made[0], &first).await;
    let since = manifest(&app, &format!("?_since={}", first.transaction_time)).await;
    let changed: Vec<&Value> = since["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["type"])
        .collect();
    assert_eq!(changed, [&json!("Slot")], "{since}");
    assert_eq!(since["output"][0]["extension"]["state"], json!(["MA"]));
    let f = files(&app, &since).await;
    assert_eq!(slot_line(&made[0], &lines(&f))["status"], "busy");
    assert!(next.transaction_time > first.transaction_time);
    let whole = manifest(&app, "").await;
    checked(&whole, &files(&app, &whole).await);

    // A bad _since is a 400 OperationOutcome, and nothing about it is cached.
    let r = app
        .request(
            "GET",
            "/fhir/$bulk-publish?_since=yesterday",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
}

/// A directory too large for a file a state is written a part at a time: a Slot file a state and
/// part of the directory (here a part a provider, where production has about 100: four providers make
/// four parts), each naming its state, all of them checked as a finder reads them. A booking rewrites
/// only its provider's part, and `_since` lists that file alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_directory_is_written_a_part_at_a_time_and_a_booking_rewrites_only_its_part() {
    let app = TestApp::spawn().await;
    let (staff, patient) = (app.staff().await, app.patient().await);
    let boston = location(&app, &staff, json!({"name": "Back Bay Clinic", "timeZone": "America/New_York",
        "address": {"lines": ["1 Main St"], "city": "Boston", "region": "MA", "postalCode": "02116", "country": "US"},
        "telecom": [{"system": "phone", "value": "+1 617 555 0100"}]})).await;
    let start = clinic_tests::whole_minutes_from_now(26 * 60);
    let mut made = vec![];
    // The parts the providers fall in, set by their ids' low bits: two in part 0, one each in 1
    // and 2, none in 3.
    for (i, part) in [0u8, 1, 2, 0].into_iter().enumerate() {
        let mut id = *uuid::Uuid::new_v4().as_bytes();
        id[15] = (id[15] & !3) | part;
        let provider = app
            .actor_with_id(uuid::Uuid::from_bytes(id), &["provider"])
            .await;
        ok(
            &app.put_profile(
                &provider,
                &provider,
                json!({"displayName": format!("Dr. Part {i}")}),
                None,
            )
            .await,
            200,
        );
        let begins = start.plus(jiff::SignedDuration::from_hours(i as i64));
        let r = app
            .send(
                &provider,
                "POST",
                "/slots",
                Some(
                    json!({"providerId": provider.id, "startTime": begins, "locationId": boston,
                    "endTime": begins.plus(jiff::SignedDuration::from_mins(30))}),
                ),
            )
            .await;
        ok(&r, 201);
        made.push((provider.id, r.body["id"].as_str().unwrap().to_owned()));
    }
    let writer = shared::feed::FeedWriter {
        providers_per_file: 1,
        ..app.feed_writer()
    };
    let first = written_by(&writer, 4).await;
    let slot_files: Vec<(&str, usize)> = first
        .files
        .iter()
        .filter(|f| f.kind == "Slot")
        .inspect(|f| assert_eq!(f.states, ["MA"]))
        .map(|f| (f.key.as_str(), f.lines))
        .collect();
    assert_eq!(
        slot_files,
        [
            ("slot-feed/slots-MA-0.ndjson", 2),
            ("slot-feed/slots-MA-1.ndjson", 1),
            ("slot-feed/slots-MA-2.ndjson", 1)
        ]
    );
    let m = manifest(&app, "").await;
    let f = files(&app, &m).await;
    checked(&m, &f);
    assert_eq!(
        lines(&f)
            .iter()
            .filter(|r| r["resourceType"] == "Slot")
            .count(),
        4
    );

    // The first provider's slot booked: the next run rewrites its part's file and no other.
    let next = booked_and_rewritten(&app, &writer, &patient, &made[0].1, &first).await;
    let rewritten: Vec<&str> = next
        .files
        .iter()
        .filter(|f| f.last_modified > first.transaction_time)
        .map(|f| f.key.as_str())
        .collect();
    let key = "slot-feed/slots-MA-0.ndjson";
    assert_eq!(rewritten, [key]);
    let since = manifest(&app, &format!("?_since={}", first.transaction_time)).await;
    let output = since["output"].as_array().unwrap();
    assert_eq!(output.len(), 1, "{since}");
    assert!(output[0]["url"].as_str().unwrap().contains(key), "{since}");
    let f = files(&app, &since).await;
    let status = |i: usize| {
        lines(&f)
            .into_iter()
            .find(|r| r["id"] == made[i].1.as_str())
            .map(|r| r["status"].clone())
    };
    assert_eq!(status(0), Some(json!("busy")));
    assert_eq!(
        status(3),
        Some(json!("free")),
        "the part's other provider's slot"
    );
}
