//! Observability: the metrics backtick records and the names it records them under.
//!
//! Backtick records through the [`metrics`] facade, which does nothing until the application
//! installs a recorder (for example `metrics-exporter-prometheus`'s, which `backtick serve`
//! uses). Every name starts with `backtick_` and is in base units (seconds, jobs). Labels are
//! only `queue`, `worker` and `outcome` (and `state` on the collector's depth gauge,
//! `transient` on store errors): never a job id or arguments, so the number of series stays
//! bounded by the number of queues and workers.
//!
//! | name | kind | labels | recorded by |
//! |---|---|---|---|
//! | `backtick_jobs_enqueued_total` | counter | queue, worker | the store's enqueue path ([`EnqueueCount`]) |
//! | `backtick_jobs_finished_total` | counter | queue, worker, outcome | the runner, when a run ends |
//! | `backtick_jobs_revived_total` | counter | queue, worker | the reviver |
//! | `backtick_completions_fenced_total` | counter | — | the completer: stale writes refused |
//! | `backtick_schedule_fired_total` | counter | — | the schedule firer: fires that enqueued a job (on time or catch-up) |
//! | `backtick_schedule_missed_total` | counter | — | the schedule firer: fires consumed past their grace (caught up or skipped; a missed series counts once) |
//! | `backtick_store_errors_total` | counter | transient | the runner's store calls that failed |
//! | `backtick_job_duration_seconds` | histogram | queue, worker | the runner: how long a run took |
//! | `backtick_job_wait_seconds` | histogram | queue, worker | the runner: from due (`run_at`) to start |
//! | `backtick_claim_batch_size` | histogram | — | the claim loop: jobs per claim |
//! | `backtick_claim_duration_seconds` | histogram | — | the claim loop: one claim's round trip |
//! | `backtick_jobs_running` | gauge | queue, worker | the runner: runs under way |
//! | `backtick_runner_slots_free` | gauge | — | the runner: free slots of this process's runners |
//! | `backtick_queue_jobs` | gauge | queue, state | the [`Collector`]: jobs per queue and state |
//! | `backtick_queue_lag_seconds` | gauge | queue | the [`Collector`]: age of the oldest due job |
//! | `backtick_runners_alive` | gauge | — | the [`Collector`]: runners with a live heartbeat |
//!
//! The outcomes of `backtick_jobs_finished_total` are `completed`, `retried`, `snoozed`,
//! `dead`, `cancelled`, `timed_out` and `panicked` ([`outcome_label`]). A run is counted once,
//! when it ends, before its write: a write the store then refuses (the claim was revived
//! meanwhile) is also counted in `backtick_completions_fenced_total`.
//!
//! The runner caches its metric handles per queue and worker, so a job costs a map look-up
//! and a few atomic adds, not label allocations. Install the recorder before starting
//! runners: handles taken before it stay no-ops.
//!
//! The database-level gauges come from one [`Collector`] per deployment (the `backtick serve`
//! process, or a task the application starts), not from every runner.
//!
//! Every run is traced in a `backtick.job` span (info level: job id, worker, queue, attempt,
//! runner id, and the outcome when it ends). With a [`TracePropagation`] installed, a job
//! carries the trace context of the span it was enqueued in and its `backtick.job` span
//! continues that trace (see [`install_trace_propagation`]).

mod collector;
pub(crate) mod job_metrics;
mod trace;

pub use collector::{CollectReport, Collector};
pub(crate) use job_metrics::JobMetrics;
pub(crate) use trace::continue_trace;
pub use trace::{
    MAX_TRACE_CONTEXT_LEN, PropagationAlreadyInstalled, TracePropagation, current_trace_context,
    install_trace_propagation,
};

use crate::error::StoreError;
use crate::job::NewJob;
use crate::state::{Outcome, Transition};

