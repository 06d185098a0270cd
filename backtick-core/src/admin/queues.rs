//! Queues as an operator sees them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::admin::counts::{Count, JobCounts};
use crate::job::{JobState, Timestamp};

/// One queue: its depth per state, how long its oldest due job has waited, and whether it is
/// paused. See [`crate::admin::QueueAdmin::list_queues`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// Its jobs per state (capped like [`crate::admin::CountQuery`]); states without a job
    /// are absent.
    pub counts: BTreeMap<JobState, Count>,
    /// How long the oldest due job (queued, `run_at` at or before now) has been due; `None`
    /// when no job is due.
    pub oldest_due_age: Option<Duration>,
    /// When the queue was paused; `None` while it is not.
    pub paused_at: Option<Timestamp>,
}

impl QueueInfo {
    /// True while the queue is paused: runners claim none of its jobs.
    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }

    /// The count in `state` (exactly 0 when absent).
    pub fn count(&self, state: JobState) -> Count {
        self.counts.get(&state).copied().unwrap_or_default()
    }
}

/// The queue listing from its three sources, the way every store merges them: `counts`
/// grouped by queue ([`crate::admin::GroupBy::Queue`]), the oldest due `run_at` per queue
/// measured at `now`, and the stored pause of each queue that has a row. Every queue named by
/// any of them is listed, sorted by name.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobState;
/// use backtick_postgres::admin::{Count, GroupCount, JobCounts, assemble_queues};
/// let now = chrono::Utc::now();
/// let counts = JobCounts { groups: vec![GroupCount { key: "mail".into(), state: JobState::Queued, count: Count::exact(2) }] };
/// let oldest = [("mail".to_owned(), now - chrono::Duration::seconds(90))];
/// let paused = [("batch".to_owned(), Some(now))];
/// let queues = assemble_queues(&counts, &oldest, &paused, now);
/// assert_eq!(queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(), ["batch", "mail"]);
/// assert_eq!(queues[1].oldest_due_age, Some(std::time::Duration::from_secs(90)));
/// assert!(queues[0].is_paused());
/// ```
pub fn assemble_queues(
    counts: &JobCounts,
    oldest_due: &[(String, Timestamp)],
    rows: &[(String, Option<Timestamp>)],
    now: Timestamp,
) -> Vec<QueueInfo> {
    let names: BTreeSet<&str> = counts
        .groups
        .iter()
        .map(|g| g.key.as_str())
        .chain(oldest_due.iter().map(|(name, _)| name.as_str()))
        .chain(rows.iter().map(|(name, _)| name.as_str()))
        .collect();
    names
        .into_iter()
        .map(|name| QueueInfo {
            name: name.to_owned(),
            counts: counts
                .groups
                .iter()
                .filter(|g| g.key == name)
                .map(|g| (g.state, g.count))
                .collect(),
            oldest_due_age: oldest_due
                .iter()
                .find(|(queue, _)| queue == name)
                .map(|(_, oldest)| (now - *oldest).to_std().unwrap_or(Duration::ZERO)),
            paused_at: rows.iter().find(|(queue, _)| queue == name).and_then(|(_, at)| *at),
        })
        .collect()
}
