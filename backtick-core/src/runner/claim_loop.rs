//! The claim loop: wait for free slots and for work, claim jobs in one store call, hand each
//! job to the bounded pool ([`executor`]). Read this first.
//!
//! The loop never spins: when a claim comes back short it waits for a wake-up hint, the next
//! due time of a job it could claim (asked of the store) or the poll interval, whichever comes
//! first; when the store fails it backs off exponentially up to five seconds. Its first claim
//! goes out at once; it claims again when the store's hints go live (`wakeups.rs`).
//!
//! A claim asks for the free slots plus a claim-ahead ([`ClaimAhead`]) and holds the jobs it
//! cannot start yet (claimed, leased, heartbeated) for the next free slots. When the runner
//! stops, the held jobs never started are released (due again at once, attempt refunded),
//! and the running ones are drained ([`drain`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::job::Job;
use crate::runner::claim_ahead::ClaimAhead;
use crate::runner::claims::Phase;
use crate::runner::executor::{self, Claimed};
use crate::runner::{Shared, drain};
use crate::state::{Finish, transition_for_release};
use crate::store::ClaimParams;
use crate::telemetry::{CLAIM_BATCH_SIZE, CLAIM_DURATION, record_store_error};

/// How long the loop waits for more slots to free up before claiming for fewer, so that a
/// busy runner claims in batches rather than one job per round trip.
const REFILL_WAIT: Duration = Duration::from_millis(2);
/// How often an idle claim loop polls while the store's hints are not live yet (its listener
/// is connecting, a few milliseconds after start): a job enqueued then is not hinted, and
/// this bounds its wait without a fast poll for the rest of the runner's life.
pub(crate) const STARTUP_POLL: Duration = Duration::from_millis(1);
/// The waits after failed claims: capped at a second, so that a runner claims again within a
/// second of the database having a connection for it (a full server, a restart).
const ERROR_BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));

/// Claim and run jobs until `stop` fires, then release the held jobs and drain: wait for
/// running jobs up to the shutdown timeout, stop the rest and release them.
pub(crate) async fn run(shared: Arc<Shared>, finishes: mpsc::UnboundedSender<Finish>, stop: CancellationToken) {
    set_queue_limits(&shared).await;
    let mut claim_loop = ClaimLoop::new(shared, finishes, stop);
    while claim_loop.turn().await {}
    claim_loop.shut_down().await;
}

/// Store the queue limits of the runner's configuration, before its first claim. A failure is
/// logged: the queue keeps the limits it had.
async fn set_queue_limits(shared: &Shared) {
    for (queue, limits) in &shared.config.queue_limits {
        match shared.store.set_queue_limits(queue, limits, shared.clock.now()).await {
            Ok(()) => tracing::info!(queue = %queue, %limits, "queue limits set"),
            Err(error) => {
                tracing::warn!(queue = %queue, %limits, %error, "setting queue limits failed; the queue keeps its stored limits")
            }
        }
    }
}

/// The loop's state between turns.
struct ClaimLoop {
    shared: Arc<Shared>,
    finishes: mpsc::UnboundedSender<Finish>,
    stop: CancellationToken,
    concurrency: usize,
    slots: Arc<Semaphore>,
    pool: JoinSet<()>,
    /// Claimed jobs waiting for a slot, oldest first.
    held: VecDeque<Claimed>,
    ahead: ClaimAhead,
    error_backoff: Backoff,
    /// The failed claims since the last success, logged as one episode.
    trouble: crate::trouble::Trouble,
}

impl ClaimLoop {
    fn new(shared: Arc<Shared>, finishes: mpsc::UnboundedSender<Finish>, stop: CancellationToken) -> Self {
        let concurrency = shared.config.concurrency;
        ClaimLoop {
            shared,
            finishes,
            stop,
            concurrency,
            slots: Arc::new(Semaphore::new(concurrency)),
            pool: JoinSet::new(),
            held: VecDeque::new(),
            ahead: ClaimAhead::new(concurrency),
            error_backoff: ERROR_BACKOFF,
            trouble: crate::trouble::Trouble::default(),
        }
    }

    /// One turn: wait for free slots, give them to held jobs, claim for the rest. `false`
    /// once `stop` fires.
    async fn turn(&mut self) -> bool {
        while self.pool.try_join_next().is_some() {}
        let Some(mut permits) = self.free_slots().await else {
            return false;
        };
        self.start_held(&mut permits);
        if !permits.is_empty() {
            self.claim_for(permits).await;
        }
        true
    }

