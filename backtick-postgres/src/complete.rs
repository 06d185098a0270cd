//! Completing a job inside the worker's own sqlx transaction.

use backtick_core::{CompletionError, JobContext, completed, completion_of};
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
    let finish = completion_of(ctx)?;
    let report = fenced::apply(conn, sql::FINISH, std::slice::from_ref(&finish), None).await?;
    completed(ctx, &finish, &report)
}
