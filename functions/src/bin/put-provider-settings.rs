//! The `put-provider-settings` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::PUT_PROVIDER_SETTINGS).await
}
