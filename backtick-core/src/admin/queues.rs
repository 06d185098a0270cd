//! Queues as an operator sees them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::admin::counts::Count;
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
