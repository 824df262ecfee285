//! The `rotate-webhook-secret` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::ROTATE_WEBHOOK_SECRET).await
}
