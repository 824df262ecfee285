//! Metrics: the EMF lines the functions write, read back as CloudWatch would (`GET /_local/metrics`)
//! after a race for one seat and a cancellation; every line checked against the specification's rules
//! by jsonschema (tests/python/emf_check.py), and none carrying an identifier.

use std::sync::Arc;
use std::time::Duration;

use clinic_tests::{book_at_once, python_check, Done, TestApp};
use local::metrics::Figures;

/// The figures of `function` (and `job`) with `outcome`, if any line had them.
fn of<'a>(
    figures: &'a [Figures],
    function: &str,
    job: Option<&str>,
    outcome: &str,
) -> Option<&'a Figures> {
    figures
        .iter()
        .find(|f| f.function == function && f.job.as_deref() == job && f.outcome == outcome)
}

/// The sum of `metric` over every line of `function`.
fn total(figures: &[Figures], function: &str, metric: &str) -> f64 {
    figures
        .iter()
        .filter(|f| f.function == function)
        .filter_map(|f| f.counts.get(metric))
        .sum()
}

#[tokio::test]
async fn a_race_and_a_cancellation_show_as_outcomes_counts_and_latencies() {
    let app = Arc::new(TestApp::spawn().await);
    let provider = app.provider().await;
    let slot = app.slot(&provider, 30, 1).await;
    let patients = app.patients(4).await;
    let answers = book_at_once(&app, &patients, &slot).await;
    let won: Vec<_> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    let (winner, id) = (won[0].patient_id.uuid(), won[0].id.to_string());
    let who = patients.iter().find(|p| p.id == winner).unwrap();
    app.cancel(who, &id, "feeling better").await.done();
    app.wait_for_kinds(&id, &["appointment.created", "appointment.cancelled"])
        .await;

    // publish writes its line when its batch ends, and the worker its own when the freed seat's job
    // has run: read until both are there.
    let mut figures = vec![];
    for _ in 0..200 {
        figures = app.metric_figures().await;
        if total(&figures, "publish", "EventsPut") >= 2.0
            && of(&figures, "worker", Some("seat-freed"), "ok").is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let booked = of(&figures, "create-appointment", None, "booked").expect("a booked line");
    let full = of(&figures, "create-appointment", None, "slot_full").expect("slot_full lines");
    assert_eq!((booked.units, full.units), (1, 3), "{figures:#?}");
    assert_eq!(
        (
            total(&figures, "create-appointment", "Requests"),
            total(&figures, "create-appointment", "Http2xx"),
            total(&figures, "create-appointment", "Http4xx"),
        ),
        (4.0, 1.0, 3.0)
    );
    assert_eq!(
        total(&figures, "create-appointment", "ColdStart"),
        1.0,
        "one cold start of the function, whatever its outcome"
    );
    assert!(booked.latency_ms.p50 > 0.0 && booked.latency_ms.max >= booked.latency_ms.p99);
    // Deployed as the template says (ReturnConsumedCapacity TOTAL), each line carries the DynamoDB
    // units its requests consumed: the booking's transaction wrote, the refusals wrote nothing.
    assert!(
        booked.counts.get("WriteUnits").is_some_and(|w| *w >= 2.0),
        "{booked:?}"
    );
    assert_eq!(full.counts.get("WriteUnits"), None, "{full:?}");
    let cancelled = of(&figures, "cancel-appointment", None, "ok").expect("the cancel's line");
    assert_eq!(cancelled.units, 1);
    assert!(
        total(&figures, "publish", "EventsPut") >= 2.0,
        "created and cancelled put: {figures:#?}"
    );
    assert_eq!(total(&figures, "publish", "RecordsParked"), 0.0);
    assert!(
        of(&figures, "worker", Some("seat-freed"), "ok").is_some(),
        "the freed seat's job: {figures:#?}"
    );

    // Every line is EMF by the specification's rules, and none names a patient, an appointment, a
    // slot or a provider.
    let lines = app.metric_lines().await;
    let checked = python_check("emf_check.py", &serde_json::to_string(&lines).unwrap());
    assert_eq!(checked.trim(), format!("ok {}", lines.len()));
    let ids: Vec<String> = patients
        .iter()
        .map(|p| p.id.to_string())
        .chain([id, slot, provider.id.to_string()])
        .collect();
    for line in &lines {
        assert!(
            !ids.iter().any(|i| line.contains(i.as_str())),
            "an identifier in {line}"
        );
    }
}
