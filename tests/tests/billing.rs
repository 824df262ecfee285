//! Billing's answers: `payment.succeeded` and `payment.refunded` on the bus reach the worker through a
//! rule and the jobs queue, and show on the appointment once; answers that cannot apply are dropped.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use clinic_tests::{both_ways, Actor, Aws, TestApp};
use serde_json::{json, Value};
use shared::api::Clock;
use shared::domain::Appointment;

both_ways!(
    billings_payment_and_refund_show_on_the_appointment_once,
    a_late_cancellation_and_a_no_show_ask_for_their_fees_once,
);

async fn billing(app: &TestApp, detail_type: &str, detail: Value) {
    let r = app
        .request(
            "POST",
            "/_local/events",
            None,
            Some(
                json!({"source": "billing", "detailType": detail_type, "detail": detail})
                    .to_string(),
            ),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The appointment as `who` sees it, once `done` holds (up to 20 s).
async fn once(
    app: &TestApp,
    who: &Actor,
    id: &str,
    done: impl Fn(&Appointment) -> bool,
) -> Appointment {
    for _ in 0..200 {
        let a = app.appointment(who, id).await.unwrap();
        if done(&a) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{:?}", app.appointment(who, id).await);
}

async fn billings_payment_and_refund_show_on_the_appointment_once(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let slot = app.slot(&provider, 30, 2).await;
    let paid = app.book(&patient, &slot).await.id();
    let other = app.book(&app.patient().await, &slot).await.id();
    for id in [&paid, &other] {
        app.set_appointment_attribute(id, "consultationFee", AttributeValue::N("80".into()))
            .await;
    }

    // An amount that is not the fee, and an appointment that does not exist: dropped, not retried.
    billing(
        &app,
        "payment.succeeded",
        json!({"appointmentId": other, "paymentId": "pay_wrong", "amount": 8.0}),
    )
    .await;
    billing(
        &app,
        "payment.succeeded",
        json!({"appointmentId": uuid::Uuid::new_v4(), "paymentId": "pay_x", "amount": 80}),
    )
    .await;

    billing(
        &app,
        "payment.succeeded",
        json!({"appointmentId": paid, "paymentId": "pay_1", "amount": 80}),
    )
    .await;
    let a = once(&app, &patient, &paid, |a| a.is_paid).await;
    assert_eq!(a.payment_id.as_deref(), Some("pay_1"));
    assert!(a.paid_at.is_some());
    // Delivered again: nothing changes.
    billing(
        &app,
        "payment.succeeded",
        json!({"appointmentId": paid, "paymentId": "pay_1", "amount": 80}),
    )
    .await;

    billing(
        &app,
        "payment.refunded",
        json!({"appointmentId": paid, "paymentId": "pay_1", "amount": 80}),
    )
    .await;
    let a = once(&app, &patient, &paid, |a| !a.is_paid).await;
    assert!(a.refunded_at.is_some());
    assert_eq!(a.payment_id.as_deref(), Some("pay_1"));

    tokio::time::sleep(Duration::from_millis(500)).await;
    let untouched = app.appointment(&provider, &other).await.unwrap();
    assert!(
        !untouched.is_paid && untouched.payment_id.is_none(),
        "{untouched:?}"
    );
    // Every answer was taken off the queue, the dropped ones too: none waits to be retried.
    let sqs = aws_sdk_sqs::Client::new(&app.inspector);
    let jobs = app
        .stack
        .stack
        .reference("JobsQueue", None)
        .unwrap()
        .clone();
    let mut pending = String::new();
    for _ in 0..50 {
        use aws_sdk_sqs::types::QueueAttributeName::{
            ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible,
        };
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&jobs)
            .attribute_names(ApproximateNumberOfMessages)
            .attribute_names(ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let count = |k| {
            attrs
                .attributes()
                .and_then(|a| a.get(&k))
                .cloned()
                .unwrap_or_default()
        };
        pending = format!(
            "{}+{}",
            count(ApproximateNumberOfMessages),
            count(ApproximateNumberOfMessagesNotVisible)
        );
        if pending == "0+0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, "0+0", "visible + in flight");
    // The payment shows as an update of the appointment's isPaid, never its amount or reasons.
    let events = app.events().await;
    let updates: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["detail-type"] == "appointment.updated"
                && e["detail"]["appointmentId"] == paid.as_str()
        })
        .collect();
    assert!(!updates.is_empty());
}

async fn a_late_cancellation_and_a_no_show_ask_for_their_fees_once(aws: Aws) {
    let app = TestApp::spawn_configured(
        aws,
        Clock::manual("2030-04-01T08:00:00Z".parse().unwrap()),
        &[("LateCancellationFee", "15"), ("NoShowFee", "25.5")],
    )
    .await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let late = app
        .booked_at(&provider, &patient, "2030-04-01T10:00:00Z", "in_person")
        .await;
    let missed = app
        .booked_at(&provider, &patient, "2030-04-01T11:00:00Z", "in_person")
        .await;
    let cancelled = app.cancel_with(&patient, &late, "overslept").await.unwrap();
    assert_eq!(cancelled.late_cancellation, Some(true));
    app.travel_to("2030-04-01T11:31:00Z");
    app.no_show(&provider, &missed).await.unwrap();

    let events = app
        .wait_for_kinds(
            &late,
            &[
                "appointment.created",
                "appointment.cancelled",
                "payment.cancellation_fee_requested",
            ],
        )
        .await;
    let fee = |kind: &str, id: &str| {
        events
            .iter()
            .find(|e| e["detail-type"] == kind && e["detail"]["appointmentId"] == id)
            .map(|e| e["detail"]["amount"].clone())
    };
    assert_eq!(
        fee("payment.cancellation_fee_requested", &late),
        Some(json!(15.0))
    );
    let events = app
        .wait_for_kinds(
            &missed,
            &[
                "appointment.created",
                "appointment.no_show",
                "payment.no_show_fee_requested",
            ],
        )
        .await;
    let no_show = events
        .iter()
        .find(|e| e["detail-type"] == "payment.no_show_fee_requested")
        .unwrap();
    assert_eq!(no_show["detail"]["amount"], 25.5);
    assert_eq!(no_show["detail"]["patientId"], json!(patient.id));
}
