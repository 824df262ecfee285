//! `make bench-cost` from a clean clone: every operation the issue names is measured on its own stack
//! and emulator, and what it used is what the service does (the reminders a booking schedules, the
//! events each operation publishes, a reminder's trip through Scheduler and the queue, reads that
//! write nothing); the report prices them and its totals add up.

use local::cost::{deploy, life, reference_stack, report, run, Usage};

fn of<'a>(ops: &'a [(&'static str, Usage)], name: &str) -> &'a Usage {
    &ops.iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no {name} in {ops:?}"))
        .1
}

#[tokio::test]
async fn every_operation_is_measured_and_priced() {
    let (_emulator, _stack, bench) = deploy().await.expect("the stack deploys");
    let ops = run(&bench).await.expect("every operation runs");
    let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "book",
            "reschedule",
            "cancel",
            "series of 6",
            "waitlist: join",
            "waitlist: a cancel and its offer",
            "waitlist: accept",
            "a reminder",
            "check-in",
            "start",
            "complete",
            "a feed read",
            "an available-slots page",
        ]
    );
    for (name, u) in &ops {
        // Each HTTP request is a Lambda invocation, and half units are the finest DynamoDB bills.
        assert!(u.invocations >= u.api_requests, "{name}: {u:?}");
        assert!(u.gb_seconds > 0.0, "{name}: {u:?}");
        assert_eq!((u.read_units * 2.0).fract(), 0.0, "{name}: {u:?}");
        assert_eq!(u.write_units.fract(), 0.0, "{name}: {u:?}");
        assert!(u.log_bytes > 0.0, "{name}: {u:?}");
    }

    // A booking two days ahead: one request, publish's batch, three reminders scheduled, one event, and
    // deliver's invocation for that event (webhooks; it finds no endpoint here).
    let book = of(&ops, "book");
    assert_eq!(
        (
            book.api_requests,
            book.invocations,
            book.events,
            book.schedules_created
        ),
        (1.0, 3.0, 1.0, 3.0),
        "{book:?}"
    );
    // A transaction of several items, each written twice (prepare and commit).
    assert!(book.write_units >= 6.0, "{book:?}");
    // Rescheduling moves the three reminders; cancelling deletes them.
    let moved = of(&ops, "reschedule");
    assert_eq!(
        (moved.schedules_created, moved.schedules_deleted),
        (3.0, 3.0)
    );
    assert_eq!(of(&ops, "cancel").schedules_deleted, 3.0);
    // Six visits: six events, eighteen reminders, in one request.
    let series = of(&ops, "series of 6");
    assert_eq!(
        (series.api_requests, series.events, series.schedules_created),
        (1.0, 6.0, 18.0)
    );
    assert!(series.write_units > book.write_units * 3.0, "{series:?}");
    // A reminder: Scheduler fires once into the jobs queue (a send, the mapping's receive and its
    // delete), the worker records it, publish puts one event, which the webhook rule puts on the
    // deliveries queue (deliver's mapping receives and deletes it); nobody called the API.
    let reminder = of(&ops, "a reminder");
    assert_eq!(
        (
            reminder.api_requests,
            reminder.schedules_fired,
            reminder.sqs_requests,
            reminder.events
        ),
        (0.0, 1.0, 5.0, 1.0),
        "{reminder:?}"
    );
    // A cancel: the request, publish's batch, the freed seat's job (nobody waits), deliver's batch of
    // its event. With somebody waiting, the job offers the seat, whose record publish sends and whose
    // expiry it schedules; the accept books it, cancels the expiry and schedules the reminders.
    let cancel = of(&ops, "cancel");
    assert_eq!(
        (cancel.invocations, cancel.events),
        (4.0, 1.0),
        "{cancel:?}"
    );
    let offered = of(&ops, "waitlist: a cancel and its offer");
    assert_eq!(
        (offered.events, offered.schedules_created),
        (2.0, 1.0),
        "{offered:?}"
    );
    // Deliver gets the two events in one batch or in two, as the queue hands them over.
    assert!((5.0..=6.0).contains(&offered.invocations), "{offered:?}");
    let accepted = of(&ops, "waitlist: accept");
    assert_eq!(
        (accepted.schedules_created, accepted.schedules_deleted),
        (3.0, 1.0),
        "{accepted:?}"
    );
    // Reads write nothing and set nothing off.
    for read in ["a feed read", "an available-slots page"] {
        let u = of(&ops, read);
        assert_eq!(
            (u.write_units, u.invocations, u.events, u.sqs_requests),
            (0.0, 1.0, 0.0, 0.0),
            "{read}: {u:?}"
        );
        assert!(u.read_units > 0.0, "{read}: {u:?}");
    }

    // A booking's life is the sum of its steps; the report prices a million of them and the
    // reference stack, and each total is its lines' sum.
    let one = life(&ops, 1.0).unwrap();
    assert_eq!(
        one.events,
        book.events
            + 2.0 * reminder.events
            + of(&ops, "check-in").events
            + of(&ops, "start").events
            + of(&ops, "complete").events
    );
    let million = life(&ops, 1e6).unwrap();
    assert!((million.write_units - one.write_units * 1e6).abs() < 1e-3);
    // Every line names its function; the series it creates are counted.
    let series = local::cost::series(&bench.stack.metrics.all());
    assert!(series > ops.len(), "{series}");
    let text = report(&ops, series).unwrap();
    assert!(
        text.contains(&format!("the {series} metric series")),
        "{text}"
    );
    let totals: Vec<f64> = text
        .lines()
        .filter(|l| l.contains("**total**"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells[cells.len() - 2].trim_matches('*').parse().unwrap()
        })
        .collect();
    let reference: f64 = reference_stack().iter().map(|(_, _, d)| d).sum();
    assert_eq!(totals.len(), 2, "{text}");
    assert!((totals[1] - reference).abs() < 0.01, "{text}");
    let priced: f64 = million.dollars().values().sum::<f64>()
        + local::cost::traced(million.invocations) * local::cost::price::XRAY_TRACE;
    assert!((totals[0] - priced).abs() < 0.01, "{text}");
}
