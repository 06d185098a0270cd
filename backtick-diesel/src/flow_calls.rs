//! Flow control on diesel-async: a job graph's statements (inside the store's or the caller's
//! transaction), and the queue-limit calls of [`crate::DieselStore`]. What to run is decided by
//! `backtick_pg_common::enqueue_graph`; this file binds and runs it.

use backtick_core::flow::{JobGraph, QueueLimits};
use backtick_core::{Job, JobId, StoreError, Timestamp};
use backtick_pg_common::enqueue::{ids_in_input_order, missing_id};
use backtick_pg_common::flow_sql;
use backtick_pg_common::{GraphColumns, GraphConnection, enqueue_graph, limit_columns, limits_from};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Integer, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};

use crate::enqueue::EnqueueStatements;
use crate::error::store_error;
use crate::row::MaybeId;

/// Enqueue a job graph inside the caller's diesel-async transaction, atomically (under a
/// savepoint): every node exists only if the caller commits. See
/// [`backtick_core::QueueStore::enqueue_graph`]. Times come from the database clock. Open the
/// transaction with diesel-async, as for [`crate::enqueue_in`].
///
/// # Errors
/// [`StoreError::InvalidGraph`] for a cycle, a bad key or a missing parent; on error nothing of
/// this call is left in the transaction.
///
/// # Examples
/// ```no_run
/// # async fn example(store: backtick_diesel::DieselStore) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use backtick_diesel::diesel_async::AsyncConnection;
/// use backtick_diesel::{NewJob, enqueue_graph_in, flow::JobGraph};
/// let mut graph = JobGraph::new();
/// graph.add_root("fetch", NewJob::new("fetch", &1)?);
/// graph.add("report", NewJob::new("report", &())?, ["fetch"]);
/// let mut conn = store.pool().get().await?;
/// let ids = conn
///     .transaction::<_, Box<dyn std::error::Error + Send + Sync>, _>(async |conn| {
///         Ok(enqueue_graph_in(conn, graph).await?)
///     })
///     .await?;
/// # let _ = ids;
/// # Ok(())
/// # }
/// ```
pub async fn enqueue_graph_in(conn: &mut AsyncPgConnection, graph: JobGraph) -> Result<Vec<JobId>, StoreError> {
    graph_on(conn, graph, None).await
}

/// [`enqueue_graph`] in a transaction of its own (a savepoint inside the caller's).
pub(crate) async fn graph_on(
    conn: &mut AsyncPgConnection,
    graph: JobGraph,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    AnsiTransactionManager::begin_transaction(conn)
        .await
        .map_err(store_error)?;
    match enqueue_graph(&mut EnqueueStatements(&mut *conn), graph, now).await {
        Ok(ids) => {
            AnsiTransactionManager::commit_transaction(conn)
                .await
                .map_err(store_error)?;
            Ok(ids)
        }
        Err(error) => {
            if let Err(rollback) = AnsiTransactionManager::rollback_transaction(conn).await {
                tracing::debug!(error = %rollback, "rolling back a failed graph enqueue failed");
            }
            Err(error)
        }
    }
}

#[derive(QueryableByName)]
struct LockedParent {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    state: String,
}

#[derive(QueryableByName)]
struct LimitRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Integer>)]
    concurrency_limit: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    rate_limit: Option<i32>,
    #[diesel(sql_type = Nullable<BigInt>)]
    rate_period_us: Option<i64>,
}

impl GraphConnection for EnqueueStatements<'_> {
    async fn lock_parents(&mut self, ids: Vec<i64>) -> Result<Vec<(i64, String)>, StoreError> {
        let rows: Vec<LockedParent> = diesel::sql_query(flow_sql::GRAPH_LOCK_PARENTS)
            .bind::<Array<BigInt>, _>(ids)
            .load(&mut *self.0)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(|r| (r.id, r.state)).collect())
    }

    async fn insert_nodes(&mut self, g: GraphColumns, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
        let c = g.jobs;
        let n = c.len();
        let rows: Vec<MaybeId> = diesel::sql_query(flow_sql::GRAPH_INSERT)
            .bind::<Nullable<Timestamptz>, _>(now)
            .bind::<Array<Text>, _>(c.worker)
            .bind::<Array<Text>, _>(c.queue)
            .bind::<Array<Bytea>, _>(c.args)
            .bind::<Array<Text>, _>(c.codec)
            .bind::<Array<SmallInt>, _>(c.priority)
            .bind::<Array<Integer>, _>(c.max_attempts)
            .bind::<Array<Nullable<Timestamptz>>, _>(c.run_at)
            .bind::<Array<Nullable<BigInt>>, _>(c.delay_us)
            .bind::<Array<Nullable<Text>>, _>(c.trace_context)
            .bind::<Array<Text>, _>(g.state)
            .bind::<Array<Nullable<Text>>, _>(g.last_error)
            .bind::<Array<Bool>, _>(g.has_dependents)
            .load(&mut *self.0)
            .await
            .map_err(store_error)?;
        let ids = rows
            .into_iter()
            .map(|row| row.id.map(JobId).ok_or_else(missing_id))
            .collect::<Result<Vec<_>, _>>()?;
        ids_in_input_order(ids, n)
    }

    async fn insert_edges(&mut self, jobs: Vec<i64>, parents: Vec<i64>) -> Result<(), StoreError> {
        diesel::sql_query(flow_sql::GRAPH_EDGES)
            .bind::<Array<BigInt>, _>(jobs)
            .bind::<Array<BigInt>, _>(parents)
            .execute(&mut *self.0)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

pub(crate) async fn set_queue_limits(
    conn: &mut AsyncPgConnection,
    queue: &str,
    limits: &QueueLimits,
    now: Option<Timestamp>,
) -> Result<(), StoreError> {
    limits.validate()?;
    let (concurrency, rate, period) = limit_columns(limits);
    diesel::sql_query(flow_sql::SET_QUEUE_LIMITS)
        .bind::<Text, _>(queue)
        .bind::<Nullable<Integer>, _>(concurrency)
        .bind::<Nullable<Integer>, _>(rate)
        .bind::<Nullable<BigInt>, _>(period)
        .bind::<Nullable<Timestamptz>, _>(now)
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

pub(crate) async fn queue_limits(conn: &mut AsyncPgConnection) -> Result<Vec<(String, QueueLimits)>, StoreError> {
    let rows: Vec<LimitRow> = diesel::sql_query(flow_sql::QUEUE_LIMITS)
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.name, limits_from(r.concurrency_limit, r.rate_limit, r.rate_period_us)))
        .collect())
}

/// Sort claimed jobs into claim order within each queue (the statement returns them in no
/// particular order).
pub(crate) fn in_claim_order(mut jobs: Vec<Job>) -> Vec<Job> {
    jobs.sort_by(|a, b| (&a.queue, a.priority, a.run_at, a.id).cmp(&(&b.queue, b.priority, b.run_at, b.id)));
    jobs
}
