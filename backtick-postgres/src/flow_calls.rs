//! Flow control on sqlx: a job graph's statements (inside the store's or the caller's
//! transaction), and the queue-limit calls of [`crate::PgStore`]. What to run is decided by
//! `backtick_pg_common::enqueue_graph`; this file binds and runs it.

use backtick_core::flow::{JobGraph, QueueLimits};
use backtick_core::{Job, JobId, StoreError, Timestamp};
use backtick_pg_common::flow_sql;
use backtick_pg_common::{GraphColumns, GraphConnection, enqueue_graph, limit_columns, limits_from};
use sqlx::{Acquire, PgConnection, PgPool, Row};

use crate::enqueue::EnqueueStatements;
use crate::error::store_error;

/// Enqueue a job graph inside the caller's transaction, atomically (under a savepoint): every
/// node exists only if the caller commits. See [`backtick_core::QueueStore::enqueue_graph`].
/// Times come from the database clock.
///
/// # Errors
/// [`StoreError::InvalidGraph`] for a cycle, a bad key or a missing parent; on error nothing of
/// this call is left in the transaction.
///
/// # Examples
/// ```no_run
/// # async fn example(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// use backtick_postgres::{NewJob, enqueue_graph_in, flow::JobGraph};
/// let mut graph = JobGraph::new();
/// graph.add_root("fetch", NewJob::new("fetch", &1)?);
/// graph.add("report", NewJob::new("report", &())?, ["fetch"]);
/// let mut tx = pool.begin().await?;
/// let ids = enqueue_graph_in(&mut tx, graph).await?;
/// tx.commit().await?;
/// # let _ = ids;
/// # Ok(())
/// # }
/// ```
pub async fn enqueue_graph_in(conn: &mut PgConnection, graph: JobGraph) -> Result<Vec<JobId>, StoreError> {
    graph_on(conn, graph, None).await
}

/// [`enqueue_graph`] in a transaction of its own (a savepoint inside the caller's).
pub(crate) async fn graph_on(
    conn: &mut PgConnection,
    graph: JobGraph,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    let mut tx = conn.begin().await.map_err(store_error)?;
    let ids = enqueue_graph(&mut EnqueueStatements(&mut tx), graph, now).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(ids)
}

impl GraphConnection for EnqueueStatements<'_> {
    async fn lock_parents(&mut self, ids: Vec<i64>) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(flow_sql::GRAPH_LOCK_PARENTS)
            .bind(ids)
            .fetch_all(&mut *self.0)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id").map_err(store_error)?,
                    r.try_get("state").map_err(store_error)?,
                ))
            })
            .collect()
    }

    async fn insert_nodes(&mut self, g: GraphColumns, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
        let c = g.jobs;
        let n = c.len();
        let rows = sqlx::query(flow_sql::GRAPH_INSERT)
            .bind(now)
            .bind(c.worker)
            .bind(c.queue)
            .bind(c.args)
            .bind(c.codec)
            .bind(c.priority)
            .bind(c.max_attempts)
            .bind(c.run_at)
            .bind(c.delay_us)
            .bind(c.trace_context)
            .bind(g.state)
            .bind(g.last_error)
            .bind(g.has_dependents)
            .fetch_all(&mut *self.0)
            .await
            .map_err(store_error)?;
        let ids = rows
            .iter()
            .map(|row| row.try_get::<i64, _>(0).map(JobId).map_err(store_error))
            .collect::<Result<Vec<_>, _>>()?;
        backtick_pg_common::enqueue::ids_in_input_order(ids, n)
    }

    async fn insert_edges(&mut self, jobs: Vec<i64>, parents: Vec<i64>) -> Result<(), StoreError> {
        sqlx::query(flow_sql::GRAPH_EDGES)
            .bind(jobs)
            .bind(parents)
            .execute(&mut *self.0)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

pub(crate) async fn set_queue_limits(
    pool: &PgPool,
    queue: &str,
    limits: &QueueLimits,
    now: Option<Timestamp>,
) -> Result<(), StoreError> {
    limits.validate()?;
    let (concurrency, rate, period) = limit_columns(limits);
    sqlx::query(flow_sql::SET_QUEUE_LIMITS)
        .bind(queue)
        .bind(concurrency)
        .bind(rate)
        .bind(period)
        .bind(now)
        .execute(pool)
        .await
        .map_err(store_error)?;
    Ok(())
}

pub(crate) async fn queue_limits(pool: &PgPool) -> Result<Vec<(String, QueueLimits)>, StoreError> {
    let rows = sqlx::query(flow_sql::QUEUE_LIMITS)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|r| {
            let get = |c: &str| r.try_get::<Option<i32>, _>(c).map_err(store_error);
            let period: Option<i64> = r.try_get("rate_period_us").map_err(store_error)?;
            let name: String = r.try_get("name").map_err(store_error)?;
            Ok((name, limits_from(get("concurrency_limit")?, get("rate_limit")?, period)))
        })
        .collect()
}

/// Sort claimed jobs into claim order within each queue (the statement returns them in no
/// particular order).
pub(crate) fn in_claim_order(mut jobs: Vec<Job>) -> Vec<Job> {
    jobs.sort_by(|a, b| (&a.queue, a.priority, a.run_at, a.id).cmp(&(&b.queue, b.priority, b.run_at, b.id)));
    jobs
}
