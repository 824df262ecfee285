//! The appointment service as a library: everything that is not a `main`.
//!
//! `domain` holds the clinic's rules with no I/O; `store` is the only code that knows the table's keys
//! and item shapes; `api` turns HTTP requests into store calls; `stream` turns table changes into events,
//! jobs and schedules; `jobs` runs what the queue delivers; `delivery`
//! posts events to webhook endpoints; `lambda` wires a handler into the runtime.

pub mod api;
pub mod audit;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod feed;
pub mod jobs;
pub mod lambda;
pub mod metrics;
pub mod retry;
pub mod store;
pub mod stream;
