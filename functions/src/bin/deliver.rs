//! The `deliver` Lambda function: posts the bus's events to webhook endpoints.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::deliver().await
}
