//! The runner's side of the admin contract on diesel: registering, cancellation requests and
//! schedule run-now requests (see the `QueueStore` methods of the same names). Parameters and
//! results come from [`backtick_pg_common::admin`].

use std::time::Duration;

use backtick_core::admin::{CancelRequest, RunnerInfo, ScheduleRunRequest};
use backtick_core::{JobId, NewJob, RunnerId, StoreError, Timestamp};
use backtick_pg_common::admin::{RegisterParams, cancel_request};
use backtick_pg_common::admin_sql as sql;
use backtick_pg_common::enqueue;
use diesel::OptionalExtension;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::admin_rows::{CancelRequestRow, Named, RunRequestRow};
use crate::enqueue::EnqueueStatements;
use crate::error::store_error;
use crate::schedules::{begin, end};

/// [`sql::REGISTER_RUNNER`].
pub(crate) async fn register(
    conn: &mut AsyncPgConnection,
    runner: &RunnerInfo,
    ttl: Duration,
    now: Option<Timestamp>,
) -> Result<(), StoreError> {
    let p = RegisterParams::new(runner, ttl, now);
    diesel::sql_query(sql::REGISTER_RUNNER)
        .bind::<Text, _>(p.id)
        .bind::<Text, _>(p.host)
        .bind::<BigInt, _>(p.pid)
        .bind::<Text, _>(p.version)
        .bind::<Nullable<Array<Text>>, _>(p.queues)
        .bind::<Array<Text>, _>(p.workers)
        .bind::<Array<Text>, _>(p.schedules)
        .bind::<Integer, _>(p.concurrency)
        .bind::<Timestamptz, _>(p.started_at)
        .bind::<BigInt, _>(p.ttl_us)
        .bind::<Nullable<Timestamptz>, _>(p.now)
        .bind::<BigInt, _>(p.retention_us)
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// [`sql::DEREGISTER_RUNNER`].
pub(crate) async fn deregister(conn: &mut AsyncPgConnection, runner: &RunnerId) -> Result<(), StoreError> {
    diesel::sql_query(sql::DEREGISTER_RUNNER)
        .bind::<Text, _>(runner.as_str())
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// [`sql::CANCEL_REQUESTS`].
pub(crate) async fn cancel_requests(
    conn: &mut AsyncPgConnection,
    jobs: &[JobId],
) -> Result<Vec<CancelRequest>, StoreError> {
    let rows: Vec<CancelRequestRow> = diesel::sql_query(sql::CANCEL_REQUESTS)
        .bind::<Array<BigInt>, _>(jobs.iter().map(|id| id.0).collect::<Vec<_>>())
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows
        .into_iter()
        .map(|r| cancel_request(JobId(r.id), r.cancel_reason, r.cancel_requested_at))
        .collect())
}

/// [`sql::SCHEDULE_RUN_REQUESTS`].
pub(crate) async fn schedule_run_requests(
    conn: &mut AsyncPgConnection,
    workers: &[String],
) -> Result<Vec<ScheduleRunRequest>, StoreError> {
    let rows: Vec<RunRequestRow> = diesel::sql_query(sql::SCHEDULE_RUN_REQUESTS)
        .bind::<Array<Text>, _>(workers)
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows
        .into_iter()
        .map(|r| ScheduleRunRequest {
            name: r.name,
            requested_at: r.run_requested_at,
        })
        .collect())
}

/// [`sql::TAKE_SCHEDULE_RUN_REQUEST`] and, only when it won, the job's enqueue, in one
/// transaction.
pub(crate) async fn fire_schedule_request(
    conn: &mut AsyncPgConnection,
    request: &ScheduleRunRequest,
    job: &NewJob,
    now: Option<Timestamp>,
) -> Result<bool, StoreError> {
    begin(conn).await?;
    let outcome = take_and_enqueue(conn, request, job, now).await;
    end(conn, outcome, &request.name).await
}

async fn take_and_enqueue(
    conn: &mut AsyncPgConnection,
    request: &ScheduleRunRequest,
    job: &NewJob,
    now: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let taken: Option<Named> = diesel::sql_query(sql::TAKE_SCHEDULE_RUN_REQUEST)
        .bind::<Text, _>(&request.name)
        .bind::<Timestamptz, _>(request.requested_at)
        .bind::<Nullable<Timestamptz>, _>(now)
        .get_result(&mut *conn)
        .await
        .optional()
        .map_err(store_error)?;
    if taken.is_none() {
        return Ok(false); // served by another runner
    }
    enqueue(&mut EnqueueStatements(conn), vec![job.clone()], now).await?;
    Ok(true)
}
