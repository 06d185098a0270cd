//! The runner's metric handles, one set per queue and worker, taken once and reused, so that
//! a job's metrics cost no label allocation.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::telemetry::{JOB_DURATION, JOB_WAIT, JOBS_FINISHED, JOBS_RUNNING};

/// The outcomes of `backtick_jobs_finished_total`, in the order of [`Handles::finished`].
const OUTCOMES: [&str; 7] = [
    "completed",
    "retried",
    "snoozed",
    "dead",
    "cancelled",
    "timed_out",
    "panicked",
];

/// The handles of one queue and worker.
pub(crate) struct Handles {
    finished: [Counter; OUTCOMES.len()],
    duration: Histogram,
    wait: Histogram,
    running: Gauge,
}

impl Handles {
    fn new(queue: &str, worker: &str) -> Self {
        let labels = [("queue", queue.to_owned()), ("worker", worker.to_owned())];
        let finished = OUTCOMES.map(|outcome| {
            let labels = [
                ("queue", queue.to_owned()),
                ("worker", worker.to_owned()),
                ("outcome", outcome.to_owned()),
            ];
            metrics::counter!(JOBS_FINISHED, &labels)
        });
        Handles {
            finished,
            duration: metrics::histogram!(JOB_DURATION, &labels),
            wait: metrics::histogram!(JOB_WAIT, &labels),
            running: metrics::gauge!(JOBS_RUNNING, &labels),
        }
    }

    /// A run starts, `wait` after its job fell due.
    pub(crate) fn started(&self, wait: Duration) {
        self.wait.record(wait.as_secs_f64());
        self.running.increment(1.0);
    }

    /// A run ended after `took`, with the outcome labelled `outcome` (one of [`OUTCOMES`]);
    /// `None` for a run stopped without one (aborted at shutdown; its job is released).
    pub(crate) fn ended(&self, took: Duration, outcome: Option<&str>) {
        self.running.decrement(1.0);
        self.duration.record(took.as_secs_f64());
        if let Some(index) = outcome.and_then(|outcome| OUTCOMES.iter().position(|o| *o == outcome)) {
            self.finished[index].increment(1);
        }
    }
}

/// Every queue and worker's handles (by queue, then worker), taken on first use. Looked up
/// by `&str`, so a hit allocates nothing.
#[derive(Default)]
pub(crate) struct JobMetrics(RwLock<HashMap<String, HashMap<String, Arc<Handles>>>>);

impl JobMetrics {
    /// The handles of `queue` and `worker`.
    pub(crate) fn of(&self, queue: &str, worker: &str) -> Arc<Handles> {
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(handles) = known.get(queue).and_then(|workers| workers.get(worker)) {
            return handles.clone();
        }
        drop(known);
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(queue.to_owned())
            .or_default()
            .entry(worker.to_owned())
            .or_insert_with(|| Arc::new(Handles::new(queue, worker)))
            .clone()
    }
}
