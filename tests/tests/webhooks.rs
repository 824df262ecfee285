//! Deliveries signed by `shared::domain::webhook` (issue 23, section 1), verified by the Standard
//! Webhooks reference library from PyPI (tests/python/webhook_check.py), not by our own code: a
//! delivery verifies with its endpoint's secret, a rotated secret's old and new keys both verify while
//! both sign, and a changed body, another secret or a stale timestamp is refused.

use serde_json::{json, Value};
use shared::domain::webhook::{headers, Secret};

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
