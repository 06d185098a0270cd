//! The claim loop: wait for free slots and for work, claim up to the free slots in one store
//! call, hand each job to the bounded pool. Read this first.
//!
//! The loop never spins: when a claim comes back short it waits for a wake-up hint or the
//! poll interval; when the store fails it backs off exponentially up to five seconds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::job::Job;
use crate::runner::{Shared, executor};
use crate::state::{Finish, transition_for_release};
use crate::store::ClaimParams;

/// How long the loop waits for more slots to free up before claiming for fewer, so that a
/// busy runner claims in batches rather than one job per round trip.
const REFILL_WAIT: Duration = Duration::from_millis(2);
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// Claim and run jobs until `stop` fires, then drain: wait for running jobs up to the
/// shutdown timeout, stop the rest and release them.
pub(crate) async fn run(shared: Arc<Shared>, finishes: mpsc::UnboundedSender<Finish>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(shared.config.concurrency));
    let mut pool = JoinSet::new();
    let mut error_backoff = Duration::from_millis(50);
    loop {
        while pool.try_join_next().is_some() {}
        let Some(mut permits) = free_slots(&slots, shared.config.concurrency, &stop).await else {
            break;
        };
        match claim(&shared, permits.len()).await {
            Ok(jobs) => {
                error_backoff = Duration::from_millis(50);
                let full = jobs.len() == permits.len();
                for (job, permit) in jobs.into_iter().zip(permits.drain(..)) {
                    spawn(&shared, &mut pool, &finishes, job, permit);
                }
                drop(permits);
                if !full {
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
    drain(&shared, pool, &finishes).await;
}

/// At least one free slot, plus as many more as free up within [`REFILL_WAIT`]. `None` once
/// `stop` fires.
async fn free_slots(
    slots: &Arc<Semaphore>,
    concurrency: usize,
    stop: &CancellationToken,
) -> Option<Vec<OwnedSemaphorePermit>> {
    let first = tokio::select! {
        biased;
        _ = stop.cancelled() => return None,
        permit = slots.clone().acquire_owned() => permit.ok()?,
    };
    let mut permits = vec![first];
    let want = (concurrency / 4).max(1);
    let deadline = tokio::time::Instant::now() + REFILL_WAIT;
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

fn spawn(
    shared: &Arc<Shared>,
    pool: &mut JoinSet<()>,
    finishes: &mpsc::UnboundedSender<Finish>,
    job: Job,
    permit: OwnedSemaphorePermit,
) {
    let Some(token) = job.claim_token() else {
        tracing::error!(job_id = %job.id, "the store returned a claimed job without a lease owner; skipping it");
        return;
    };
    let Some(worker) = shared.registry.get(&job.worker).cloned() else {
        // Claims only ask for our workers, so this is a store bug; give the job back untouched.
        tracing::error!(job_id = %job.id, worker = %job.worker, "claimed a job for a worker this runner lacks; releasing it");
        let _ = finishes.send(Finish {
            token,
            transition: transition_for_release(),
        });
        return;
    };
    let cancel = shared.hard_stop.child_token();
    shared.track(token.clone(), cancel.clone());
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
