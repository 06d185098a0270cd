//! The claim loop: wait for free slots and for work, claim jobs in one store call, hand each
//! job to the bounded pool. Read this first.
//!
//! The loop never spins: when a claim comes back short it waits for a wake-up hint or the
//! poll interval; when the store fails it backs off exponentially up to five seconds.
//!
//! A claim asks for the free slots plus a *claim-ahead* ([`ClaimAhead`]): when jobs finish
//! faster than a claim's round trip, waiting for slots to free up before claiming leaves the
//! pool idle for most of every round trip, so the loop claims more than it can start and
//! holds the rest (claimed, leased, heartbeated, not yet running) for the next free slots.
//! The claim-ahead grows while the loop is bound by claims and shrinks when held jobs wait
//! for slots, so a runner of slow jobs claims only what it can start, as before. Held jobs
//! never started are released (due again at once, attempt refunded) when the runner stops.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::job::{ClaimToken, Job};
use crate::runner::{Shared, executor};
use crate::state::{Finish, transition_for_release};
use crate::store::ClaimParams;
use crate::worker::Worker;

/// How long the loop waits for more slots to free up before claiming for fewer, so that a
/// busy runner claims in batches rather than one job per round trip.
const REFILL_WAIT: Duration = Duration::from_millis(2);
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(5);
/// The claim-ahead is at most this many times the concurrency.
const MAX_AHEAD_PER_SLOT: usize = 8;

/// Claim and run jobs until `stop` fires, then release the held jobs and drain: wait for
/// running jobs up to the shutdown timeout, stop the rest and release them.
pub(crate) async fn run(shared: Arc<Shared>, finishes: mpsc::UnboundedSender<Finish>, stop: CancellationToken) {
    let concurrency = shared.config.concurrency;
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut pool = JoinSet::new();
    let mut held: VecDeque<Held> = VecDeque::new();
    let mut ahead = ClaimAhead::new(concurrency);
    let mut error_backoff = Duration::from_millis(50);
    loop {
        while pool.try_join_next().is_some() {}
        let Some(mut permits) = free_slots(&slots, concurrency, held.is_empty(), &stop).await else {
            break;
        };
        while !permits.is_empty()
            && let Some(job) = held.pop_front()
        {
            if let Some(permit) = permits.pop() {
                start(&shared, &mut pool, &finishes, job, permit);
            }
        }
        if permits.is_empty() {
            continue;
        }
        let limit = permits.len() + ahead.size();
        let asked_at = ahead.asking();
        match claim(&shared, limit).await {
            Ok(jobs) => {
                error_backoff = Duration::from_millis(50);
                let full = jobs.len() == limit;
                ahead.answered(asked_at, full);
                let mut jobs = jobs.into_iter().filter_map(|job| take(&shared, &finishes, job));
                // Permits first: `zip` pulls from its first iterator before it finds the second
                // empty, and a job pulled that way would be lost.
                for (permit, job) in permits.drain(..).zip(jobs.by_ref()) {
                    start(&shared, &mut pool, &finishes, job, permit);
                }
                drop(permits);
                held.extend(jobs);
                if !full && held.is_empty() {
                    wait_for_work(&shared, &stop).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?error_backoff, "claiming jobs failed; backing off");
                drop(permits);
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(error_backoff) => {}
                }
                error_backoff = (error_backoff * 2).min(MAX_ERROR_BACKOFF);
            }
        }
    }
    release_held(&shared, held, &finishes);
    drain(&shared, pool, &finishes).await;
}

/// How many jobs a claim asks for beyond the free slots. Starts at zero. A claim that comes
/// back full and is followed by the next claim within one round trip means the pool ran dry
/// waiting for claims: the claim-ahead doubles (from a quarter of the concurrency), up to
/// [`MAX_AHEAD_PER_SLOT`] times the concurrency. A next claim only after four round trips
/// means held jobs waited for slots: it halves.
struct ClaimAhead {
    size: usize,
    max: usize,
    step: usize,
    /// When the last claim was answered, how long it took, and whether it came back full.
    last: Option<(Instant, Duration, bool)>,
}

impl ClaimAhead {
    fn new(concurrency: usize) -> Self {
        ClaimAhead {
            size: 0,
            max: concurrency.saturating_mul(MAX_AHEAD_PER_SLOT),
            step: (concurrency / 4).max(1),
            last: None,
        }
    }

    fn size(&self) -> usize {
        self.size
    }

    /// A claim is about to be made: adapt to how soon after the last one, and return its start.
    fn asking(&mut self) -> Instant {
        let now = Instant::now();
        if let Some((answered_at, round_trip, full)) = self.last {
            let gap = now.saturating_duration_since(answered_at);
            if full && gap < round_trip {
                self.size = (self.size * 2).max(self.step).min(self.max);
            } else if gap > round_trip * 4 {
                self.size /= 2;
            }
        }
        now
    }

    fn answered(&mut self, asked_at: Instant, full: bool) {
        let now = Instant::now();
        self.last = Some((now, now.saturating_duration_since(asked_at), full));
    }
}

/// At least one free slot; then, when `gather`, as many more as free up within
/// [`REFILL_WAIT`] (up to a quarter of the concurrency), else only those free right now.
/// `None` once `stop` fires.
async fn free_slots(
    slots: &Arc<Semaphore>,
    concurrency: usize,
    gather: bool,
    stop: &CancellationToken,
) -> Option<Vec<OwnedSemaphorePermit>> {
    let first = tokio::select! {
        biased;
        _ = stop.cancelled() => return None,
        permit = slots.clone().acquire_owned() => permit.ok()?,
    };
    let mut permits = vec![first];
    let want = if gather { (concurrency / 4).max(1) } else { 1 };
    let deadline = Instant::now() + REFILL_WAIT;
    while permits.len() < concurrency {
        match slots.clone().try_acquire_owned() {
            Ok(permit) => permits.push(permit),
            Err(_) if permits.len() >= want => break,
            Err(_) => match tokio::time::timeout_at(deadline, slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permits.push(permit),
                _ => break,
            },
        }
    }
    Some(permits)
}

