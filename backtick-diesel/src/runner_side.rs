//! Serving a schedule's run-now request on diesel
//! (`QueueStore::fire_schedule_request`): the compare-and-set and the job's enqueue in one
//! transaction. The other runner-side methods bind their one statement in `store.rs`.

use backtick_core::admin::ScheduleRunRequest;
use backtick_core::{NewJob, StoreError, Timestamp};
use backtick_pg_common::admin_sql as sql;
use backtick_pg_common::enqueue;
use diesel::OptionalExtension;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::admin_rows::Named;
use crate::enqueue::EnqueueStatements;
use crate::error::store_error;
use crate::schedules::{begin, end};

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
