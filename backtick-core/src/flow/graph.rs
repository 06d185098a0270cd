//! Job dependencies: a [`JobGraph`] of new jobs that wait for each other (by key) and for
//! stored jobs (by id), enqueued atomically in one store call
//! ([`crate::QueueStore::enqueue_graph`]).
//!
//! The rule ([`readiness`]): a job whose parents all finished `done` is `queued`; one with a
//! parent that ended `dead` or `cancelled` is `cancelled` (and so, in turn, are its own
//! dependents); otherwise it is `pending` until the last parent finishes. An operator's retry
//! of a dead parent does not bring back dependents cancelled meanwhile.

use std::collections::{BTreeMap, HashMap};

use crate::job::{InvalidJob, JobId, JobState, NewJob};

/// A job a graph node waits for: another node of the same graph, by key, or a stored job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Parent {
    /// The node with this key in the same graph.
    Key(String),
    /// A job already enqueued.
    Job(JobId),
}

impl From<JobId> for Parent {
    fn from(id: JobId) -> Self {
        Parent::Job(id)
    }
}

impl From<&str> for Parent {
    fn from(key: &str) -> Self {
        Parent::Key(key.to_owned())
    }
}

impl From<String> for Parent {
    fn from(key: String) -> Self {
        Parent::Key(key)
    }
}

/// New jobs and the jobs each waits for, enqueued in one atomic call with
/// [`crate::QueueStore::enqueue_graph`] (or a backend's `enqueue_graph_in`, inside a caller's
/// transaction). Each node has a key unique in the graph; a node waits for other nodes (by key,
/// in any order of adding) and for stored jobs (by id). A cycle, a key named twice or a key
/// that no node has is rejected before anything is stored. Unique keys are not supported in a
/// graph (a duplicate would leave its dependents waiting on a job of another graph).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobId, NewJob};
/// use backtick_postgres::flow::{GraphError, JobGraph, Parent};
/// let mut graph = JobGraph::new();
/// for part in 0..3 {
///     graph.add_root(format!("part-{part}"), NewJob::new("partial", &part)?);
/// }
/// graph.add("report", NewJob::new("report", &())?, ["part-0", "part-1", "part-2"]);
/// graph.add("notify", NewJob::new("notify", &())?, [Parent::from("report"), Parent::from(JobId(7))]);
/// assert_eq!(graph.len(), 5);
///
/// let mut cycle = JobGraph::new();
/// cycle.add("a", NewJob::new("w", &())?, ["b"]).add("b", NewJob::new("w", &())?, ["a"]);
/// assert!(matches!(cycle.plan(), Err(GraphError::Cycle { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct JobGraph {
    nodes: Vec<(String, NewJob, Vec<Parent>)>,
}

impl JobGraph {
    /// An empty graph.
    pub fn new() -> Self {
        JobGraph::default()
    }

    /// Add `job` under `key`, waiting for `after` (keys of this graph, or ids of stored jobs).
    pub fn add<P: Into<Parent>>(
        &mut self,
        key: impl Into<String>,
        job: NewJob,
        after: impl IntoIterator<Item = P>,
    ) -> &mut Self {
        let after = after.into_iter().map(Into::into).collect();
        self.nodes.push((key.into(), job, after));
        self
    }