async fn claim(shared: &Shared, limit: usize) -> Result<Vec<Job>, crate::StoreError> {
    let params = ClaimParams {
        runner_id: shared.config.runner_id.clone(),
        workers: shared.worker_names.clone(),
        queues: shared.config.queues.clone(),
        limit: u32::try_from(limit).unwrap_or(u32::MAX),
        lease_ttl: shared.config.lease_ttl,
        now: shared.clock.now(),
    };
    let jobs = shared.store.claim(&params).await?;
    shared.stats.add_claimed(jobs.len());
    Ok(jobs)
}

async fn wait_for_work(shared: &Shared, stop: &CancellationToken) {
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = shared.wake.notified() => {}
        _ = tokio::time::sleep(shared.config.poll_interval) => {}
    }
}

/// A claimed job this runner holds: its claim tracked (so heartbeats keep its lease), its
/// worker found, not yet started.
struct Held {
    job: Job,
    token: ClaimToken,
    worker: Arc<dyn Worker>,
    cancel: CancellationToken,
}

/// Check and track a claimed job; `None` (after logging, and releasing it when it has a
/// token) for a job this runner cannot run.
fn take(shared: &Shared, finishes: &mpsc::UnboundedSender<Finish>, job: Job) -> Option<Held> {
    let Some(token) = job.claim_token() else {
        tracing::error!(job_id = %job.id, "the store returned a claimed job without a lease owner; skipping it");
        return None;
    };
    let Some(worker) = shared.registry.get(&job.worker).cloned() else {
        // Claims only ask for our workers, so this is a store bug; give the job back untouched.
        tracing::error!(job_id = %job.id, worker = %job.worker, "claimed a job for a worker this runner lacks; releasing it");
        let _ = finishes.send(Finish {
            token,
            transition: transition_for_release(),
        });
        return None;
    };
    let cancel = shared.hard_stop.child_token();
    shared.track(token.clone(), cancel.clone());
    Some(Held {
        job,
        token,
        worker,
        cancel,
    })
}

/// Run a held job on the pool, holding `permit` until its run is over.
fn start(
    shared: &Arc<Shared>,
    pool: &mut JoinSet<()>,
    finishes: &mpsc::UnboundedSender<Finish>,
    held: Held,
    permit: OwnedSemaphorePermit,
) {
    let Held {
        job,
        token,
        worker,
        cancel,
    } = held;
    if cancel.is_cancelled() {
        // The heartbeat found its lease lost while it was held: it is someone else's now.
        return;
    }
    let timeout = worker.options().timeout.unwrap_or(shared.config.job_timeout);
    let (shared, finishes) = (shared.clone(), finishes.clone());
    pool.spawn(async move {
        let about = About {
            id: job.id,
            worker: job.worker.clone(),
            queue: job.queue.clone(),
            attempt: job.attempt,
        };
        let max_attempts = job.max_attempts;
        let span = tracing::debug_span!("job", id = %about.id, worker = %about.worker, attempt = about.attempt);
        let outcome = tracing::Instrument::instrument(executor::run_job(job, worker, timeout, cancel), span).await;
        drop(permit);
        about.log(&outcome, max_attempts);
        shared.stop_executing(&token);
        let finish = executor::finish_for(token, max_attempts, &outcome, &shared.config.retry_policy);
        let _ = finishes.send(finish);
    });
}

/// Give back the jobs claimed ahead and never started: due again at once, attempt refunded.
fn release_held(shared: &Shared, held: VecDeque<Held>, finishes: &mpsc::UnboundedSender<Finish>) {
    for Held { token, cancel, .. } in held {
        if cancel.is_cancelled() {
            continue; // its lease was lost: nothing of ours to give back
        }
        shared.stop_executing(&token);
        let _ = finishes.send(Finish {
            token,
            transition: transition_for_release(),
        });
    }
}

/// What the logs say about a job once its run is over.
struct About {
    id: crate::JobId,
    worker: String,
    queue: String,
    attempt: i32,
}

impl About {
    fn log(&self, outcome: &crate::state::Outcome, max_attempts: i32) {
        use crate::state::Outcome;
        let About {
            id,
            worker,
            queue,
            attempt,
        } = self;
        match outcome {
            Outcome::Completed => tracing::debug!(job_id = %id, %worker, "job done"),
            Outcome::Snoozed { at } => tracing::debug!(job_id = %id, %worker, ?at, "job snoozed"),
            other => tracing::warn!(
                job_id = %id, %worker, %queue, attempt, max_attempts, outcome = ?other, "job did not complete"
            ),
        }
    }
}

/// Wait for running jobs up to the shutdown timeout; then stop the rest and release them so
/// another runner can take them at once.
async fn drain(shared: &Shared, mut pool: JoinSet<()>, finishes: &mpsc::UnboundedSender<Finish>) {
    let deadline = tokio::time::Instant::now() + shared.config.shutdown_timeout;
    loop {
        tokio::select! {
            joined = pool.join_next() => if joined.is_none() { return },
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    tracing::warn!(
        running = pool.len(),
        "shutdown timeout reached; stopping and releasing the jobs still running"
    );
    shared.hard_stop.cancel();
    pool.abort_all();
    while pool.join_next().await.is_some() {}
    for token in shared.still_executing() {
        let _ = finishes.send(Finish {
            token,
            transition: transition_for_release(),
        });
    }
}
