//! The `worker` Lambda function: runs jobs from the queue.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::worker().await
}
