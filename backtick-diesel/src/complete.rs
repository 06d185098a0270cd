//! Completing a job inside the worker's own diesel-async transaction.

use backtick_core::{CompletionError, JobContext, completed, completion_of};
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
    let finish = completion_of(ctx)?;
    let report = fenced::apply_on(conn, sql::FINISH, std::slice::from_ref(&finish), None).await?;
    completed(ctx, &finish, &report)
}
