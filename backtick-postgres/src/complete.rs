//! Completing a job inside the worker's own sqlx transaction.

use backtick_core::{CompletionError, JobContext, Timestamp, completed, completion_of, failed, failure_of};
use sqlx::PgConnection;

use crate::fenced;
use crate::sql;

/// Complete the job of `ctx` inside the caller's transaction `conn`: the job's `done` commits
/// with the worker's other writes in that transaction, or not at all. The write is fenced by the
/// run's claim token, as the runner's own completion is: when the claim is no longer live (the
/// job was revived after its lease ran out, cancelled, or claimed again) nothing is written and
/// [`CompletionError::Stale`] says so; return it from the worker (`?`) so that the transaction
/// is dropped, rolled back, and its writes are not done twice. On success the runner writes no
/// completion of its own once the worker returns `Ok`.
///
/// Commit the transaction before the worker returns. A worker that returns an error after
/// this call (a failed commit, say) has its failure recorded as usual (a retry, or dead);
/// if the transaction did commit, that write is stale and changes nothing.
///
/// # Errors
/// [`CompletionError::Stale`] as above; [`CompletionError::NoClaim`] outside a worker's run;
/// [`CompletionError::Store`] when the statement fails (the transaction is then aborted).
///
/// # Examples
/// ```no_run
/// use backtick_postgres::{JobContext, JobError, PgStore, State, complete_in};
///
/// #[backtick_postgres::worker]
/// async fn credit(store: State<PgStore>, ctx: JobContext, account: i64, cents: i64) -> Result<(), JobError> {
///     let mut tx = store.pool().begin().await?;
///     sqlx::query("UPDATE accounts SET balance = balance + $2 WHERE id = $1")
///         .bind(account)
///         .bind(cents)
///         .execute(&mut *tx)
///         .await?;
///     complete_in(&mut tx, &ctx).await?; // stale: `?` drops (rolls back) the transaction
///     tx.commit().await?;
///     Ok(())
/// }
/// # use backtick_postgres::sqlx;
/// # fn main() {}
/// ```
pub async fn complete_in(conn: &mut PgConnection, ctx: &JobContext) -> Result<(), CompletionError> {
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
/// # async fn run(conn: &mut backtick_postgres::sqlx::PgConnection, ctx: &backtick_postgres::JobContext) -> Result<(), backtick_postgres::CompletionError> {
/// backtick_postgres::complete_in_at(conn, ctx, Some(chrono::Utc::now())).await?;
/// # Ok(())
/// # }
/// ```
pub async fn complete_in_at(
    conn: &mut PgConnection,
    ctx: &JobContext,
    now: Option<Timestamp>,
) -> Result<(), CompletionError> {
    let finish = completion_of(ctx)?;
    let report = fenced::apply(conn, sql::FINISH, std::slice::from_ref(&finish), now).await?;
    completed(ctx, &finish, &report)
}

/// Record the failure of the job of `ctx` inside the caller's transaction `conn`, with
/// `reason` as its error: the job's retry (after the runner's backoff, while attempts remain)
/// or its death commits with the worker's other writes in that transaction (a record of the
/// failed attempt, say), or not at all. The next state is the state machine's, the one the
/// runner applies when a worker returns an error. The write is fenced by the run's claim
/// token: when the claim is no longer live nothing is written and [`CompletionError::Stale`]
/// says so; return it from the worker (`?`) so that the transaction is rolled back.
///
/// Commit the transaction, then return `Ok(())` from the worker: the runner then writes no
/// finish of its own. A worker that returns an error instead has that error recorded as
/// usual; if the transaction did commit, that write is stale and changes nothing.
///
/// # Errors
/// [`CompletionError::Stale`] as above; [`CompletionError::NoClaim`] outside a worker's run;
/// [`CompletionError::Store`] when the statement fails (the transaction is then aborted).
///
/// # Examples
/// ```no_run
/// use backtick_postgres::{JobContext, JobError, PgStore, State, fail_in};
///
/// #[backtick_postgres::worker]
/// async fn charge(store: State<PgStore>, ctx: JobContext, order: i64) -> Result<(), JobError> {
///     let mut tx = store.pool().begin().await?;
///     sqlx::query("INSERT INTO charge_attempts (order_id, ok) VALUES ($1, false)")
///         .bind(order)
///         .execute(&mut *tx)
///         .await?;
///     // The retry and the attempt's row commit together.
///     fail_in(&mut tx, &ctx, "the card was declined").await?;
///     tx.commit().await?;
///     Ok(())
/// }
/// # use backtick_postgres::sqlx;
/// # fn main() {}
/// ```
pub async fn fail_in(
    conn: &mut PgConnection,
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
/// # async fn run(conn: &mut backtick_postgres::sqlx::PgConnection, ctx: &backtick_postgres::JobContext) -> Result<(), backtick_postgres::CompletionError> {
/// backtick_postgres::fail_in_at(conn, ctx, "declined", Some(chrono::Utc::now())).await?;
/// # Ok(())
/// # }
/// ```
pub async fn fail_in_at(
    conn: &mut PgConnection,
    ctx: &JobContext,
    reason: impl Into<String>,
    now: Option<Timestamp>,
) -> Result<(), CompletionError> {
    let (outcome, finish) = failure_of(ctx, reason)?;
    let report = fenced::apply(conn, sql::FINISH, std::slice::from_ref(&finish), now).await?;
    failed(ctx, outcome, &finish, &report)
}
