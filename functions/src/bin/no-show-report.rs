//! The `no-show-report` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::NO_SHOW_REPORT).await
}
