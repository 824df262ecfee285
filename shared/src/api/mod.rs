//! HTTP endpoints: one `pub async fn` per route, each `(&Ctx, Request) -> Reply`. Parse, authorize, call
//! the store, shape the response. Every failure is an [`ApiError`], turned into problem+json in exactly
//! one place ([`ApiError::into_response`]).

pub mod appointments;
mod error;
mod request;
pub mod slots;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use lambda_http::{Body, Response};

pub use error::{ApiError, FieldError};
pub use request::{caller, json, json_body, path_id, Checks, Query};

use crate::config::{Config, ConfigError};
use crate::domain::UtcTime;
use crate::store::Store;

pub type Request = lambda_http::Request;
pub type Reply = Result<Response<Body>, ApiError>;
pub type Endpoint =
    for<'a> fn(&'a Ctx, Request) -> Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// "Now", injected so that time rules are testable. `System` reads the real clock on every call.
#[derive(Clone, Copy, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(UtcTime),
}

impl Clock {
    pub fn now(&self) -> UtcTime {
        match self {
            Clock::System => UtcTime::from_timestamp(jiff::Timestamp::now()),
            Clock::Fixed(t) => *t,
        }
    }
}

/// What an endpoint needs, built once per cold start and shared by every request.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub store: Store,
    pub config: Config,
    pub clock: Clock,
}

impl Ctx {
    pub fn new(db: aws_sdk_dynamodb::Client, config: Config) -> Result<Ctx, ConfigError> {
        let table = Config::require(&config.table_name, "TABLE_NAME")?;
        Ok(Ctx {
            store: Store::new(db, table),
            config,
            clock: Clock::System,
        })
    }

    pub fn now(&self) -> UtcTime {
        self.clock.now()
    }
}

macro_rules! endpoints {
    ($($constant:ident $function:literal => $handler:path),* $(,)?) => {
        $(
            #[doc = concat!("The `", $function, "` function of template.yaml. A main names only its own endpoint, so its binary links only that handler.")]
            pub const $constant: (&str, Endpoint) = ($function, |ctx, req| Box::pin($handler(ctx, req)));
        )*
        /// Every HTTP function of template.yaml, by its name there (the local stack routes through this).
        pub const ENDPOINTS: &[(&str, Endpoint)] = &[$($constant),*];
    };
}

endpoints! {
    CREATE_SLOT "create-slot" => slots::create,
    AVAILABLE_SLOTS "available-slots" => slots::available,
    CREATE_APPOINTMENT "create-appointment" => appointments::book,
    GET_APPOINTMENT "get-appointment" => appointments::get,
    CANCEL_APPOINTMENT "cancel-appointment" => appointments::cancel,
}

pub fn endpoint(function: &str) -> Option<Endpoint> {
    ENDPOINTS
        .iter()
        .find(|(name, _)| *name == function)
        .map(|(_, e)| *e)
}

/// Runs one request through `endpoint` and logs its outcome: ids, status and duration, never a body.
pub async fn serve(endpoint: Endpoint, ctx: &Ctx, req: Request) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = match endpoint(ctx, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    tracing::info!(%method, %path, status = response.status().as_u16(), millis = started.elapsed().as_millis() as u64, "request");
    response
}
