//! The `create-appointment-type` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::CREATE_APPOINTMENT_TYPE).await
}
