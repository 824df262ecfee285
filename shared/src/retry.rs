//! The one retry loop of the service (DESIGN.md section 5): every contended or throttled request to
//! DynamoDB, SQS, EventBridge or Scheduler goes through [`retrying`] (or [`retrying_with`], for an
//! operation whose attempts carry what they learned to the next).
//!
//! Real DynamoDB cancels a transaction with `TransactionConflict` while another transaction touches one
//! of its items, fails a plain write on such an item with `TransactionConflictException`, throttles hot
//! partitions (`ThrottlingException`, `ProvisionedThroughputExceededException`) and leaves keys of a
//! BatchGetItem unprocessed under load
//! (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html); SQS,
//! EventBridge and Scheduler throttle and fail with 5xx too
//! (https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html). Each of these is
//! retried here, after a pause drawn with full jitter from an exponentially growing range
//! (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), re-reading whatever the
//! attempt reads, until the time budget is spent; then the error type says what that means
//! ([`Retry::spent`]): the store's `Contended` (503 `contended` with `Retry-After`), publish's last
//! transient failure (the batch stops there and Lambda retries it).

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// It met a concurrent write (a moved guard version, a status changed since it was read): pause,
    /// read again and retry.
    Again,
    /// It made progress and there is more to do (the next seat to offer): go on at once, within the
    /// same budget.
    Onward,
}

impl<T> Attempt<T> {
    /// The same outcome with the value done turned by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(t) => Attempt::Done(f(t)),
            Attempt::Again => Attempt::Again,
            Attempt::Onward => Attempt::Onward,
        }
    }
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

/// The budget was spent: what, after how many attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spent {
    pub what: &'static str,
    pub attempts: u32,
}

/// An error a retried operation can end with.
pub trait Retry: Sized {
    /// Whether it says "try again" rather than "no".
    fn is_transient(&self) -> bool;

    /// What the operation answers when the budget is spent; `last` is the last transient failure, if
    /// the last attempt failed rather than met a concurrent write.
    fn spent(spent: Spent, last: Option<Self>) -> Self;
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

/// The pauses between the attempts of one operation, within [`BUDGET`].
struct Backoff {
    what: &'static str,
    started: Instant,
    attempts: u32,
}

impl Backoff {
    fn new(what: &'static str) -> Backoff {
        Backoff {
            what,
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// Waits before the next attempt, or says the budget is spent when that would pass it (and at
    /// least [`MIN_ATTEMPTS`] were made).
    async fn pause(&mut self) -> Result<(), Spent> {
        self.attempts += 1;
        let pause = full_jitter(self.attempts);
        if self.started.elapsed() + pause > BUDGET && self.attempts >= MIN_ATTEMPTS {
            tracing::warn!(
                what = self.what,
                attempts = self.attempts,
                "gave up within the retry budget"
            );
            return Err(Spent {
                what: self.what,
                attempts: self.attempts,
            });
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
    E: Retry + std::fmt::Display,
{
    retrying_with(what, (), |()| {
        let attempt = attempt();
        async move { ((), attempt.await) }
    })
    .await
}

/// [`retrying`] for an operation whose attempts carry state to the next (the keys a batch read left
/// unprocessed, the guards read again, the queue of entries still to offer): each attempt takes the
/// state and hands it back with its outcome.
pub async fn retrying_with<S, T, E, F, Fut>(
    what: &'static str,
    mut state: S,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut(S) -> Fut,
    Fut: Future<Output = (S, Result<Attempt<T>, E>)>,
    E: Retry + std::fmt::Display,
{
    let mut backoff = Backoff::new(what);
    loop {
        // Boxed: an attempt's future (reads, a transaction, their SDK futures) is large, and the
        // operations that retry are nested inside handlers and the worker; on the heap it does not add
        // to every caller's stack.
        let (next, outcome) = Box::pin(attempt(state)).await;
        state = next;
        let last = match outcome {
            Ok(Attempt::Done(value)) => return Ok(value),
            Ok(Attempt::Onward) => continue,
            Ok(Attempt::Again) => {
                tracing::debug!(what, "met a concurrent write; retrying");
                crate::metrics::count("ConflictRetries", 1);
                None
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(what, error = %e, "transient failure; retrying");
                crate::metrics::count("TransientRetries", 1);
                Some(e)
            }
            Err(e) => return Err(e),
        };
        if let Err(spent) = backoff.pause().await {
            return Err(E::spent(spent, last));
        }
    }
}

/// [`retrying`] for a request that either answers or fails (nothing to read again): transient
/// failures are retried.
pub async fn settled<T, E, F, Fut>(what: &'static str, mut request: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Retry + std::fmt::Display,
{
    retrying(what, || {
        let answer = request();
        async move { answer.await.map(Attempt::Done) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

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
