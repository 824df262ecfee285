//! The `list-webhooks` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::LIST_WEBHOOKS).await
}