/// `backtick_jobs_enqueued_total`: jobs put on the queue.
pub const JOBS_ENQUEUED: &str = "backtick_jobs_enqueued_total";
/// `backtick_jobs_finished_total{outcome}`: runs that ended, by outcome.
pub const JOBS_FINISHED: &str = "backtick_jobs_finished_total";
/// `backtick_jobs_revived_total`: jobs the reviver put back (or sent dead) after their lease expired.
pub const JOBS_REVIVED: &str = "backtick_jobs_revived_total";
/// `backtick_completions_fenced_total`: completions refused because the claim was no longer live.
pub const COMPLETIONS_FENCED: &str = "backtick_completions_fenced_total";
/// `backtick_schedule_fired_total`: schedule fires that enqueued a job (on time or a catch-up).
pub const SCHEDULE_FIRED: &str = "backtick_schedule_fired_total";
/// `backtick_schedule_missed_total`: schedule fires consumed later than their grace (caught up
/// or skipped); a series missed during one outage counts once.
pub const SCHEDULE_MISSED: &str = "backtick_schedule_missed_total";
/// `backtick_store_errors_total{transient}`: failed store calls of the runner.
pub const STORE_ERRORS: &str = "backtick_store_errors_total";
/// `backtick_job_duration_seconds`: how long a run took.
pub const JOB_DURATION: &str = "backtick_job_duration_seconds";
/// `backtick_job_wait_seconds`: from a job's due time to the start of its run. The due time is
/// the database's `run_at`, the start the runner's clock: clock skew between them shows here
/// (a negative wait is recorded as zero).
pub const JOB_WAIT: &str = "backtick_job_wait_seconds";
/// `backtick_claim_batch_size`: jobs returned by one claim.
pub const CLAIM_BATCH_SIZE: &str = "backtick_claim_batch_size";
/// `backtick_claim_duration_seconds`: one claim's round trip.
pub const CLAIM_DURATION: &str = "backtick_claim_duration_seconds";
/// `backtick_jobs_running`: runs under way.
pub const JOBS_RUNNING: &str = "backtick_jobs_running";
/// `backtick_runner_slots_free`: free slots of the runners of this process.
pub const RUNNER_SLOTS_FREE: &str = "backtick_runner_slots_free";
/// `backtick_queue_jobs{queue,state}`: jobs per queue and state (collector).
pub const QUEUE_JOBS: &str = "backtick_queue_jobs";
/// `backtick_queue_lag_seconds{queue}`: how long the oldest due job has waited (collector).
pub const QUEUE_LAG: &str = "backtick_queue_lag_seconds";
/// `backtick_runners_alive`: runners whose heartbeat is live (collector).
pub const RUNNERS_ALIVE: &str = "backtick_runners_alive";

/// Counts enqueued jobs (`backtick_jobs_enqueued_total{queue,worker}`): taken before an
/// enqueue write, [`EnqueueCount::record`]ed once it succeeded.
///
/// Enqueues are counted in one place per store: the function every enqueue path of that
/// store goes through once (for the Postgres backends `backtick_pg_common::enqueue::enqueue`,
/// which serves the store's `enqueue_many`, the in-transaction `enqueue_in` and schedule
/// fires; for `MemoryStore` its `enqueue_many` and its schedule fires). Not in the callers of
/// [`crate::QueueStore::enqueue`], which are many, nor in core's typed helpers, which not
/// every enqueue goes through. Every job of a successful call counts, including one whose
/// unique key returned an existing job (the stores do not tell them apart cheaply). A job
/// enqueued inside a caller's transaction counts when its statement succeeds, even if the
/// caller then rolls back.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{NewJob, telemetry::EnqueueCount};
/// let jobs = vec![NewJob::new("mail", &1_i64).unwrap(), NewJob::new("mail", &2_i64).unwrap()];
/// let count = EnqueueCount::of(&jobs);
/// // ... the write succeeded:
/// count.record();
/// ```
#[must_use = "call record() once the write succeeded"]
pub struct EnqueueCount(Vec<(metrics::Counter, u64)>);

impl EnqueueCount {
    /// The counters of `jobs`, one per queue and worker among them.
    pub fn of(jobs: &[NewJob]) -> Self {
        let mut groups: Vec<(&str, &str, u64)> = Vec::new();
        for job in jobs {
            match groups.iter_mut().find(|(q, w, _)| *q == job.queue && *w == job.worker) {
                Some(group) => group.2 += 1,
                None => groups.push((&job.queue, &job.worker, 1)),
            }
        }
        EnqueueCount(
            groups
                .into_iter()
                .map(|(queue, worker, n)| {
                    let counter =
                        metrics::counter!(JOBS_ENQUEUED, "queue" => queue.to_owned(), "worker" => worker.to_owned());
                    (counter, n)
                })
                .collect(),
        )
    }

    /// The write succeeded: count the jobs.
    pub fn record(self) {
        for (counter, n) in self.0 {
            counter.increment(n);
        }
    }
}

/// The `outcome` label of a run that ended with `outcome` and was decided `transition`:
/// `completed`, `retried`, `snoozed`, `dead`, `cancelled`, `timed_out` or `panicked`. A
/// timeout or panic keeps its own label whether it is retried or goes dead.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{Outcome, Transition, telemetry::outcome_label};
/// assert_eq!(outcome_label(&Outcome::Completed, &Transition::Done), "completed");
/// ```
pub fn outcome_label(outcome: &Outcome, transition: &Transition) -> &'static str {
    match (outcome, transition) {
        (Outcome::Completed, _) => "completed",
        (Outcome::Snoozed { .. }, _) => "snoozed",
        (Outcome::TimedOut { .. }, _) => "timed_out",
        (Outcome::Panicked { .. }, _) => "panicked",
        (_, Transition::Done) => "completed",
        (_, Transition::Queued { .. }) => "retried",
        (_, Transition::Dead { .. }) => "dead",
        (_, Transition::Cancelled { .. }) => "cancelled",
    }
}

/// Count a failed store call of the runner (`backtick_store_errors_total{transient}`).
pub(crate) fn record_store_error(error: &StoreError) {
    let transient = if error.is_transient() { "true" } else { "false" };
    metrics::counter!(STORE_ERRORS, "transient" => transient).increment(1);
}
