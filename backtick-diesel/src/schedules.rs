//! Recurring and cron schedules: store them, find the due ones, and fire one exactly once per
//! fire time (compare-and-set of `next_run_at` and the job's insert in one transaction).

use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::{StoreError, Timestamp};
use backtick_pg_common::enqueue;
use diesel::QueryableByName;
use diesel::sql_types::{Array, Nullable, Text, Timestamptz};
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
    AnsiTransactionManager::begin_transaction(conn)
        .await
        .map_err(store_error)?;
    match advance_and_enqueue(conn, fire, now).await {
        Ok(true) => {
            AnsiTransactionManager::commit_transaction(conn)
                .await
                .map_err(store_error)?;
            Ok(true)
        }
        outcome => {
            // Lost the race (nothing written) or failed: either way nothing of this fire stays.
            if let Err(error) = AnsiTransactionManager::rollback_transaction(conn).await {
                tracing::debug!(%error, schedule = %fire.name, "rolling back a schedule fire failed");
            }
            outcome
        }
    }
}

async fn advance_and_enqueue(
    conn: &mut AsyncPgConnection,
    fire: &ScheduleFire,
    now: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let advanced = diesel::sql_query(sql::ADVANCE_SCHEDULE)
        .bind::<Text, _>(&fire.name)
        .bind::<Timestamptz, _>(fire.expected)
        .bind::<Nullable<Timestamptz>, _>(fire.next)
        .bind::<Nullable<Timestamptz>, _>(now)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    if advanced != 1 {
        return Ok(false); // another runner fired it
    }
    if let Some(job) = &fire.job {
        enqueue(&mut EnqueueStatements(conn), vec![job.clone()], now).await?;
    }
    Ok(true)
}
