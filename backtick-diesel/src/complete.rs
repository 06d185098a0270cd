//! Completing a job inside the worker's own diesel-async transaction.

use backtick_core::{CompletionError, JobContext, Timestamp, completed, completion_of, failed, failure_of};
use diesel_async::AsyncPgConnection;

use crate::fenced;
use crate::sql;

/// Complete the job of `ctx` on `conn`, inside the caller's transaction: the job's `done`
/// commits with the worker's other writes in that transaction, or not at all. The write is
/// fenced by the run's claim token, as the runner's own completion is: when the claim is no
/// longer live (the job was revived after its lease ran out, cancelled, or claimed again)
/// nothing is written and [`CompletionError::Stale`] says so; return it from the transaction's
/// closure so that diesel rolls the transaction back and its writes are not done twice. On
/// success the runner writes no completion of its own once the worker returns `Ok`.
///
/// # Errors
/// [`CompletionError::Stale`] as above; [`CompletionError::NoClaim`] outside a worker's run;
/// [`CompletionError::Store`] when the statement fails.
///
/// # Examples
/// ```no_run
/// use backtick_diesel::diesel_async::{AsyncConnection, RunQueryDsl};
/// use backtick_diesel::{DieselStore, JobContext, JobError, State, complete_in};
///
/// #[derive(Debug, thiserror::Error)]
/// enum CreditError {
///     #[error(transparent)]
///     Db(#[from] backtick_diesel::diesel::result::Error),
///     #[error(transparent)]
///     Completion(#[from] backtick_diesel::CompletionError),
/// }
///
/// #[backtick_diesel::worker]
/// async fn credit(store: State<DieselStore>, ctx: JobContext, account: i64, cents: i64) -> Result<(), JobError> {
///     let mut conn = store.pool().get().await?;
///     let ctx = &ctx;
///     conn.transaction::<_, CreditError, _>(async move |conn| {
///         backtick_diesel::diesel::sql_query("UPDATE accounts SET balance = balance + $2 WHERE id = $1")
///             .bind::<backtick_diesel::diesel::sql_types::BigInt, _>(account)
///             .bind::<backtick_diesel::diesel::sql_types::BigInt, _>(cents)
///             .execute(conn)
///             .await?;
///         complete_in(conn, ctx).await?; // stale: the error rolls the transaction back
///         Ok(())
///     })
///     .await?;
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub async fn complete_in(conn: &mut AsyncPgConnection, ctx: &JobContext) -> Result<(), CompletionError> {
    complete_in_at(conn, ctx, None).await
}

/// [`complete_in`] with the time to record as the job's `finished_at` (`None`: the server's
/// clock, as [`complete_in`] does): for tests that inject the time, as the model does.
///
/// # Errors
/// As [`complete_in`].
///
/// # Examples
/// ```no_run
/// # async fn run(conn: &mut backtick_diesel::diesel_async::AsyncPgConnection, ctx: &backtick_diesel::JobContext) -> Result<(), backtick_diesel::CompletionError> {
/// backtick_diesel::complete_in_at(conn, ctx, Some(chrono::Utc::now())).await?;
/// # Ok(())
/// # }
/// ```
pub async fn complete_in_at(
    conn: &mut AsyncPgConnection,
    ctx: &JobContext,
    now: Option<Timestamp>,
) -> Result<(), CompletionError> {
    let finish = completion_of(ctx)?;
    let report = fenced::apply_on(conn, sql::FINISH, std::slice::from_ref(&finish), now).await?;
    completed(ctx, &finish, &report)
}

/// Record the failure of the job of `ctx` on `conn`, inside the caller's transaction, with
/// `reason` as its error: the job's retry (after the runner's backoff, while attempts remain)
/// or its death commits with the worker's other writes in that transaction, or not at all.
/// The next state is the state machine's, the one the runner applies when a worker returns an
/// error. The write is fenced by the run's claim token: when the claim is no longer live
/// nothing is written and [`CompletionError::Stale`] says so; return it from the
/// transaction's closure so that diesel rolls the transaction back.
///
/// Once the transaction committed, return `Ok(())` from the worker: the runner then writes no
/// finish of its own.
///
/// # Errors
/// [`CompletionError::Stale`] as above; [`CompletionError::NoClaim`] outside a worker's run;
/// [`CompletionError::Store`] when the statement fails.
///
/// # Examples
/// ```no_run
/// use backtick_diesel::diesel_async::{AsyncConnection, RunQueryDsl};
/// use backtick_diesel::{DieselStore, JobContext, JobError, State, fail_in};
///
/// #[derive(Debug, thiserror::Error)]
/// enum ChargeError {
///     #[error(transparent)]
///     Db(#[from] backtick_diesel::diesel::result::Error),
///     #[error(transparent)]
///     Completion(#[from] backtick_diesel::CompletionError),
/// }
///
/// #[backtick_diesel::worker]
/// async fn charge(store: State<DieselStore>, ctx: JobContext, order: i64) -> Result<(), JobError> {
///     let mut conn = store.pool().get().await?;
///     let ctx = &ctx;
///     conn.transaction::<_, ChargeError, _>(async move |conn| {
///         backtick_diesel::diesel::sql_query("INSERT INTO charge_attempts (order_id, ok) VALUES ($1, false)")
///             .bind::<backtick_diesel::diesel::sql_types::BigInt, _>(order)
///             .execute(conn)
///             .await?;
///         fail_in(conn, ctx, "the card was declined").await?; // retried, with the row
///         Ok(())
///     })
///     .await?;
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub async fn fail_in(
    conn: &mut AsyncPgConnection,
    ctx: &JobContext,
    reason: impl Into<String>,
) -> Result<(), CompletionError> {
    fail_in_at(conn, ctx, reason, None).await
}

/// [`fail_in`] with the time the failure is recorded at, from which a retry's backoff counts
/// (`None`: the server's clock, as [`fail_in`] does): for tests that inject the time.
///
/// # Errors
/// As [`fail_in`].
///
/// # Examples
/// ```no_run
/// # async fn run(conn: &mut backtick_diesel::diesel_async::AsyncPgConnection, ctx: &backtick_diesel::JobContext) -> Result<(), backtick_diesel::CompletionError> {
/// backtick_diesel::fail_in_at(conn, ctx, "declined", Some(chrono::Utc::now())).await?;
/// # Ok(())
/// # }
/// ```
pub async fn fail_in_at(
    conn: &mut AsyncPgConnection,
    ctx: &JobContext,
    reason: impl Into<String>,
    now: Option<Timestamp>,
) -> Result<(), CompletionError> {
    let (outcome, finish) = failure_of(ctx, reason)?;
    let report = fenced::apply_on(conn, sql::FINISH, std::slice::from_ref(&finish), now).await?;
    failed(ctx, outcome, &finish, &report)
}
