//! The `check-in-appointment` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::CHECK_IN_APPOINTMENT).await
}
