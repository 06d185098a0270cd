//! One job's life on the pool, as a short chain of steps: run the worker (under a timeout,
//! catching a panic), release the slot, log how it ended, decide the transition, and hand
//! the fenced [`Finish`] to the completer.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::cancel::{CancelReason, JobCancellation};
use crate::job::{ClaimToken, Job, JobId};
use crate::retry::RetryPolicy;
use crate::runner::Shared;
use crate::runner::claims::Phase;
use crate::state::{Finish, Outcome, Transition, outcome_after_cancel_request, transition_for};
use crate::telemetry::job_metrics::Handles;
use crate::telemetry::outcome_label;
use crate::worker::{JobContext, Worker};

/// A claimed job ready to run: its claim tracked (so heartbeats keep its lease), its worker
/// found.
pub(crate) struct Claimed {
    pub(crate) job: Job,
    pub(crate) token: ClaimToken,
    pub(crate) worker: Arc<dyn Worker>,
    /// Cancelled when its lease is lost or shutdown stops waiting.
    pub(crate) cancel: CancellationToken,
}

/// Run `claimed` on `pool`, holding `permit` (its slot) until its run is over. A job whose
/// lease the heartbeat found lost while it was held is dropped: it is someone else's now.
pub(crate) fn spawn(
    pool: &mut JoinSet<()>,
    shared: &Arc<Shared>,
    finishes: &mpsc::UnboundedSender<Finish>,
    claimed: Claimed,
    permit: OwnedSemaphorePermit,
) {
    if claimed.cancel.is_cancelled() {
        return;
    }
    let timeout = claimed.worker.options().timeout.unwrap_or(shared.config.job_timeout);
    pool.spawn(live(shared.clone(), finishes.clone(), claimed, timeout, permit));
}

/// A job's whole life, once started.
async fn live(
    shared: Arc<Shared>,
    finishes: mpsc::UnboundedSender<Finish>,
    claimed: Claimed,
    timeout: Duration,
    permit: OwnedSemaphorePermit,
) {
    let Claimed {
        job,
        token,
        worker,
        cancel,
    } = claimed;
    let about = About::of(&job);
    let span = about.span(&token);
    let slot = Slot::taken(&shared, &job);
    // The claim's cancellation, shared with the heartbeat and the cancel listener, so that
    // the job's context learns why its work is stopped.
    let cancellation = shared
        .claims
        .cancellation(&token)
        .unwrap_or_else(|| JobCancellation::new(cancel));
    let ctx = JobContext::with_cancellation(job, cancellation.clone())
        .with_states(shared.states.clone())
        .with_retry_policy(shared.config.retry_policy);
    let completed = ctx.clone();
    let outcome = run(ctx, worker, timeout, &cancellation).instrument(span.clone()).await;
    // An operator's request wins over anything but success.
    let outcome = match cancellation.reason() {
        Some(CancelReason::Requested { reason }) => outcome_after_cancel_request(outcome, &reason),
        _ => outcome,
    };
    drop(permit);
    shared.claims.set_phase(std::iter::once(&token), Phase::Completing);
    // A failure the worker committed in its own transaction (`fail_in`) and then returned
    // `Ok`: that write was the run's finish; it is what is logged and counted.
    let recorded = match (&outcome, completed.recorded_failure()) {
        (Outcome::Completed, Some(recorded)) => Some(recorded),
        _ => None,
    };
    let written_by_worker = recorded.is_some() || (outcome == Outcome::Completed && completed.is_completed());
    let (outcome, finish) = match recorded {
        Some((failure, transition)) => (failure, Finish { token, transition }),
        None => {
            let finish = decide(token, about.max_attempts, &outcome, &shared.config.retry_policy);
            (outcome, finish)
        }
    };
    let label = outcome_label(&outcome, &finish.transition);
    slot.freed(label);
    span.record("outcome", label);
    span.in_scope(|| about.log(&outcome, &finish.transition));
    if written_by_worker {
        // The worker committed the job's completion (or failure) in its own transaction,
        // fenced by this claim: there is nothing left to write, only the claim to drop and the
        // count to keep.
        let report = crate::store::FinishReport {
            applied: vec![finish.token.job_id],
            stale: Vec::new(),
        };
        shared.stats.record_finished(std::slice::from_ref(&finish), &report);
        shared.claims.forget(std::iter::once(&finish.token));
        return;
    }
    let _ = finishes.send(finish);
}