    /// Add `job` under `key`, waiting for nothing (other nodes may wait for it).
    pub fn add_root(&mut self, key: impl Into<String>, job: NewJob) -> &mut Self {
        self.add(key, job, Vec::<Parent>::new())
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Check the graph and order it for insertion: parents before their children.
    ///
    /// # Errors
    /// [`GraphError`] naming the first problem: a duplicate or unknown key, a cycle, a job with
    /// a unique key, or an invalid job.
    pub fn plan(self) -> Result<GraphPlan, GraphError> {
        let mut index = HashMap::new();
        for (i, (key, job, _)) in self.nodes.iter().enumerate() {
            if index.insert(key.clone(), i).is_some() {
                return Err(GraphError::DuplicateKey { key: key.clone() });
            }
            job.validate()?;
            if job.unique_key.is_some() {
                return Err(GraphError::UniqueKey { key: key.clone() });
            }
        }
        let mut edges = Vec::with_capacity(self.nodes.len());
        for (key, _, after) in &self.nodes {
            let mut nodes = Vec::new();
            for parent in after {
                if let Parent::Key(parent) = parent {
                    let at = *index.get(parent).ok_or_else(|| GraphError::UnknownKey {
                        key: key.clone(),
                        parent: parent.clone(),
                    })?;
                    nodes.push(at);
                }
            }
            edges.push(nodes);
        }
        let order = topological(&edges).map_err(|cycle| GraphError::Cycle {
            keys: cycle.into_iter().map(|i| self.nodes[i].0.clone()).collect(),
        })?;
        let position: HashMap<usize, usize> = order.iter().enumerate().map(|(pos, &i)| (i, pos)).collect();
        let mut slots: Vec<Option<(String, NewJob, Vec<Parent>)>> = self.nodes.into_iter().map(Some).collect();
        let mut nodes = Vec::with_capacity(order.len());
        for &i in &order {
            let Some((key, job, after)) = slots[i].take() else {
                continue;
            };
            let mut parent_nodes: Vec<usize> = edges[i].iter().map(|p| position[p]).collect();
            parent_nodes.sort_unstable();
            parent_nodes.dedup();
            let mut parent_jobs: Vec<JobId> = after
                .iter()
                .filter_map(|p| match p {
                    Parent::Job(id) => Some(*id),
                    Parent::Key(_) => None,
                })
                .collect();
            parent_jobs.sort_unstable();
            parent_jobs.dedup();
            nodes.push(PlannedNode {
                input: i,
                key,
                job,
                parent_nodes,
                parent_jobs,
            });
        }
        Ok(GraphPlan { nodes })
    }
}

/// Kahn's algorithm, smallest index first among the ready nodes; on a cycle, the nodes of one.
fn topological(parents: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); parents.len()];
    for (child, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(child);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..parents.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(parents.len());
    while let Some(next) = ready.pop_first() {
        order.push(next);
        for &child in &children[next] {
            waiting[child] -= 1;
            if waiting[child] == 0 {
                ready.insert(child);
            }
        }
    }
    if order.len() == parents.len() {
        return Ok(order);
    }
    // Walk parents from any node left over until one repeats: that loop is a cycle.
    let mut at = (0..parents.len()).find(|&i| waiting[i] > 0).unwrap_or(0);
    let mut seen = BTreeMap::new();
    let mut path = Vec::new();
    while let std::collections::btree_map::Entry::Vacant(entry) = seen.entry(at) {
        entry.insert(path.len());
        path.push(at);
        at = parents[at].iter().copied().find(|&p| waiting[p] > 0).unwrap_or(at);
    }
    let start = seen[&at];
    Err(path.split_off(start))
}

/// A checked [`JobGraph`], parents before children: what a store inserts.
#[derive(Debug, Clone)]
pub struct GraphPlan {
    /// The nodes in insertion order.
    pub nodes: Vec<PlannedNode>,
}

impl GraphPlan {
    /// Every stored job some node waits for, ascending, once each.
    pub fn stored_parents(&self) -> Vec<JobId> {
        let mut ids: Vec<JobId> = self.nodes.iter().flat_map(|n| n.parent_jobs.iter().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// True for the node at `pos` when another node waits for it.
    pub fn has_children(&self, pos: usize) -> bool {
        self.nodes.iter().any(|n| n.parent_nodes.contains(&pos))
    }

    /// The state each node starts in, in plan order, given the stored parents' states.
    ///
    /// # Errors
    /// [`GraphError::UnknownJob`] when a stored parent is not in `stored`.
    pub fn readiness(&self, stored: &HashMap<JobId, JobState>) -> Result<Vec<Readiness>, GraphError> {
        let mut out: Vec<Readiness> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let mut parents = Vec::new();
            for id in &node.parent_jobs {
                let state = *stored.get(id).ok_or(GraphError::UnknownJob {
                    key: node.key.clone(),
                    id: *id,
                })?;
                parents.push((id.to_string(), state));
            }
            for &p in &node.parent_nodes {
                let state = match out[p] {
                    Readiness::Cancelled { .. } => JobState::Cancelled,
                    // A new parent has not run yet: it is not done.
                    Readiness::Pending | Readiness::Queued => JobState::Pending,
                };
                parents.push((format!("\"{}\"", self.nodes[p].key), state));
            }
            out.push(readiness(parents.iter().map(|(name, state)| (name.as_str(), *state))));
        }
        Ok(out)
    }
}

/// One node of a [`GraphPlan`].
#[derive(Debug, Clone)]
pub struct PlannedNode {
    /// Its position in the graph as built (the order of the ids returned).
    pub input: usize,
    /// Its key.
    pub key: String,
    /// The job.
    pub job: NewJob,
    /// The positions in the plan of the nodes it waits for (all before it).
    pub parent_nodes: Vec<usize>,
    /// The stored jobs it waits for.
    pub parent_jobs: Vec<JobId>,
}

/// The state a dependent job is in, from its parents' states. See [`readiness`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Waiting for a parent that has not finished.
    Pending,
    /// Every parent is done: due at its `run_at`.
    Queued,
    /// A parent ended dead or cancelled: the job is cancelled with this reason.
    Cancelled {
        /// Its `last_error`.
        reason: String,
    },
}

