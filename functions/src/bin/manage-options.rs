//! The `manage-options` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::MANAGE_OPTIONS).await
}