/// A run's slot, for the metrics: taken when the run starts, freed when it ends (or when its
/// task is aborted at shutdown, so the gauges never drift).
struct Slot {
    handles: Arc<Handles>,
    slots_free: metrics::Gauge,
    started: Instant,
    ended: bool,
}

impl Slot {
    fn taken(shared: &Shared, job: &Job) -> Self {
        let handles = shared.job_metrics.of(&job.queue, &job.worker);
        let now = shared.clock.now().unwrap_or_else(chrono::Utc::now);
        handles.started((now - job.run_at).to_std().unwrap_or_default());
        shared.slots_free.decrement(1.0);
        Slot {
            handles,
            slots_free: shared.slots_free.clone(),
            started: Instant::now(),
            ended: false,
        }
    }

    /// The run ended with the outcome labelled `outcome`.
    fn freed(mut self, outcome: &str) {
        self.handles.ended(self.started.elapsed(), Some(outcome));
        self.ended = true;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.ended {
            self.handles.ended(self.started.elapsed(), None);
        }
        self.slots_free.increment(1.0);
    }
}

/// Run `job` on `worker` and report how it ended. Never panics, never hangs past `timeout`.
async fn run(ctx: JobContext, worker: Arc<dyn Worker>, timeout: Duration, cancellation: &JobCancellation) -> Outcome {
    let run = AssertUnwindSafe(worker.perform(ctx)).catch_unwind();
    let outcome = match tokio::time::timeout(timeout, run).await {
        Err(_elapsed) => {
            cancellation.cancel(CancelReason::TimedOut);
            Outcome::TimedOut { after: timeout }
        }
        Ok(Err(panic)) => Outcome::Panicked {
            message: panic_message(panic.as_ref()),
        },
        Ok(Ok(Ok(()))) => Outcome::Completed,
        Ok(Ok(Err(error))) => error.into_outcome(),
    };
    // Whatever the worker spawned off its context learns the run is over.
    cancellation.token().cancel();
    outcome
}

/// The fenced write for the run of claim `token` (of `max_attempts`) that ended with `outcome`.
fn decide(token: ClaimToken, max_attempts: i32, outcome: &Outcome, policy: &RetryPolicy) -> Finish {
    let transition = transition_for(outcome, token.attempt, max_attempts, policy, rand::random::<f64>());
    Finish { token, transition }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// What the logs say about a job, kept from it before its worker takes it.
struct About {
    id: JobId,
    worker: String,
    queue: String,
    attempt: i32,
    max_attempts: i32,
    trace_context: Option<String>,
}

impl About {
    fn of(job: &Job) -> Self {
        About {
            id: job.id,
            worker: job.worker.clone(),
            queue: job.queue.clone(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            trace_context: job.trace_context.clone(),
        }
    }

    /// The `backtick.job` span of a run: job id, worker, queue, attempt and runner id; the
    /// outcome is recorded when the run ends. Never the arguments. It continues the job's
    /// stored trace through the installed trace propagation, if any.
    fn span(&self, token: &ClaimToken) -> tracing::Span {
        let span = tracing::info_span!(
            "backtick.job",
            job_id = %self.id,
            worker = %self.worker,
            queue = %self.queue,
            attempt = self.attempt,
            runner_id = %token.runner_id,
            outcome = tracing::field::Empty,
        );
        crate::telemetry::continue_trace(&span, self.trace_context.as_deref());
        span
    }

    /// Log how the run ended: a retry or cancel at info, a dead job at warn (with its error),
    /// the rest at debug.
    fn log(&self, outcome: &Outcome, transition: &Transition) {
        let About {
            id,
            worker,
            queue,
            attempt,
            max_attempts,
            ..
        } = self;
        match (outcome, transition) {
            (Outcome::Completed, _) => tracing::debug!(job_id = %id, %worker, "job done"),
            (Outcome::Snoozed { at }, _) => tracing::debug!(job_id = %id, %worker, ?at, "job snoozed"),
            (_, Transition::Dead { error }) => tracing::warn!(
                job_id = %id, %worker, %queue, attempt, max_attempts, %error, "job dead"
            ),
            (_, Transition::Queued { error, .. }) => tracing::info!(
                job_id = %id, %worker, %queue, attempt, max_attempts, error = error.as_deref().unwrap_or(""), "job failed; retrying"
            ),
            (_, Transition::Cancelled { reason }) => tracing::info!(
                job_id = %id, %worker, %queue, attempt, %reason, "job cancelled"
            ),
            (other, Transition::Done) => tracing::debug!(job_id = %id, %worker, outcome = ?other, "job done"),
        }
    }
}