/// The dependency rule: from each parent's name and state, the state of the job waiting for
/// them. A parent `dead` or `cancelled` cancels it (the first such parent is named in the
/// reason); all parents `done` (or none) queue it; otherwise it is pending. The stores apply
/// this rule at enqueue and whenever a parent finishes (on Postgres, in the trigger
/// `backtick_jobs_resolve_dependents`, its translation).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobState;
/// use backtick_postgres::flow::{Readiness, readiness};
/// assert_eq!(readiness([("1", JobState::Done), ("2", JobState::Running)]), Readiness::Pending);
/// assert_eq!(readiness([("1", JobState::Done), ("2", JobState::Done)]), Readiness::Queued);
/// assert_eq!(
///     readiness([("1", JobState::Done), ("2", JobState::Dead)]),
///     Readiness::Cancelled { reason: "parent job 2 ended dead".into() }
/// );
/// ```
pub fn readiness<'a>(parents: impl IntoIterator<Item = (&'a str, JobState)>) -> Readiness {
    let mut all_done = true;
    for (name, state) in parents {
        match state {
            JobState::Dead | JobState::Cancelled => {
                return Readiness::Cancelled {
                    reason: cancel_reason(name, state),
                };
            }
            JobState::Done => {}
            _ => all_done = false,
        }
    }
    if all_done {
        Readiness::Queued
    } else {
        Readiness::Pending
    }
}

/// The `last_error` of a job cancelled because its parent `name` ended in `state`.
pub fn cancel_reason(name: &str, state: JobState) -> String {
    format!("parent job {name} ended {state}")
}

/// A [`JobGraph`] was rejected: nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Two nodes have the same key.
    #[error("invalid job graph: the key {key:?} is used by two nodes; give each node its own key")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A node waits for a key no node has.
    #[error("invalid job graph: node {key:?} waits for {parent:?}, which no node of the graph has")]
    UnknownKey {
        /// The waiting node.
        key: String,
        /// The missing key.
        parent: String,
    },
    /// A node waits for a stored job that does not exist.
    #[error("invalid job graph: node {key:?} waits for job {id}, which does not exist (or was pruned)")]
    UnknownJob {
        /// The waiting node.
        key: String,
        /// The missing job.
        id: JobId,
    },
    /// The nodes wait for each other in a cycle.
    #[error("invalid job graph: a cycle, {}; a job cannot wait for itself", cycle_text(keys))]
    Cycle {
        /// The keys on the cycle, each waiting for the next (the last for the first).
        keys: Vec<String>,
    },
    /// A node has a unique key.
    #[error("invalid job graph: node {key:?} has a unique key, which a graph does not support")]
    UniqueKey {
        /// The node.
        key: String,
    },
    /// A node's job is invalid.
    #[error(transparent)]
    InvalidJob(#[from] InvalidJob),
}

fn cycle_text(keys: &[String]) -> String {
    let mut text: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    if let Some(first) = text.first().cloned() {
        text.push(first);
    }
    text.join(" waits for ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> NewJob {
        NewJob::new("w", &()).unwrap()
    }

    #[test]
    fn a_plan_puts_parents_before_children_whatever_the_order_of_adding() {
        let mut graph = JobGraph::new();
        graph
            .add("c", job(), ["b"])
            .add("b", job(), ["a"])
            .add("a", job(), [JobId(9)]);
        let plan = graph.plan().unwrap();
        let keys: Vec<&str> = plan.nodes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(plan.nodes[2].parent_nodes, [1]);
        assert_eq!(plan.nodes[0].input, 2);
        assert_eq!(plan.stored_parents(), [JobId(9)]);
        assert!(plan.has_children(0) && !plan.has_children(2));
    }

    #[test]
    fn cycles_and_bad_keys_are_rejected() {
        let mut cycle = JobGraph::new();
        cycle
            .add("a", job(), ["c"])
            .add("b", job(), ["a"])
            .add("c", job(), ["b"])
            .add("d", job(), ["a"]);
        match cycle.plan() {
            Err(GraphError::Cycle { keys }) => assert_eq!(keys.len(), 3, "{keys:?}"),
            other => panic!("{other:?}"),
        }
        let mut own = JobGraph::new();
        own.add("a", job(), ["a"]);
        assert_eq!(own.plan().err(), Some(GraphError::Cycle { keys: vec!["a".into()] }));
        let mut twice = JobGraph::new();
        twice
            .add("a", job(), Vec::<Parent>::new())
            .add("a", job(), Vec::<Parent>::new());
        assert!(matches!(twice.plan(), Err(GraphError::DuplicateKey { .. })));
        let mut unknown = JobGraph::new();
        unknown.add("a", job(), ["x"]);
        assert!(matches!(unknown.plan(), Err(GraphError::UnknownKey { .. })));
    }

    #[test]
    fn readiness_follows_stored_parents_and_cascades_through_new_ones() {
        let mut graph = JobGraph::new();
        graph
            .add("a", job(), [JobId(1)])
            .add("b", job(), ["a"])
            .add("c", job(), [JobId(2)]);
        let plan = graph.plan().unwrap();
        let stored = HashMap::from([(JobId(1), JobState::Dead), (JobId(2), JobState::Done)]);
        let states = plan.readiness(&stored).unwrap();
        assert!(matches!(states[0], Readiness::Cancelled { .. }));
        assert_eq!(
            states[1],
            Readiness::Cancelled {
                reason: "parent job \"a\" ended cancelled".into()
            }
        );
        assert_eq!(states[2], Readiness::Queued);
        assert!(matches!(
            plan.readiness(&HashMap::new()),
            Err(GraphError::UnknownJob { .. })
        ));
    }
}
