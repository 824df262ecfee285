//! The one retry helper for every contended or throttled request (DESIGN.md section 5).
//!
//! Real DynamoDB cancels a transaction with `TransactionConflict` while another transaction touches one
//! of its items, fails a plain write on such an item with `TransactionConflictException`, throttles hot
//! partitions (`ThrottlingException`, `ProvisionedThroughputExceededException`) and leaves keys of a
//! BatchGetItem unprocessed under load
//! (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html). Each of
//! these is retried here, after a pause drawn with full jitter from an exponentially growing range
//! (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), re-reading whatever the
//! attempt reads, until the time budget is spent; then the caller gets `StoreError::Contended`, which
//! the API answers with 503 `contended` and `Retry-After`.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use super::StoreError;

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// It met a concurrent write (a moved guard version, a status changed since it was read): read
    /// again and retry.
    Again,
}

/// How long retries may take in all. Every function's `Timeout` in template.yaml is at least 10 s, so
/// a request that gives up still answers well inside it.
pub const BUDGET: Duration = Duration::from_millis(3_000);
/// Retries made even past the budget: when every request is slow (a loaded store, not contention), the
/// budget alone would give up after one retry. Three retries stay inside every function's timeout.
pub const MIN_ATTEMPTS: u32 = 3;
/// The first pause's upper bound; it doubles with each attempt up to [`CAP`].
pub const BASE: Duration = Duration::from_millis(10);
pub const CAP: Duration = Duration::from_millis(400);

/// Errors that say "try again" rather than "no".
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for StoreError {
    fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

/// The pause before attempt `attempt + 1`: uniform in `[0, min(CAP, BASE * 2^attempt))`.
pub fn full_jitter(attempt: u32) -> Duration {
    let ceiling = BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(CAP)
        .as_micros() as u64;
    let draw = uuid::Uuid::new_v4().as_u128() as u64;
    Duration::from_micros(draw % ceiling.max(1))
}

/// The pauses between the attempts of one operation, within [`BUDGET`]. [`retrying`] uses it; a loop
/// whose attempts borrow its state mutably calls [`Backoff::pause`] itself.
pub struct Backoff {
    what: &'static str,
    started: Instant,
    attempts: u32,
}

impl Backoff {
    pub fn new(what: &'static str) -> Backoff {
        Backoff {
            what,
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// Waits before the next attempt, or says `Contended` when that would pass the budget (and at
    /// least [`MIN_ATTEMPTS`] were made).
    pub async fn pause(&mut self) -> Result<(), StoreError> {
        self.attempts += 1;
        let pause = full_jitter(self.attempts);
        if self.started.elapsed() + pause > BUDGET && self.attempts >= MIN_ATTEMPTS {
            tracing::warn!(
                what = self.what,
                attempts = self.attempts,
                "gave up within the retry budget"
            );
            return Err(StoreError::Contended(self.attempts));
        }
        tokio::time::sleep(pause).await;
        Ok(())
    }
}

/// Runs `attempt` until it is done, says no, or the budget is spent.
pub async fn retrying<T, E, F, Fut>(what: &'static str, mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
    E: Transient + From<StoreError> + std::fmt::Display,
{
    let mut backoff = Backoff::new(what);
    loop {
        match attempt().await {
            Ok(Attempt::Done(value)) => return Ok(value),
            Ok(Attempt::Again) => {
                tracing::debug!(what, "met a concurrent write; retrying")
            }
            Err(e) if e.is_transient() => {
                tracing::debug!(what, error = %e, "transient failure; retrying")
            }
            Err(e) => return Err(e),
        }
        backoff.pause().await?;
    }
}

/// [`retrying`] for a request that either answers or fails: transient failures are retried.
pub async fn patiently<T, E, F, Fut>(what: &'static str, mut request: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    StoreError: From<E>,
{
    retrying(what, || {
        let answer = request();
        async move { Ok::<_, StoreError>(Attempt::Done(answer.await?)) }
    })
    .await
}

/// Whether an SDK error is worth retrying (see [`StoreError::Transient`]).
pub fn is_transient<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::ServiceError(context) => context
            .err()
            .code()
            .is_some_and(|c| super::TRANSIENT_CODES.contains(&c)),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

/// Sends a conditional write until it gets an answer that is not transient, and hands that answer
/// back as the SDK gave it, so the caller can read a failed condition; `Contended` when the budget
/// is spent first.
pub async fn answered<O, E, R, F, Fut>(
    what: &'static str,
    mut request: F,
) -> Result<Result<O, SdkError<E, R>>, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<O, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    let mut backoff = Backoff::new(what);
    loop {
        match request().await {
            Err(e) if is_transient(&e) => {
                tracing::debug!(what, "transient failure; retrying");
                backoff.pause().await?;
            }
            answer => return Ok(answer),
        }
    }
}

/// A conditional write's answer (as [`answered`] gives it) when its refusal is an answer rather than
/// an error: `Ok(true)` when the write was made, `Ok(false)` when its condition failed. A plain function,
/// not a wrapper future: the worker's future must stay shallow enough for the compiler's layout limit.
pub fn made<O, E, R>(answer: Result<O, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match answer {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e))
            if e.err().code() == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_with_attempts_and_stay_under_the_cap() {
        for attempt in 0..40 {
            let bound = BASE.saturating_mul(1u32 << attempt.min(16)).min(CAP);
            for _ in 0..50 {
                assert!(full_jitter(attempt) < bound.max(Duration::from_micros(1)));
            }
        }
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_and_a_refusal_is_not() {
        let mut calls = 0;
        let out: Result<u32, StoreError> = retrying("test", || {
            calls += 1;
            let n = calls;
            async move {
                match n {
                    1 => Err(StoreError::Transient("throttled".into())),
                    2 => Ok(Attempt::Again),
                    _ => Ok(Attempt::Done(n)),
                }
            }
        })
        .await;
        assert_eq!(out.unwrap(), 3);

        let mut calls = 0;
        let out: Result<u32, StoreError> = retrying("test", || {
            calls += 1;
            async { Err(StoreError::Corrupt("no".into())) }
        })
        .await;
        assert!(matches!(out, Err(StoreError::Corrupt(_))));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn endless_contention_ends_as_contended_within_the_budget() {
        let started = tokio::time::Instant::now();
        let out: Result<(), StoreError> = retrying("test", || async { Ok(Attempt::Again) }).await;
        assert!(matches!(out, Err(StoreError::Contended(n)) if n > 5));
        assert!(started.elapsed() <= BUDGET);
    }
}
