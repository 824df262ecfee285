//! iCalendar feeds over HTTP: a patient and a provider subscribe to their own appointments from a
//! calendar app (no bearer token on the feed's URL), the feed parses with a real iCalendar parser
//! (icalendar, pinned) and keeps the rules parsers let pass, and a revoked or unknown token is 404.

use clinic_tests::{both_ways, ok, problem, refused, Actor, Answer, Aws, Done, TestApp};
use serde_json::{json, Value};
use shared::api::views::{FeedView, Feeds, NewFeed};
use shared::domain::Clock;

both_ways!(
    a_patient_and_a_provider_subscribe_to_their_own_appointments_from_a_calendar_app,
    a_calendar_app_polls_one_url_cheaply_and_an_owner_keeps_at_most_twenty_feeds,
);

/// A calendar app polling every few minutes: one form of the URL, HEAD as GET without a body, a weak
/// ETag that changes when the owner's appointments do, 304 without a body while it has not. And at
/// most 20 active feeds an owner.
async fn a_calendar_app_polls_one_url_cheaply_and_an_owner_keeps_at_most_twenty_feeds(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let provider = app.provider().await;
    let patient = app.patient().await;
    let slot = app.slot(&provider, 30, 1).await;
    let feed = subscribe(&app, &patient, None).await.unwrap();
    let booked = app.book(&patient, &slot).await.done().id.to_string();
    let path = &feed.url[feed.url.find("/calendar/").unwrap()..];

    // The ETag moves once publish has counted the booking; then it holds while nothing changes.
    let tag_of = |r: &clinic_tests::Reply| {
        r.headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
            .expect("an ETag")
    };
    let first = fetch(&app, &feed.url).await;
    ok(&first, 200);
    let mut tag = tag_of(&first);
    assert!(tag.starts_with("W/\""), "{tag}");
    app.cancel(&patient, &booked, "travel").await.done();
    // publish counts each change after it is written, so the ETag follows the body a moment later:
    // poll as a calendar app does, taking each new ETag, until the cancellation shows and the feed has
    // answered 304 to its latest ETag three times in a row (nothing left to count).
    let initial = tag.clone();
    let (mut saw_cancelled, mut quiet) = (false, 0);
    for _ in 0..200 {
        let r = app
            .request("GET", path, None, None, &[("if-none-match", tag.as_str())])
            .await;
        match r.status {
            200 => {
                tag = tag_of(&r);
                saw_cancelled |= r
                    .body
                    .as_str()
                    .is_some_and(|b| b.contains("STATUS:CANCELLED"));
                quiet = 0;
            }
            304 => quiet += 1,
            other => panic!("{other}: {}", r.body),
        }
        if saw_cancelled && quiet >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        saw_cancelled && quiet >= 3,
        "the feed settled on the cancellation"
    );
    assert_ne!(tag, initial, "the cancellation changed the feed's ETag");
    let unchanged = app
        .request("GET", path, None, None, &[("if-none-match", tag.as_str())])
        .await;
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.body, Value::Null, "no body");
    let head = app.request("HEAD", path, None, None, &[]).await;
    assert_eq!((head.status, tag_of(&head)), (200, tag.clone()));
    assert_eq!(head.body, Value::Null, "no body");
    // One form only.
    for other in [
        path.trim_end_matches(".ics").to_owned(),
        format!("{path}/"),
        format!("{path}//"),
    ] {
        problem(
            &app.request("GET", &other, None, None, &[]).await,
            404,
            "not_found",
        );
    }

    // 20 active feeds at most; a revoked one makes room.
    let mut ids = vec![feed.feed.id];
    for _ in 1..20 {
        ids.push(subscribe(&app, &patient, None).await.unwrap().feed.id);
    }
    refused(
        &subscribe(&app, &patient, None).await,
        409,
        "too_many_feeds",
    );
    ok(
        &app.send(
            &patient,
            "DELETE",
            &format!("/calendar/feeds/{}", ids[3]),
            None,
        )
        .await,
        200,
    );
    subscribe(&app, &patient, None).await.unwrap();
    refused(
        &subscribe(&app, &patient, None).await,
        409,
        "too_many_feeds",
    );
}

