//! Billing's answers: `payment.succeeded` and `payment.refunded` on the bus reach the worker through a
//! rule and the jobs queue, and show on the appointment once; answers that cannot apply are dropped.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use clinic_tests::{both_ways, Actor, Aws, Done, TestApp};
use serde_json::{json, Value};
use shared::domain::Appointment;
use shared::domain::Clock;

both_ways!(
    billings_payment_and_refund_show_on_the_appointment_once,
    a_late_cancellation_and_a_no_show_ask_for_their_fees_once,
    a_payment_that_arrives_after_the_cancellation_is_refunded_once,
    a_refund_that_arrives_before_its_payment_ends_as_in_order,
);

/// The events of one kind about `appointment` on the bus so far (each once, by event id).
async fn count_of(app: &TestApp, kind: &str, appointment: &str) -> usize {
    app.events()
        .await
        .iter()
        .filter(|e| e["detail-type"] == kind && e["detail"]["appointmentId"] == appointment)
        .count()
}

/// Billing's answers come unordered: a patient cancels, then their payment arrives. It is recorded and
/// given back, with exactly one refund request, however often the answer is delivered.
async fn a_payment_that_arrives_after_the_cancellation_is_refunded_once(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let slot = app.slot(&provider, 30, 1).await;
    let id = app.book(&patient, &slot).await.done().id.to_string();
    app.set_appointment_attribute(&id, "consultationFee", AttributeValue::N("80".into()))
        .await;
    app.cancel(&patient, &id, "changed my mind").await.done();
    app.wait_for_events(|e| {
        e.iter().any(|e| {
            e["detail-type"] == "appointment.cancelled"
                && e["detail"]["appointmentId"] == id.as_str()
        })
    })
    .await;
    assert_eq!(
        count_of(&app, "payment.refund_requested", &id).await,
        0,
        "nothing was paid yet"
    );

    let paid = json!({"appointmentId": id, "paymentId": "pay_late", "amount": 80});
    billing(&app, "payment.succeeded", paid.clone()).await;
    once(&app, &patient, &id, |a| a.is_paid).await;
    let events = app
        .wait_for_events(|e| {
            e.iter().any(|e| {
                e["detail-type"] == "payment.refund_requested"
                    && e["detail"]["appointmentId"] == id.as_str()
            })
        })
        .await;
    let refund = events
        .iter()
        .find(|e| e["detail-type"] == "payment.refund_requested")
        .unwrap();
    assert_eq!(
        (
            refund["detail"]["paymentId"].as_str(),
            refund["detail"]["amount"].as_f64()
        ),
        (Some("pay_late"), Some(80.0))
    );
    // Delivered again: recorded once, so asked back once.
    billing(&app, "payment.succeeded", paid).await;
    let marker = app.slot(&provider, 40, 1).await;
    let marked = app
        .book(&app.patient().await, &marker)
        .await
        .done()
        .id
        .to_string();
    app.wait_for_kinds(&marked, &["appointment.created"]).await;
    assert_eq!(count_of(&app, "payment.refund_requested", &id).await, 1);
}

/// A refund delivered before its payment is kept, and the payment that follows completes the record:
/// the appointment ends as it does when the two come in order.
async fn a_refund_that_arrives_before_its_payment_ends_as_in_order(aws: Aws) {
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let (provider, patient) = (app.provider().await, app.patient().await);
    let slot = app.slot(&provider, 30, 2).await;
    let in_order = app.book(&patient, &slot).await.done().id.to_string();
    let reversed = app
        .book(&app.patient().await, &slot)
        .await
        .done()
        .id
        .to_string();
    for id in [&in_order, &reversed] {
        app.set_appointment_attribute(id, "consultationFee", AttributeValue::N("80".into()))
            .await;
    }
    let answer = |id: &str, pay: &str| json!({"appointmentId": id, "paymentId": pay, "amount": 80});

    billing(&app, "payment.succeeded", answer(&in_order, "pay_a")).await;
    once(&app, &patient, &in_order, |a| a.is_paid).await;
    billing(&app, "payment.refunded", answer(&in_order, "pay_a")).await;
    let a = once(&app, &provider, &in_order, |a| a.refunded_at.is_some()).await;

    billing(&app, "payment.refunded", answer(&reversed, "pay_b")).await;
    let early = once(&app, &provider, &reversed, |a| a.refunded_at.is_some()).await;
    assert!(
        !early.is_paid && early.paid_at.is_none(),
        "kept, not dropped: {early:?}"
    );
    billing(&app, "payment.succeeded", answer(&reversed, "pay_b")).await;
    let b = once(&app, &provider, &reversed, |a| a.paid_at.is_some()).await;

    let state = |a: &Appointment| (a.is_paid, a.paid_at.is_some(), a.refunded_at.is_some());
    assert_eq!(state(&a), (false, true, true));
    assert_eq!(state(&b), state(&a), "the same end, whatever the order");
    assert_eq!(b.payment_id.as_deref(), Some("pay_b"));
}

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
    let paid = app.book(&patient, &slot).await.done().id.to_string();
    let other = app
        .book(&app.patient().await, &slot)
        .await
        .done()
        .id
        .to_string();
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
    let cancelled = app.cancel(&patient, &late, "overslept").await.unwrap();
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

    // Billing pays each fee: each is recorded once, with its own amount, beside the consultation's.
    let pays = |id: &str, pay: &str, amount: f64, what: &str| json!({"appointmentId": id, "paymentId": pay, "amount": amount, "for": what});
    // Not owed (the no-show was not cancelled late), or not the fee's amount: dropped.
    billing(
        &app,
        "payment.succeeded",
        pays(&missed, "pay_x", 15.0, "late_cancellation"),
    )
    .await;
    billing(
        &app,
        "payment.succeeded",
        pays(&late, "pay_y", 99.0, "late_cancellation"),
    )
    .await;
    for _ in 0..2 {
        billing(
            &app,
            "payment.succeeded",
            pays(&late, "pay_late", 15.0, "late_cancellation"),
        )
        .await;
        billing(
            &app,
            "payment.succeeded",
            pays(&missed, "pay_missed", 25.5, "no_show"),
        )
        .await;
    }
    let a = once(&app, &patient, &late, |a| {
        a.late_cancellation_fee_payment.is_some()
    })
    .await;
    let b = once(&app, &patient, &missed, |a| a.no_show_fee_payment.is_some()).await;
    let paid = |p: &Option<shared::domain::appointment::FeePayment>| {
        p.as_ref().map(|p| (p.payment_id.clone(), p.amount))
    };
    assert_eq!(
        paid(&a.late_cancellation_fee_payment),
        Some(("pay_late".into(), 15.0))
    );
    assert_eq!(
        paid(&b.no_show_fee_payment),
        Some(("pay_missed".into(), 25.5))
    );
    assert!(a.no_show_fee_payment.is_none() && b.late_cancellation_fee_payment.is_none());
    assert!(
        !a.is_paid && !b.is_paid,
        "the consultation's own payment is another matter"
    );
}
