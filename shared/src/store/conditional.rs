//! DynamoDB's answers, sorted: which failures are worth retrying, and a conditional write's refusal
//! read as an answer rather than an error. The loop itself is [`crate::retry`]'s.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use super::StoreError;
use crate::retry::{retrying, settled, Attempt, Retry, Spent};

impl Retry for StoreError {
    fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }

    /// `Contended`, whatever the last failure was: the API answers 503 `contended` with `Retry-After`.
    fn spent(spent: Spent, _last: Option<Self>) -> Self {
        spent.into()
    }
}

impl From<Spent> for StoreError {
    fn from(spent: Spent) -> Self {
        StoreError::Contended(spent.attempts)
    }
}

/// [`settled`] for a DynamoDB request (or anything whose error becomes a `StoreError`).
pub async fn patiently<T, R, F, Fut>(what: &'static str, mut request: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, R>>,
    StoreError: From<R>,
{
    settled(what, || {
        let answer = request();
        async move { answer.await.map_err(StoreError::from) }
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
    Fut: std::future::Future<Output = Result<O, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    retrying(what, || {
        let answer = request();
        async move {
            match answer.await {
                Err(e) if is_transient(&e) => Err(StoreError::Transient(
                    format!("{what}: {}", e.code().unwrap_or("no answer")).into(),
                )),
                answer => Ok(Attempt::Done(answer)),
            }
        }
    })
    .await
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
