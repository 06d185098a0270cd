//! Recurring and cron schedules: store them, find the due ones, and fire one exactly once per
//! fire time (compare-and-set of `next_run_at` and the job's insert in one transaction).

use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::{StoreError, Timestamp};
use backtick_pg_common::enqueue;
use diesel::sql_types::{Array, Bool, Nullable, Text, Timestamptz};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};

use crate::enqueue::EnqueueStatements;
use crate::error::store_error;
use crate::sql;

/// One `backtick_schedules` row.
#[derive(Debug, QueryableByName)]
struct ScheduleRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    worker: String,
    #[diesel(sql_type = Text)]
    spec: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    next_run_at: Option<Timestamp>,
}

/// Whether an advanced schedule's fire enqueues (see [`sql::ADVANCE_SCHEDULE`]).
#[derive(Debug, QueryableByName)]
struct Advanced {
    #[diesel(sql_type = Bool)]
    enqueue: bool,
}

impl From<ScheduleRow> for ScheduleRecord {
    fn from(row: ScheduleRow) -> Self {
        ScheduleRecord {
            name: row.name,
            worker: row.worker,
            spec: row.spec,
            next_run_at: row.next_run_at,
        }
    }
}

/// See [`backtick_core::QueueStore::upsert_schedules`]. One statement for the batch.
pub(crate) async fn upsert(
    conn: &mut AsyncPgConnection,
    schedules: &[ScheduleRecord],
    now: Option<Timestamp>,
) -> Result<Vec<ScheduleRecord>, StoreError> {
    let column = |f: fn(&ScheduleRecord) -> String| schedules.iter().map(f).collect::<Vec<_>>();
    let rows: Vec<ScheduleRow> = diesel::sql_query(sql::UPSERT_SCHEDULES)
        .bind::<Nullable<Timestamptz>, _>(now)
        .bind::<Array<Text>, _>(column(|s| s.name.clone()))
        .bind::<Array<Text>, _>(column(|s| s.worker.clone()))
        .bind::<Array<Text>, _>(column(|s| s.spec.clone()))
        .bind::<Array<Nullable<Timestamptz>>, _>(schedules.iter().map(|s| s.next_run_at).collect::<Vec<_>>())
        .load(conn)
        .await
        .map_err(store_error)?;
    let mut stored: Vec<ScheduleRecord> = rows.into_iter().map(ScheduleRecord::from).collect();
    // RETURNING does not promise input order.
    stored.sort_by_key(|record| schedules.iter().position(|s| s.name == record.name));
    Ok(stored)
}

/// See [`backtick_core::QueueStore::due_schedules`].
pub(crate) async fn due(
    conn: &mut AsyncPgConnection,
    workers: &[String],
    now: Option<Timestamp>,
) -> Result<Vec<ScheduleRecord>, StoreError> {
    let rows: Vec<ScheduleRow> = diesel::sql_query(sql::DUE_SCHEDULES)
        .bind::<Array<Text>, _>(workers)
        .bind::<Nullable<Timestamptz>, _>(now)
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(ScheduleRecord::from).collect())
}

/// See [`backtick_core::QueueStore::fire_schedule`]: in one transaction, the compare-and-set
/// of `next_run_at`, then (only if it moved) the job's insert.
pub(crate) async fn fire(
    conn: &mut AsyncPgConnection,
    fire: &ScheduleFire,
    now: Option<Timestamp>,
) -> Result<bool, StoreError> {
    begin(conn).await?;
    let outcome = advance_and_enqueue(conn, fire, now).await;
    end(conn, outcome, &fire.name).await
}

/// Begin the transaction of a schedule's fire or run-now request.
pub(crate) async fn begin(conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
    AnsiTransactionManager::begin_transaction(conn)
        .await
        .map_err(store_error)
}

/// End the transaction [`begin`] opened: commit when `outcome` is `Ok(true)` (this caller
/// won), else roll back; returns `outcome`.
pub(crate) async fn end(
    conn: &mut AsyncPgConnection,
    outcome: Result<bool, StoreError>,
    schedule: &str,
) -> Result<bool, StoreError> {
    if let Ok(true) = outcome {
        AnsiTransactionManager::commit_transaction(conn)
            .await
            .map_err(store_error)?;
        return Ok(true);
    }
    // Lost the race (nothing written) or failed: either way nothing of this fire stays.
    if let Err(error) = AnsiTransactionManager::rollback_transaction(conn).await {
        tracing::debug!(%error, %schedule, "rolling back a schedule fire failed");
    }
    outcome
}

async fn advance_and_enqueue(
    conn: &mut AsyncPgConnection,
    fire: &ScheduleFire,
    now: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let advanced: Option<Advanced> = diesel::sql_query(sql::ADVANCE_SCHEDULE)
        .bind::<Text, _>(&fire.name)
        .bind::<Timestamptz, _>(fire.expected)
        .bind::<Nullable<Timestamptz>, _>(fire.next)
        .bind::<Nullable<Timestamptz>, _>(now)
        .bind::<Bool, _>(fire.job.is_some())
        .get_result(&mut *conn)
        .await
        .optional()
        .map_err(store_error)?;
    let Some(advanced) = advanced else {
        return Ok(false); // another runner fired it
    };
    // A paused schedule advances but enqueues nothing.
    if let Some(job) = fire.job.as_ref().filter(|_| advanced.enqueue) {
        enqueue(&mut EnqueueStatements(conn), vec![job.clone()], now).await?;
    }
    Ok(true)
}
