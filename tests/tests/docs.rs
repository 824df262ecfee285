//! The API reference a person reads: `/_local/docs`, the OpenAPI document rendered by the pinned Redoc,
//! opened in a real browser (headless Chromium). Every operation of the document must be on the page.
//! Ignored by `make test` (it needs Chromium); `make docs-check` runs it, and `.ci/run` installs
//! Debian's `chromium` first when it is missing.

use clinic_tests::TestApp;
use serde_json::Value;

#[tokio::test]
#[ignore = "needs chromium: make docs-check"]
async fn the_api_reference_renders_every_operation() {
    let app = TestApp::spawn().await;
    let page = app.request("GET", "/_local/docs", None, None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let renderer = app
        .request("GET", "/_local/docs/redoc.standalone.js", None, None, &[])
        .await;
    assert_eq!(renderer.status, 200, "run make tools: {}", renderer.body);

    let url = format!("{}/_local/docs", app.url);
    let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                // Time runs only while the page has work: it waits for the document and the render.
                "--virtual-time-budget=60000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--dump-dom", &url])
            .output()
    })
    .await
    .unwrap()
    .expect("chromium runs (apt-get install chromium; .ci/run does)");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("Clinic appointments"),
        "the page did not render: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let doc: Value = serde_json::from_str(&shared::api::openapi::json()).unwrap();
    let mut missing = vec![];
    let mut operations = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            operations += 1;
            let id = op["operationId"].as_str().unwrap();
            // Redoc gives each operation the anchor `tag/<tag>/operation/<operationId>`.
            if !dom.contains(&format!("/operation/{id}\"")) {
                missing.push(id.to_owned());
            }
        }
    }
    assert!(operations > 40, "{operations} operations in the document");
    assert!(missing.is_empty(), "not rendered: {missing:?}");
}
