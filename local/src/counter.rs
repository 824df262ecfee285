//! Counts the DynamoDB requests a client sends on the wire, by operation: for the tests' request budgets
//! and `make bench-contention`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<Mutex<HashMap<String, u32>>>);

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_else(|| "?".into());
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(op).or_default() += 1;
        Ok(())
    }
}

impl RequestCounter {
    /// The counts since the last call, and a fresh start.
    pub fn take(&self) -> HashMap<String, u32> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