/// The events of a feed as icalendar reads them, after its checks of the rules parsers skip.
fn parsed(ics: &str) -> Vec<Value> {
    clinic_tests::python_check("ical_check.py", ics)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A booking of `slot` for `who`, with a reason for the visit that no feed may show.
async fn book(app: &TestApp, who: &Actor, slot: &str, kind: &str) -> clinic_tests::Reply {
    app.send(
        who,
        "POST",
        "/appointments",
        Some(json!({"slotId": slot, "consultationType": kind, "reasonForVisit": "chest pain"})),
    )
    .await
}

async fn subscribe(app: &TestApp, who: &Actor, body: Option<Value>) -> Answer<NewFeed> {
    app.send(who, "POST", "/calendar/feeds", body).await.made()
}

/// The feed at `url` as a calendar app reads it: no Authorization header.
async fn fetch(app: &TestApp, url: &str) -> clinic_tests::Reply {
    let path = &url[url.find("/calendar/").expect("a feed URL")..];
    app.request("GET", path, None, None, &[("accept", "text/calendar")])
        .await
}

async fn a_patient_and_a_provider_subscribe_to_their_own_appointments_from_a_calendar_app(
    aws: Aws,
) {
    let app = TestApp::spawn_on(aws, Clock::manual("2030-01-01T08:00:00Z".parse().unwrap())).await;
    let provider = app.provider().await;
    let (patient, other) = (app.patient().await, app.patient().await);
    let slot = |start: &str, room: Option<&str>| {
        let mut body = json!({"providerId": provider.id, "startTime": start,
            "endTime": start.replace(":00:00Z", ":30:00Z")});
        if let Some(r) = room {
            body["roomNumber"] = json!(r);
        }
        body
    };
    let mut ids = vec![];
    for (start, room) in [
        ("2030-01-10T09:00:00Z", Some("2B, east wing; door 3")),
        ("2030-01-10T10:00:00Z", None),
        ("2030-01-10T11:00:00Z", None),
    ] {
        let r = app
            .send(&provider, "POST", "/slots", Some(slot(start, room)))
            .await;
        ok(&r, 201);
        ids.push(r.id());
    }
    let in_person = book(&app, &patient, &ids[0], "in_person").await;
    ok(&in_person, 201);
    let video = book(&app, &patient, &ids[1], "video").await;
    ok(&video, 201);
    ok(&book(&app, &other, &ids[2], "phone").await, 201);

    // The patient subscribes; the token is shown once, the URL needs no bearer token.
    let feed = subscribe(&app, &patient, None).await.unwrap();
    assert_eq!(feed.token.len(), 64);
    assert!(feed.url.starts_with("http://127.0.0.1:"), "{}", feed.url);
    assert!(feed
        .url
        .ends_with(&format!("/calendar/feeds/{}.ics", feed.token)));
    let first = fetch(&app, &feed.url).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.headers["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = first.body.as_str().unwrap().to_owned();
    assert!(!ics.contains("chest"), "no reason for the visit in a feed");
    let events = parsed(&ics);
    let uid = |r: &clinic_tests::Reply| format!("{}@appointments.clinic", r.id());
    assert_eq!(
        events
            .iter()
            .map(|e| (
                e["uid"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned()
            ))
            .collect::<Vec<_>>(),
        [
            (uid(&in_person), "CONFIRMED".to_owned()),
            (uid(&video), "CONFIRMED".to_owned())
        ],
        "the patient's own two, soonest first"
    );
    assert_eq!(events[0]["location"], "2B, east wing; door 3");
    assert_eq!(events[0]["sequence"], 0);

    // An hour later the video visit is cancelled: the same UID, STATUS:CANCELLED, a higher SEQUENCE.
    app.travel_to("2030-01-01T09:00:00Z");
    app.cancel(&patient, &video.id(), "travel").await.done();
    let events = parsed(fetch(&app, &feed.url).await.body.as_str().unwrap());
    assert_eq!(events[1]["uid"], uid(&video));
    assert_eq!(events[1]["status"], "CANCELLED");
    // An hour in seconds, and one write.
    assert_eq!(events[1]["sequence"], 3601);
    // Two changes within one second are two revisions, not one.
    for notes in ["bring last year's results", "and the new ones"] {
        let noted = app
            .update(&provider, &in_person.id(), json!({"notes": notes}))
            .await;
        assert!(noted.is_ok(), "{noted:?}");
    }
    let events = parsed(fetch(&app, &feed.url).await.body.as_str().unwrap());
    assert_eq!(events[0]["uid"], uid(&in_person));
    assert_eq!(events[0]["sequence"], 3600 + 2);

    // The provider's feed shows every patient's appointment with them.
    let theirs = subscribe(&app, &provider, Some(json!({"for": "provider"})))
        .await
        .unwrap();
    let events = parsed(fetch(&app, &theirs.url).await.body.as_str().unwrap());
    assert_eq!(events.len(), 3);
    refused(
        &subscribe(&app, &patient, Some(json!({"for": "provider"}))).await,
        403,
        "forbidden",
    );
    refused(
        &subscribe(&app, &patient, Some(json!({"for": "everyone"}))).await,
        400,
        "validation_failed",
    );

    // Lists show no tokens; a feed is revoked only by its owner, and then its URL is gone.
    let listed: Feeds = app
        .send(&patient, "GET", "/calendar/feeds", None)
        .await
        .answer()
        .unwrap();
    assert_eq!(
        listed.data.iter().map(|f| f.id).collect::<Vec<_>>(),
        [feed.feed.id]
    );
    let raw = app.send(&patient, "GET", "/calendar/feeds", None).await;
    assert!(!raw.body.to_string().contains(&feed.token));
    let path = format!("/calendar/feeds/{}", feed.feed.id);
    problem(
        &app.send(&other, "DELETE", &path, None).await,
        404,
        "not_found",
    );
    let revoked: FeedView = app
        .send(&patient, "DELETE", &path, None)
        .await
        .answer()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    problem(&fetch(&app, &feed.url).await, 404, "not_found");
    assert_eq!(
        fetch(&app, &theirs.url).await.status,
        200,
        "the provider's feed stands"
    );
    // Malformed, unknown, and the revoked token without `.ics`: all the same 404.
    for bad in [
        "/calendar/feeds/nothing.ics".to_owned(),
        format!("/calendar/feeds/{}.ics", "ab".repeat(32)),
        format!("/calendar/feeds/{}", feed.token),
    ] {
        problem(
            &app.request("GET", &bad, None, None, &[]).await,
            404,
            "not_found",
        );
    }
    // The other routes still need a token.
    problem(
        &app.request("GET", "/calendar/feeds", None, None, &[]).await,
        401,
        "unauthorized",
    );
}
