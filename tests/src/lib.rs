//! The test harness: one emulator per test binary, one whole local stack (its own table, queues and
//! bus) per test, served over real HTTP, and a `TestApp` with one helper per endpoint so that tests read
//! as stories. DynamoDB requests made by the HTTP handlers are counted by an SDK interceptor.
//!
//! - `harness.rs`: the emulator and the stack (spawning, clocks, faults, the stack's own functions);
//! - `api.rs`: requests and the typed helper of each endpoint (a new endpoint's helper goes there);
//! - `table.rs`: the table read and written directly; `queue.rs`: queues, the bus and schedules.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use local::emulator::{Emulator, Faults};
use local::{LocalStack, Options};
use serde_json::Value;
use shared::domain::Clock;
use uuid::Uuid;

pub use local::counter::RequestCounter;

pub mod api;
mod harness;
mod queue;
mod table;

pub use api::*;
pub use harness::*;

/// Writes the same scenario as two tests: against the faithful emulator and the faulty one.
#[macro_export]
macro_rules! both_ways {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn without_faults() {
                super::$scenario($crate::Aws::Faithful).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn with_faults() {
                super::$scenario($crate::Aws::Faulty).await
            }
        }
    )*};
}
