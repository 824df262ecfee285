//! The `publish` Lambda function: the table's stream to EventBridge and the jobs queue.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::publish().await
}
