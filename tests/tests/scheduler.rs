//! EventBridge Scheduler as AWS runs it: a one-time schedule fires anywhere in the minute of its
//! `at()` time, up to 59 s early or late (the emulator's `scheduler_early`). An offer's expiry that
//! fires early is sent again for the time left, so no offer lapses before its end; one that fires late
//! lapses it then. This test changes the emulator's faults while it runs, so it has its own binary.

use clinic_tests::{Aws, TestApp};
use shared::domain::waitlist::EntryStatus;
use shared::domain::Clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offer_expiry_fired_anywhere_in_its_minute_never_lapses_the_offer_early() {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn_configured(
        Aws::Faithful,
        Clock::System,
        &[
            ("OfferTtlSeconds", "5"),
            ("ReminderMinimumLeadSeconds", "1"),
        ],
    )
    .await;
    app.set_faults("scheduler_early=1").await;
    let provider = app.provider().await;
    let (offered, _) = app.a_held_offer(&provider, 30).await;
    let id = offered.id.to_string();
    let ends = offered.offer_expires_at.unwrap().timestamp();
    // When Scheduler will fire it: somewhere in the minute of its time (if it is gone already, it was
    // moved before now and has fired).
    let fires = app
        .schedule_fires_at(&format!("offer-{id}-1"))
        .await
        .unwrap_or_else(jiff::Timestamp::now);
    // Until it lapses (at most a minute late), it never lapses before its end.
    let mut lapsed = None;
    for _ in 0..800 {
        let e = app.entry_when(&id, |_| true).await;
        if e.status != EntryStatus::Offered || e.offer_count > 1 {
            lapsed = Some(e);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.set_faults("").await;
    let lapsed = lapsed.expect("the offer lapsed within its minute");
    assert!(
        lapsed.updated_at.timestamp() >= ends - jiff::SignedDuration::from_secs(1),
        "lapsed at {} for an end at {ends}",
        lapsed.updated_at
    );
    // Fired early, the expiry was sent again for the time left: the lapse comes at the end, not a
    // visibility timeout (60 s) after a failed delivery. Fired late, it lapses when it fires.
    let due = fires.max(ends);
    assert!(
        lapsed.updated_at.timestamp() <= due + jiff::SignedDuration::from_secs(4),
        "lapsed at {} for an end at {ends}, fired at {fires}",
        lapsed.updated_at
    );
    assert_eq!(
        app.queue_depth("JobsDeadLetterQueue").await,
        0,
        "nothing failed into the DLQ"
    );
}
