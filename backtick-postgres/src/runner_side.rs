//! Serving a schedule's run-now request on sqlx (`QueueStore::fire_schedule_request`): the
//! compare-and-set and the job's enqueue in one transaction. The other runner-side methods
//! bind their one statement in `store.rs`.

use backtick_core::admin::ScheduleRunRequest;
use backtick_core::{NewJob, StoreError, Timestamp};
use backtick_pg_common::admin_sql as sql;
use backtick_pg_common::enqueue;
use sqlx::PgPool;

use crate::enqueue::EnqueueStatements;
use crate::error::store_error;

/// [`sql::TAKE_SCHEDULE_RUN_REQUEST`] and, only when it won, the job's enqueue, in one
/// transaction.
pub(crate) async fn fire_schedule_request(
    pool: &PgPool,
    request: &ScheduleRunRequest,
    job: &NewJob,
    now: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let taken = sqlx::query(sql::TAKE_SCHEDULE_RUN_REQUEST)
        .bind(&request.name)
        .bind(request.requested_at)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
    if taken.is_none() {
        return Ok(false); // served by another runner; dropping `tx` rolls back
    }
    enqueue(&mut EnqueueStatements(&mut tx), vec![job.clone()], now).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(true)
}