    /// At least one free slot; then, when no job is held, as many more as free up within
    /// [`REFILL_WAIT`] (up to a quarter of the concurrency), else only those free right now.
    /// `None` once `stop` fires.
    async fn free_slots(&self) -> Option<Vec<OwnedSemaphorePermit>> {
        let first = tokio::select! {
            biased;
            _ = self.stop.cancelled() => return None,
            permit = self.slots.clone().acquire_owned() => permit.ok()?,
        };
        let mut permits = vec![first];
        let want = if self.held.is_empty() {
            (self.concurrency / 4).max(1)
        } else {
            1
        };
        let deadline = Instant::now() + REFILL_WAIT;
        while permits.len() < self.concurrency {
            match self.slots.clone().try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) if permits.len() >= want => break,
                Err(_) => match tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permits.push(permit),
                    _ => break,
                },
            }
        }
        Some(permits)
    }

    /// Start as many held jobs as there are `permits`, taking their permits.
    fn start_held(&mut self, permits: &mut Vec<OwnedSemaphorePermit>) {
        let starting = permits.len().min(self.held.len());
        if starting == 0 {
            return;
        }
        let tokens = self.held.iter().take(starting).map(|claimed| &claimed.token);
        self.shared.claims.set_phase(tokens, Phase::Running);
        self.start_front(permits.drain(..starting));
    }

    /// Run the oldest held jobs, one per permit.
    fn start_front(&mut self, permits: impl Iterator<Item = OwnedSemaphorePermit>) {
        for permit in permits {
            let Some(claimed) = self.held.pop_front() else { return };
            executor::spawn(&mut self.pool, &self.shared, &self.finishes, claimed, permit);
        }
    }

    /// Claim for `permits` plus the claim-ahead; start what the permits allow, hold the rest.
    async fn claim_for(&mut self, mut permits: Vec<OwnedSemaphorePermit>) {
        let limit = permits.len() + self.ahead.size();
        let asked_at = self.ahead.asking();
        match claim(&self.shared, limit).await {
            Ok(jobs) => {
                self.error_backoff.reset();
                self.trouble.worked("claiming jobs");
                let full = jobs.len() == limit;
                self.ahead.answered(asked_at, full);
                // The plain claim's jobs start before the limited claim goes out, so that they
                // never wait for its round trip.
                let starting = permits.len().min(jobs.len());
                let left = permits.split_off(starting);
                self.take(jobs, starting);
                self.start_front(permits.into_iter());
                // Limited queues get the slots the plain claim left, never a claim-ahead: a
                // held job would keep one of the queue's global slots without running.
                let want = left.len();
                let filled = if want > 0 {
                    let limited = claim_limited(&self.shared, want).await;
                    let filled = limited.len() == want;
                    // Held jobs exist only when the plain claim filled every permit.
                    self.take(limited, want);
                    self.start_front(left.into_iter());
                    filled
                } else {
                    false
                };
                if !full && !filled && self.held.is_empty() {
                    self.wait_for_work().await;
                }
            }
            Err(error) => {
                drop(permits);
                self.back_off(error).await;
            }
        }
    }

    /// Check the claimed `jobs` and add them to `held`, in order; track their claims, the
    /// first `starting` as running. `held` is empty before: a claim is only made for slots
    /// left over once every held job has started.
    fn take(&mut self, jobs: Vec<Job>, starting: usize) {
        debug_assert!(self.held.is_empty(), "claimed while jobs were held");
        self.held.extend(
            jobs.into_iter()
                .filter_map(|job| check(&self.shared, &self.finishes, job)),
        );
        if self.held.is_empty() {
            return;
        }
        let claims = self.held.iter().map(|claimed| (&claimed.token, &claimed.cancel));
        self.shared.claims.track(claims, starting);
    }

    /// Sleep until the next job this runner could claim falls due (as the store tells), at
    /// most the poll interval (only [`STARTUP_POLL`] while the hints are not live yet); woken
    /// early by a hint (a job was enqueued, or the completer requeued one) or by `stop`.
    async fn wait_for_work(&self) {
        let poll = self.shared.config.poll_interval;
        let sleep = if !self.shared.hints_live.load(std::sync::atomic::Ordering::Acquire) {
            STARTUP_POLL.min(poll)
        } else {
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                _ = self.shared.wake.notified() => return,
                due = next_due(&self.shared, poll) => due.map_or(poll, |due| due.min(poll)),
            }
        };
        tokio::select! {
            _ = self.stop.cancelled() => {}
            _ = self.shared.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }

    async fn back_off(&mut self, error: crate::StoreError) {
        if matches!(error, crate::StoreError::NotMigrated { .. }) {
            // Retrying cannot create the schema: say so once and stop claiming.
            tracing::error!(%error, runner_id = %self.shared.config.runner_id, "the runner stops claiming");
            self.stop.cancel();
            return;
        }
        let delay = self.error_backoff.next_delay();
        self.trouble.failed("claiming jobs", &error);
        tokio::select! {
            _ = self.stop.cancelled() => {}
            _ = tokio::time::sleep(delay) => {}
        }
    }

    /// Release the held jobs, then drain the pool.
    async fn shut_down(mut self) {
        self.release_held();
        drain::run(&self.shared, self.pool, &self.finishes).await;
    }

    /// Give back the jobs claimed ahead and never started: due again at once, attempt refunded.
    /// A held job whose lease was lost is dropped: nothing of ours to give back. (Once marked
    /// completing, a job can no longer be lost, so the two passes agree.)
    fn release_held(&mut self) {
        let live = self.held.iter().filter(|claimed| !claimed.cancel.is_cancelled());
        self.shared
            .claims
            .set_phase(live.map(|claimed| &claimed.token), Phase::Completing);
        for Claimed { token, cancel, .. } in self.held.drain(..) {
            if !cancel.is_cancelled() {
                let _ = self.finishes.send(Finish {
                    token,
                    transition: transition_for_release(),
                });
            }
        }
    }
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
    let asked_at = Instant::now();
    let jobs = shared.store.claim(&params).await.inspect_err(record_store_error)?;
    metrics::histogram!(CLAIM_DURATION).record(asked_at.elapsed().as_secs_f64());
    metrics::histogram!(CLAIM_BATCH_SIZE).record(jobs.len() as f64);
    shared.stats.add_claimed(jobs.len());
    Ok(jobs)
}

