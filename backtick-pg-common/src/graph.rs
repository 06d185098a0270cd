//! Flow control less the driver: enqueueing a [`JobGraph`] ([`enqueue_graph`]: core decides each
//! node's start state, this crate turns it into the columns of [`crate::flow_sql`]) and the
//! columns of queue limits. A backend implements [`GraphConnection`] inside one transaction of
//! its driver.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use backtick_core::flow::{JobGraph, QueueLimits, RateLimit, Readiness};
use backtick_core::{JobId, JobState, StoreError, Timestamp};

use crate::enqueue::JobColumns;
use crate::interval::micros;

/// The nodes of a graph as columns for [`crate::flow_sql::GRAPH_INSERT`], in plan order.
#[derive(Debug, Default)]
pub struct GraphColumns {
    /// `$2..$10`: the jobs (their unique keys unused: a graph has none).
    pub jobs: JobColumns,
    /// `$11` start states.
    pub state: Vec<&'static str>,
    /// `$12` the reason of a node cancelled at once, else NULL.
    pub last_error: Vec<Option<String>>,
    /// `$13` whether another node waits for it.
    pub has_dependents: Vec<bool>,
}

/// The statements of a graph enqueue on one connection, all inside one transaction the
/// backend opens (a savepoint inside a caller's). See [`enqueue_graph`].
pub trait GraphConnection: Send {
    /// Run [`crate::flow_sql::GRAPH_LOCK_PARENTS`]: each locked parent's id and state.
    fn lock_parents(&mut self, ids: Vec<i64>) -> impl Future<Output = Result<Vec<(i64, String)>, StoreError>> + Send;

    /// Run [`crate::flow_sql::GRAPH_INSERT`]: the new ids in input order.
    fn insert_nodes(
        &mut self,
        columns: GraphColumns,
        now: Option<Timestamp>,
    ) -> impl Future<Output = Result<Vec<JobId>, StoreError>> + Send;

    /// Run [`crate::flow_sql::GRAPH_EDGES`].
    fn insert_edges(
        &mut self,
        jobs: Vec<i64>,
        parents: Vec<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Enqueue `graph` through `conn` (inside the backend's transaction): check and order it
/// ([`JobGraph::plan`]), lock its stored parents, give each node its start state by
/// [`backtick_core::flow::GraphPlan::readiness`], insert the nodes and the edges of the pending
/// ones. Ids in the order the nodes were added.
///
/// # Errors
/// [`StoreError::InvalidGraph`] for a rejected graph or a missing parent (nothing runs past
/// the lock); a stored state that does not parse is [`StoreError::Corrupt`]; otherwise `conn`'s.
pub async fn enqueue_graph<C: GraphConnection>(
    conn: &mut C,
    graph: JobGraph,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    let plan = graph.plan()?;
    if plan.nodes.is_empty() {
        return Ok(Vec::new());
    }
    let parents: Vec<i64> = plan.stored_parents().into_iter().map(|id| id.0).collect();
    let locked = if parents.is_empty() {
        Vec::new()
    } else {
        conn.lock_parents(parents).await?
    };
    let mut stored = HashMap::with_capacity(locked.len());
    for (id, state) in locked {
        let state: JobState = state
            .parse()
            .map_err(|e: backtick_core::UnknownJobState| StoreError::Corrupt {
                job_id: Some(JobId(id)),
                message: e.to_string(),
            })?;
        stored.insert(JobId(id), state);
    }
    let readiness = plan.readiness(&stored)?;
    let mut columns = GraphColumns::default();
    let mut jobs = Vec::with_capacity(plan.nodes.len());
    for (pos, (node, ready)) in plan.nodes.iter().zip(&readiness).enumerate() {
        jobs.push(node.job.clone());
        let (state, error) = match ready {
            Readiness::Pending => ("pending", None),
            Readiness::Queued => ("queued", None),
            Readiness::Cancelled { reason } => ("cancelled", Some(reason.clone())),
        };
        columns.state.push(state);
        columns.last_error.push(error);
        columns.has_dependents.push(plan.has_children(pos));
    }
    columns.jobs = JobColumns::from(jobs);
    let ids = conn.insert_nodes(columns, now).await?;
    let (mut edge_jobs, mut edge_parents) = (Vec::new(), Vec::new());
    for (pos, node) in plan.nodes.iter().enumerate() {
        if readiness[pos] != Readiness::Pending {
            continue;
        }
        let new_parents = node.parent_nodes.iter().map(|&p| ids[p]);
        let stored_parents = node
            .parent_jobs
            .iter()
            .copied()
            .filter(|id| stored.get(id) != Some(&JobState::Done));
        for parent in new_parents.chain(stored_parents) {
            edge_jobs.push(ids[pos].0);
            edge_parents.push(parent.0);
        }
    }
    if !edge_jobs.is_empty() {
        conn.insert_edges(edge_jobs, edge_parents).await?;
    }
    let mut by_input = vec![JobId(0); ids.len()];
    for (node, id) in plan.nodes.iter().zip(ids) {
        by_input[node.input] = id;
    }
    Ok(by_input)
}

/// The columns of `limits` for [`crate::flow_sql::SET_QUEUE_LIMITS`]: concurrency, rate jobs,
/// rate period in microseconds.
///
/// # Examples
/// ```
/// use backtick_core::flow::{QueueLimits, RateLimit};
/// let limits = QueueLimits::new().concurrency(5).rate(RateLimit::per_second(10));
/// assert_eq!(backtick_pg_common::limit_columns(&limits), (Some(5), Some(10), Some(1_000_000)));
/// ```
pub fn limit_columns(limits: &QueueLimits) -> (Option<i32>, Option<i32>, Option<i64>) {
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    (
        limits.concurrency.map(int),
        limits.rate.map(|r| int(r.jobs)),
        limits.rate.map(|r| micros(r.period)),
    )
}

/// The limits stored in a `backtick_queues` row, the inverse of [`limit_columns`].
///
/// # Examples
/// ```
/// use backtick_core::flow::QueueLimits;
/// let limits = QueueLimits::new().concurrency(3);
/// let (c, r, p) = backtick_pg_common::limit_columns(&limits);
/// assert_eq!(backtick_pg_common::limits_from(c, r, p), limits);
/// ```
pub fn limits_from(concurrency: Option<i32>, rate: Option<i32>, period_us: Option<i64>) -> QueueLimits {
    let nat = |n: i32| u32::try_from(n).unwrap_or(0);
    QueueLimits {
        concurrency: concurrency.map(nat),
        rate: rate
            .zip(period_us)
            .map(|(jobs, us)| RateLimit::new(nat(jobs), Duration::from_micros(u64::try_from(us).unwrap_or(0)))),
    }
}
