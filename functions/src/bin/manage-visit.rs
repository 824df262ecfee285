//! The `manage-visit` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::MANAGE_VISIT).await
}
