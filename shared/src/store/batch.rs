//! Unconditional writes of many items at once, for the read models `publish` keeps (the directory, the
//! search index): BatchWriteItem of at most 25, what comes back unprocessed sent again.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::{Item, Store, StoreError};

/// BatchWriteItem takes at most 25 requests
/// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
pub const BATCH_WRITE_MAX: usize = 25;

/// The request of a batch that puts `item`.
pub fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    Ok(WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(item)).build()?)
        .build())
}

impl Store {
    /// Sends `writes` in batches of 25. A batch's unprocessed requests (throttling answers them
    /// inside a 200) are sent again after a pause that doubles, eight times at most: "If DynamoDB
    /// returns any unprocessed items, you should retry the batch operation on those items ... we
    /// strongly recommend that you use an exponential backoff algorithm" (the page above). Then a
    /// transient failure: the stream record is retried, and these writes are idempotent.
    pub async fn write_batches(
        &self,
        what: &'static str,
        writes: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        for chunk in writes.chunks(BATCH_WRITE_MAX) {
            let mut pending = chunk.to_vec();
            let mut pause = std::time::Duration::from_millis(25);
            for attempt in 0.. {
                let out = super::conditional::patiently(what, || {
                    self.db
                        .batch_write_item()
                        .request_items(&self.table, pending.clone())
                        .send()
                })
                .await?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(StoreError::Transient(
                        format!("{what}: left unprocessed").into(),
                    ));
                }
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Ok(())
    }
}
