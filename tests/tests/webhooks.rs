//! Deliveries signed by `shared::domain::webhook` (issue 23, section 1), verified by the Standard
//! Webhooks reference library from PyPI (tests/python/webhook_check.py), not by our own code: a
//! delivery verifies with its endpoint's secret, a rotated secret's old and new keys both verify while
//! both sign, and a changed body, another secret or a stale timestamp is refused.

use std::sync::Arc;

use clinic_tests::{Actor, Aws, Done, TestApp};
use serde_json::{json, Value};
use shared::domain::webhook::{headers, Secret};
use shared::domain::Clock;

fn delivery(secret: &Secret, body: &str, signers: &[&Secret], timestamp: i64) -> Value {
    let h = headers("evt_2f6c1a9e", timestamp, body, signers);
    json!({
        "secret": secret.text(),
        "body": body,
        "headers": h.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
    })
}

#[test]
fn the_reference_library_verifies_what_the_service_signs() {
    let now = jiff::Timestamp::now().as_second();
    let (current, previous, stranger) =
        (Secret::generate(), Secret::generate(), Secret::generate());
    let body = json!({"type": "appointment.created", "timestamp": "2031-03-04T14:00:00Z",
                      "data": {"appointmentId": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"}})
    .to_string();
    let mut tampered = delivery(&current, &body, &[&current], now);
    tampered["body"] = json!(body.replace("created", "cancelled"));
    let cases = json!([
        delivery(&current, &body, &[&current], now),
        // Rotation: both keys sign, each receiver's verifies.
        delivery(&current, &body, &[&current, &previous], now),
        delivery(&previous, &body, &[&current, &previous], now),
        tampered,
        delivery(&stranger, &body, &[&current], now),
        delivery(&current, &body, &[&current], now - 600),
    ]);
    let out = clinic_tests::python_check("webhook_check.py", &cases.to_string());
    let results: Vec<String> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(&results[..3], ["ok", "ok", "ok"], "{results:?}");
    for (i, why) in [(3, "signature"), (4, "signature"), (5, "too old")] {
        assert!(
            results[i].starts_with("refused") && results[i].contains(why),
            "case {i}: {results:?}"
        );
    }
}

/// The receiver of tests/python/webhook_receiver.py, on this machine: it checks each delivery with the
/// reference library against the secrets registered for its path, and answers as the path's query
/// says (`fail=N`: 500 to the first N attempts of an event; `gone=1`: 410).
struct Receiver {
    child: std::process::Child,
    url: String,
}

impl Receiver {
    fn start() -> Receiver {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(local::emulator::python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/python/webhook_receiver.py"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the venv's python runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("a stdout"))
            .read_line(&mut line)
            .expect("the receiver says its port");
        let port = line.trim().strip_prefix("PORT ").expect("PORT <n>");
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn call(&self, app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Value {
        use http_body_util::BodyExt;
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap();
        let response = app.http.request(req).await.expect("the receiver answers");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// The secrets the deliveries to `path` are checked with.
    async fn register(&self, app: &TestApp, path: &str, secrets: &[&str]) {
        self.call(
            app,
            "PUT",
            &format!("/_secrets{path}"),
            Some(json!(secrets)),
        )
        .await;
    }

    /// Every delivery so far.
    async fn log(&self, app: &TestApp) -> Vec<Value> {
        self.call(app, "GET", "/_log", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `done` holds for the deliveries, or fails after 60 s.
    async fn wait(&self, app: &TestApp, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..600 {
            let log = self.log(app).await;
            if done(&log) {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("deliveries did not arrive: {:#?}", self.log(app).await);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The deliveries to `path`.
fn to<'a>(log: &'a [Value], path: &str) -> Vec<&'a Value> {
    log.iter().filter(|d| d["path"] == path).collect()
}

/// A staff member's new endpoint for `url` and `events`: its id and secret.
async fn endpoint(app: &TestApp, staff: &Actor, url: &str, events: &[&str]) -> (String, String) {
    let r = app
        .send(
            staff,
            "POST",
            "/webhooks",
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Pauses of a second between attempts, and one failed delivery disables: the whole schedule runs in
/// seconds.
const QUICK: &[(&str, &str)] = &[
    ("WebhookRetrySeconds", "1,1,1,1,1,1,1"),
    ("WebhookDisableAfter", "1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_are_signed_retried_under_one_id_and_410_or_failing_disables() {
    let app = TestApp::spawn_configured(Aws::Faithful, Clock::System, QUICK).await;
    let receiver = Receiver::start();
    let staff = app.staff().await;
    let base = &receiver.url;
    let (flaky, flaky_secret) = endpoint(
        &app,
        &staff,
        &format!("{base}/flaky?fail=5"),
        &["appointment.created"],
    )
    .await;
    let (gone, gone_secret) = endpoint(
        &app,
        &staff,
        &format!("{base}/gone?gone=1"),
        &["appointment.*"],
    )
    .await;
    let (down, down_secret) = endpoint(
        &app,
        &staff,
        &format!("{base}/down?fail=100"),
        &["appointment.created"],
    )
    .await;
    let (all, all_secret) = endpoint(
        &app,
        &staff,
        &format!("{base}/all"),
        &["appointment.*", "webhook.*"],
    )
    .await;
    for (path, secret) in [
        ("/flaky", &flaky_secret),
        ("/gone", &gone_secret),
        ("/down", &down_secret),
        ("/all", &all_secret),
    ] {
        receiver.register(&app, path, &[secret]).await;
    }

    let provider = app.provider().await;
    let slot = app.slot(&provider, 30, 1).await;
    let patient = app.patient().await;
    let booked = app.book(&patient, &slot).await.done();
    let booked_id = booked.id.to_string();

    // flaky: five 500s, then the sixth attempt is taken; down: all eight attempts fail; gone: one 410.
    let log = receiver
        .wait(&app, |log| {
            to(log, "/flaky").len() >= 6
                && to(log, "/down").len() >= 8
                && to(log, "/all")
                    .iter()
                    .filter(|d| d["type"] == "webhook.disabled")
                    .count()
                    >= 2
        })
        .await;
    let flaky_log = to(&log, "/flaky");
    assert_eq!(
        flaky_log
            .iter()
            .map(|d| d["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [500, 500, 500, 500, 500, 204]
    );
    let created_id = flaky_log[0]["id"].clone();
    assert!(
        flaky_log.iter().all(|d| d["id"] == created_id),
        "one id across retries: {flaky_log:#?}"
    );
    assert_eq!(flaky_log[0]["data"]["appointmentId"], booked_id);
    assert_eq!(flaky_log[0]["type"], "appointment.created");
    assert_eq!(to(&log, "/gone").len(), 1, "a 410 is not tried again");
    assert_eq!(to(&log, "/down").len(), 8, "eight attempts, then failed");
    for d in &log {
        assert_eq!(
            d["verified"],
            json!(["ok"]),
            "the reference library verifies it: {d}"
        );
        for private in [
            "notes",
            "privateNotes",
            "symptoms",
            "reasonForVisit",
            "vitals",
        ] {
            assert!(d["data"].get(private).is_none(), "{d}");
        }
    }
    // The disabled endpoints say why; the bus and the subscriber of webhook.* were told.
    for (id, reason) in [(&gone, "gone"), (&down, "failing")] {
        let w = app
            .send(&staff, "GET", &format!("/webhooks/{id}"), None)
            .await;
        assert_eq!(
            (
                w.body["active"].as_bool(),
                w.body["disabledReason"].as_str()
            ),
            (Some(false), Some(reason)),
            "{}",
            w.body
        );
        assert!(
            to(&log, "/all")
                .iter()
                .any(|d| d["type"] == "webhook.disabled"
                    && d["data"]["webhookId"] == id.as_str()
                    && d["data"]["reason"] == reason),
            "{log:#?}"
        );
    }
    app.wait_for_events(|events| {
        events
            .iter()
            .filter(|e| e["detail-type"] == "webhook.disabled")
            .count()
            == 2
    })
    .await;
    // The log shows each attempt, newest first, never a body.
    let attempts = app
        .send(
            &staff,
            "GET",
            &format!("/webhooks/{flaky}/deliveries?limit=10"),
            None,
        )
        .await;
    assert_eq!(attempts.status, 200, "{}", attempts.body);
    let data = attempts.body["data"].as_array().unwrap();
    let seen: Vec<(u64, &str)> = data
        .iter()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (6, "delivered"),
            (5, "retrying"),
            (4, "retrying"),
            (3, "retrying"),
            (2, "retrying"),
            (1, "retrying")
        ]
    );
    assert!(data
        .iter()
        .all(|a| a["eventId"] == created_id && a.get("data").is_none()));
    assert_eq!(data[1]["statusCode"], 500);

    // Rotation: both secrets sign for a day; a receiver with either verifies.
    let rotated = app
        .send(
            &staff,
            "POST",
            &format!("/webhooks/{all}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, all_secret);
    receiver
        .register(&app, "/all", &[&new_secret, &all_secret])
        .await;
    app.cancel(&patient, &booked_id, "travel").await.done();
    let log = receiver
        .wait(&app, |log| {
            to(log, "/all")
                .iter()
                .any(|d| d["type"] == "appointment.cancelled")
        })
        .await;
    let cancelled = to(&log, "/all")
        .into_iter()
        .find(|d| d["type"] == "appointment.cancelled")
        .unwrap();
    assert_eq!(cancelled["verified"], json!(["ok", "ok"]), "{cancelled}");
    assert!(
        to(&log, "/flaky")
            .iter()
            .all(|d| d["type"] == "appointment.created"),
        "flaky names created only"
    );
    assert!(
        to(&log, "/gone").len() == 1 && to(&log, "/down").len() == 8,
        "disabled endpoints get nothing more"
    );
}

#[tokio::test]
async fn bad_endpoints_are_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let staff = app.staff().await;
    let patient = app.patient().await;
    let r = app
        .send(
            &patient,
            "POST",
            "/webhooks",
            Some(json!({"url": "https://hooks.example.com/x", "events": ["*"]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden")),
        "{}",
        r.body
    );
    for (body, field) in [
        (
            json!({"url": "http://hooks.example.com/x", "events": ["*"]}),
            "url",
        ),
        (json!({"url": "https://10.0.0.8/x", "events": ["*"]}), "url"),
        (
            json!({"url": "https://169.254.169.254/latest", "events": ["*"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["*"]}), "url"),
        (
            json!({"url": "https://hooks.example.com/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["Appointment.Created"]}),
            "events",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["*"], "description": ""}),
            "description",
        ),
    ] {
        let r = app
            .send(&staff, "POST", "/webhooks", Some(body.clone()))
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    let listed = app.send(&staff, "GET", "/webhooks", None).await;
    assert_eq!(listed.body["data"], json!([]), "nothing was made");

    let mut made = vec![];
    for i in 0..25 {
        made.push(
            endpoint(
                &app,
                &staff,
                &format!("https://hooks.example.com/{i}"),
                &["*"],
            )
            .await
            .0,
        );
    }
    let r = app
        .send(
            &staff,
            "POST",
            "/webhooks",
            Some(json!({"url": "https://hooks.example.com/26", "events": ["*"]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("too_many_webhooks")),
        "{}",
        r.body
    );
    let listed = app.send(&staff, "GET", "/webhooks", None).await;
    let shown = listed.body.to_string();
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(25));
    assert!(!shown.contains("whsec_"), "a secret is shown once only");

    let first = &made[0];
    let r = app
        .send(
            &staff,
            "PATCH",
            &format!("/webhooks/{first}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .send(
            &staff,
            "PATCH",
            &format!("/webhooks/{first}"),
            Some(json!({"url": "https://10.1.2.3/x"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["field"].as_str()),
        (400, Some("url")),
        "{}",
        r.body
    );
    let r = app
        .send(
            &staff,
            "PATCH",
            &format!("/webhooks/{first}"),
            Some(json!({"active": false, "events": ["hold.*"]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["active"].as_bool()),
        (200, Some(false)),
        "{}",
        r.body
    );
    assert_eq!(r.body["events"], json!(["hold.*"]));
    let r = app
        .send(
            &staff,
            "GET",
            &format!("/webhooks/{first}/deliveries?limit=0"),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .send(&staff, "DELETE", &format!("/webhooks/{first}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (method, path) in [
        ("GET", format!("/webhooks/{first}")),
        ("DELETE", format!("/webhooks/{first}")),
        ("POST", format!("/webhooks/{first}/rotate-secret")),
        ("GET", format!("/webhooks/{first}/deliveries")),
    ] {
        let r = app.send(&staff, method, &path, None).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
    }
    let r = app
        .send(
            &staff,
            "PATCH",
            &format!("/webhooks/{first}"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // The deleted one is uncounted: one more fits.
    endpoint(&app, &staff, "https://hooks.example.com/again", &["*"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_faults_every_committed_booking_is_delivered_under_one_id_and_no_other() {
    let app = Arc::new(TestApp::spawn_configured(Aws::Faulty, Clock::System, QUICK).await);
    let receiver = Receiver::start();
    let staff = app.staff().await;
    // Made under faults: a 503 is retried. Should a refused create have been written after all, its
    // endpoint (whose secret nobody saw) is deleted before anything is booked.
    let (id, secret) = loop {
        let r = app
            .send(&staff, "POST", "/webhooks", Some(json!({"url": format!("{}/all", receiver.url), "events": ["appointment.created"]})))
            .await;
        if r.status == 201 {
            break (
                r.body["id"].as_str().unwrap().to_owned(),
                r.body["secret"].as_str().unwrap().to_owned(),
            );
        }
        assert_eq!(r.status, 503, "{}", r.body);
    };
    let listed = loop {
        let r = app.send(&staff, "GET", "/webhooks", None).await;
        if r.status == 200 {
            break r.body["data"].as_array().unwrap().clone();
        }
        assert_eq!(r.status, 503, "{}", r.body);
    };
    for other in listed.iter().filter(|w| w["id"] != id.as_str()) {
        let path = format!("/webhooks/{}", other["id"].as_str().unwrap());
        while app.send(&staff, "DELETE", &path, None).await.status == 503 {}
    }
    receiver.register(&app, "/all", &[&secret]).await;
    let provider = app.provider().await;
    let slot = app.slot(&provider, 30, 3).await;
    let patients = app.patients(6).await;
    let answers = clinic_tests::book_at_once(&app, &patients, &slot).await;
    for a in &answers {
        clinic_tests::settled(a, &[(201, ""), (409, "slot_full")], Aws::Faulty);
    }
    // What committed is what the table holds, whatever the answers said.
    let now = shared::domain::UtcTime::from_timestamp(jiff::Timestamp::now());
    let day = jiff::SignedDuration::from_hours(48);
    let mut stored: Vec<String> = app
        .store()
        .bookings(
            shared::domain::ProviderId::from_uuid(provider.id),
            now,
            now.plus(day),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id.to_string())
        .collect();
    stored.sort();
    assert!(!stored.is_empty() && stored.len() <= 3, "{stored:?}");
    let log = receiver
        .wait(&app, |log| {
            let mut got: Vec<String> = log
                .iter()
                .map(|d| {
                    d["data"]["appointmentId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            got.sort();
            got.dedup();
            got == stored
        })
        .await;
    // A moment more: nothing else follows (a rolled-back booking has no change to deliver).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let log_after = receiver.log(&app).await;
    let mut ids: Vec<(String, String)> = log_after
        .iter()
        .map(|d| {
            (
                d["data"]["appointmentId"].as_str().unwrap().to_owned(),
                d["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        stored.len(),
        "one webhook-id per booking, however often delivered: {log_after:#?}"
    );
    assert!(log
        .iter()
        .chain(&log_after)
        .all(|d| d["verified"] == json!(["ok"])));
}

/// The README's receiver (the `python` block of "Receiving a webhook"), run as written: it verifies
/// with the library and prints the id, type and appointment of each delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_readme_s_receiver_verifies_and_prints_a_delivery() {
    use std::io::BufRead;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("```python\n# receive.py")
        .expect("the README's receiver")
        + 10;
    let code = &readme[start..start + readme[start..].find("\n```").unwrap()];
    let script = std::env::temp_dir().join(format!("receive-{}.py", uuid::Uuid::new_v4()));
    std::fs::write(&script, code).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let app = TestApp::spawn().await;
    let staff = app.staff().await;
    let (_, secret) = endpoint(
        &app,
        &staff,
        &format!("http://127.0.0.1:{port}/clinic"),
        &["appointment.*"],
    )
    .await;
    let mut child = std::process::Command::new(local::emulator::python())
        .arg(&script)
        .env("WEBHOOK_SECRET", &secret)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    // The receiver may start after the first attempt: the retry 5 s later reaches it.
    let provider = app.provider().await;
    let slot = app.slot(&provider, 30, 1).await;
    let patient = app.patient().await;
    let booked = app.book(&patient, &slot).await.done();
    let line = printed
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the receiver prints the delivery");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&script);
    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(
        words[1..],
        ["appointment.created", booked.id.to_string().as_str()],
        "{line}"
    );
}
