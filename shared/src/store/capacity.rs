//! What each DynamoDB request consumed, in the metrics of the unit of work that made it.
//!
//! With `RETURN_CONSUMED_CAPACITY=TOTAL` (template parameter `ReturnConsumedCapacity`) every request a
//! function sends asks DynamoDB for its consumed capacity, which costs nothing
//! (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html#DDB-PutItem-request-ReturnConsumedCapacity),
//! and the answer is counted into the unit's EMF line as `ReadUnits` and `WriteUnits`: the request
//! units an on-demand table bills (https://aws.amazon.com/dynamodb/pricing/on-demand/). `make
//! bench-cost` prices operations from them. One interceptor on the client does it, so no store method
//! passes the parameter or reads the answer itself. A failed request answers no capacity (a failed
//! conditional write still costs a write unit in DynamoDB: those are not counted).

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    delete_item::{DeleteItemInput, DeleteItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::{PutItemInput, PutItemOutput},
    query::{QueryInput, QueryOutput},
    transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
    update_item::{UpdateItemInput, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};

/// The interceptor: asks for `TOTAL` capacity and counts the answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Capacity;

/// `client`, asking for and counting consumed capacity if `measure` (the function's
/// `RETURN_CONSUMED_CAPACITY`).
pub fn measured(client: aws_sdk_dynamodb::Client, measure: bool) -> aws_sdk_dynamodb::Client {
    if !measure {
        return client;
    }
    aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().interceptor(Capacity).build())
}

fn units(c: Option<&ConsumedCapacity>) -> f64 {
    c.and_then(ConsumedCapacity::capacity_units).unwrap_or(0.0)
}

fn all(c: &[ConsumedCapacity]) -> f64 {
    c.iter().map(|c| units(Some(c))).sum()
}

impl Intercept for Capacity {
    fn name(&self) -> &'static str {
        "ConsumedCapacity"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let total = Some(ReturnConsumedCapacity::Total);
        macro_rules! ask {
            ($($input:ty),*) => {$(
                if let Some(i) = input.downcast_mut::<$input>() {
                    i.return_consumed_capacity = total;
                    return Ok(());
                }
            )*};
        }
        ask!(
            GetItemInput,
            QueryInput,
            BatchGetItemInput,
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            TransactWriteItemsInput
        );
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let read = if let Some(o) = output.downcast_ref::<GetItemOutput>() {
            units(o.consumed_capacity())
        } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
            units(o.consumed_capacity())
        } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
            all(o.consumed_capacity())
        } else {
            0.0
        };
        let write = if let Some(o) = output.downcast_ref::<PutItemOutput>() {
            units(o.consumed_capacity())
        } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
            units(o.consumed_capacity())
        } else if let Some(o) = output.downcast_ref::<DeleteItemOutput>() {
            units(o.consumed_capacity())
        } else if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
            all(o.consumed_capacity())
        } else {
            0.0
        };
        if read > 0.0 {
            crate::metrics::units("ReadUnits", read);
        }
        if write > 0.0 {
            crate::metrics::units("WriteUnits", write);
        }
        Ok(())
    }
}