/// [`QueueStore::claim_limited`] for `want` jobs: the slots the plain claim left to queues with
/// limits. A failure is logged and counts as nothing claimed: the plain claim's jobs still run,
/// and the next turn tries again.
///
/// [`QueueStore::claim_limited`]: crate::QueueStore::claim_limited
async fn claim_limited(shared: &Shared, want: usize) -> Vec<Job> {
    let params = ClaimParams {
        runner_id: shared.config.runner_id.clone(),
        workers: shared.worker_names.clone(),
        queues: shared.config.queues.clone(),
        limit: u32::try_from(want).unwrap_or(u32::MAX),
        lease_ttl: shared.config.lease_ttl,
        now: shared.clock.now(),
    };
    match shared.store.claim_limited(&params).await {
        Ok(jobs) => {
            if !jobs.is_empty() {
                shared.limited_active.store(true, std::sync::atomic::Ordering::Relaxed);
                shared.stats.add_claimed(jobs.len());
            }
            jobs
        }
        Err(error) => {
            record_store_error(&error);
            tracing::warn!(%error, "claiming jobs of limited queues failed; trying again at the next claim");
            Vec::new()
        }
    }
}

/// How long until the next job this runner could claim falls due, within `within`; `None`
/// when none does or the store cannot tell (an error is logged at debug: the poll covers it).
async fn next_due(shared: &Shared, within: Duration) -> Option<Duration> {
    let queues = shared.config.queues.as_deref();
    match shared
        .store
        .next_due(&shared.worker_names, queues, within, shared.clock.now())
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::debug!(%error, "asking the store for the next due job failed; polling");
            None
        }
    }
}

/// A claimed job this runner can run, with a cancel token of its own; `None` (after logging,
/// and releasing it when it has a token) for one it cannot.
fn check(shared: &Shared, finishes: &mpsc::UnboundedSender<Finish>, job: Job) -> Option<Claimed> {
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
    Some(Claimed {
        job,
        token,
        worker,
        cancel,
    })
}
