//! Reads right after writes while DynamoDB's global secondary indexes lag behind the table (the
//! emulator's `gsi_lag`): what a client just did must not be lost on an index that has not caught up.
//! These tests change the emulator's faults while it runs, so they hold `TestApp::faults_lock` and live
//! in their own binary.

use clinic_tests::{both_ways, ok, Aws, TestApp};
use shared::api::views::NewFeed;
use shared::domain::Clock;

both_ways!(a_feed_revoked_the_moment_it_is_made_is_revoked);

/// A calendar feed is revoked right after it was made (a user who pasted its URL in the wrong place):
/// the feed is found by its own key, not through its owner's index, so the revoke finds it at once.
async fn a_feed_revoked_the_moment_it_is_made_is_revoked(aws: Aws) {
    let _faults = TestApp::faults_lock().await;
    let app = TestApp::spawn_on(aws, Clock::System).await;
    let patient = app.patient().await;
    app.set_faults("gsi_lag=2").await;
    let made: NewFeed = app
        .send(&patient, "POST", "/calendar/feeds", None)
        .await
        .made()
        .expect("the feed is made");
    let revoked = app
        .send(
            &patient,
            "DELETE",
            &format!("/calendar/feeds/{}", made.feed.id),
            None,
        )
        .await;
    app.set_faults("").await;
    ok(&revoked, 200);
    let path = &made.url[made.url.find("/calendar/").unwrap()..];
    let gone = app.request("GET", path, None, None, &[]).await;
    assert_eq!(gone.status, 404, "its URL is gone");
}
