//! Counters of what a runner has done.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::state::{Finish, Transition};
use crate::store::FinishReport;

/// A snapshot of a runner's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerStats {
    /// Jobs claimed.
    pub claimed: u64,
    /// Jobs that ended done.
    pub completed: u64,
    /// Runs that failed and were put back for a retry (or snoozed, or released).
    pub requeued: u64,
    /// Jobs that ended dead.
    pub dead: u64,
    /// Jobs that ended cancelled.
    pub cancelled: u64,
    /// Completions that were stale: the claim had been lost.
    pub stale: u64,
}

#[derive(Default)]
pub(crate) struct Stats {
    claimed: AtomicU64,
    completed: AtomicU64,
    requeued: AtomicU64,
    dead: AtomicU64,
    cancelled: AtomicU64,
    stale: AtomicU64,
}

impl Stats {
    pub(crate) fn add_claimed(&self, n: usize) {
        self.claimed.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_finished(&self, batch: &[Finish], report: &FinishReport) {
        let applied: HashSet<_> = report.applied.iter().collect();
        for finish in batch.iter().filter(|f| applied.contains(&f.token.job_id)) {
            let counter = match finish.transition {
                Transition::Done => &self.completed,
                Transition::Queued { .. } => &self.requeued,
                Transition::Dead { .. } => &self.dead,
                Transition::Cancelled { .. } => &self.cancelled,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.stale.fetch_add(report.stale.len() as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RunnerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RunnerStats {
            claimed: get(&self.claimed),
            completed: get(&self.completed),
            requeued: get(&self.requeued),
            dead: get(&self.dead),
            cancelled: get(&self.cancelled),
            stale: get(&self.stale),
        }
    }
}
