//! The runner's side of the admin contract on sqlx: registering, cancellation requests and
//! schedule run-now requests (see the `QueueStore` methods of the same names). Parameters and
//! results come from [`backtick_pg_common::admin`].

use std::time::Duration;

use backtick_core::admin::{CancelRequest, RunnerInfo, ScheduleRunRequest};
use backtick_core::{JobId, NewJob, RunnerId, StoreError, Timestamp};
use backtick_pg_common::admin::{RegisterParams, cancel_request};
use backtick_pg_common::admin_sql as sql;
use backtick_pg_common::enqueue;
use sqlx::{PgPool, Row};

use crate::enqueue::EnqueueStatements;
use crate::error::store_error;

/// [`sql::REGISTER_RUNNER`].
pub(crate) async fn register(
    pool: &PgPool,
    runner: &RunnerInfo,
    ttl: Duration,
    now: Option<Timestamp>,
) -> Result<(), StoreError> {
    let p = RegisterParams::new(runner, ttl, now);
    sqlx::query(sql::REGISTER_RUNNER)
        .bind(p.id)
        .bind(p.host)
        .bind(p.pid)
        .bind(p.version)
        .bind(p.queues)
        .bind(p.workers)
        .bind(p.schedules)
        .bind(p.concurrency)
        .bind(p.started_at)
        .bind(p.ttl_us)
        .bind(p.now)
        .bind(p.retention_us)
        .execute(pool)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// [`sql::DEREGISTER_RUNNER`].
pub(crate) async fn deregister(pool: &PgPool, runner: &RunnerId) -> Result<(), StoreError> {
    sqlx::query(sql::DEREGISTER_RUNNER)
        .bind(runner.as_str())
        .execute(pool)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// [`sql::CANCEL_REQUESTS`].
pub(crate) async fn cancel_requests(pool: &PgPool, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(sql::CANCEL_REQUESTS)
        .bind(jobs.iter().map(|id| id.0).collect::<Vec<_>>())
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|r| {
            Ok(cancel_request(
                JobId(r.try_get("id").map_err(store_error)?),
                r.try_get("cancel_reason").map_err(store_error)?,
                r.try_get("cancel_requested_at").map_err(store_error)?,
            ))
        })
        .collect()
}

/// [`sql::SCHEDULE_RUN_REQUESTS`].
pub(crate) async fn schedule_run_requests(
    pool: &PgPool,
    workers: &[String],
) -> Result<Vec<ScheduleRunRequest>, StoreError> {
    let rows = sqlx::query(sql::SCHEDULE_RUN_REQUESTS)
        .bind(workers)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|r| {
            Ok(ScheduleRunRequest {
                name: r.try_get("name").map_err(store_error)?,
                requested_at: r.try_get("run_requested_at").map_err(store_error)?,
            })
        })
        .collect()
}

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
