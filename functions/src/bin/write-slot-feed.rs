//! The `write-slot-feed` Lambda function: writes the SMART Scheduling Links feed to its bucket.

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::write_slot_feed().await
}
