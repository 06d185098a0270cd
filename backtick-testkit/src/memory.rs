//! [`MemoryStore`]: the whole [`QueueStore`] and [`backtick_core::admin::QueueAdmin`]
//! contract in process memory. It is the reference semantics every backend must match,
//! checked by the same conformance suite and property test that backends run.

mod admin;
mod bookkeeping;
mod flow;

use backtick_core::telemetry::EnqueueCount;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use backtick_core::admin::{
    CancelReceiver, CancelRequest, RunnerInfo, ScheduleRunRequest, UNSERVED_SCAN, UnservedWorker,
};
use backtick_core::flow::{JobGraph, QueueLimits, Readiness};
use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::state::{Finish, Transition};
use backtick_core::{
    ClaimParams, ClaimToken, Enqueued, FinishReport, Job, JobFilter, JobId, JobState, NewJob, QueueStore, RunAt,
    RunnerId, StateCounts, StoreError, Timestamp, WakeReceiver, unique_holds, unique_period_key,
};
use backtick_core::{CompletionError, JobContext, completed, completion_of, failed, failure_of};
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::broadcast;

use bookkeeping::Bookkeeping;

/// How many wake-up hints a slow subscriber may fall behind before it misses some. Hints are
/// lossy by contract, so a small buffer is enough.
const WAKE_CAPACITY: usize = 1024;

/// An in-memory [`QueueStore`] and [`backtick_core::admin::QueueAdmin`]: the reference
/// semantics of both contracts, for tests and for trying backtick without a database.
///
/// Every rule a backend must follow holds here in its plainest form: fenced writes, claims in
/// priority then `run_at` then id order, unique keys, atomic batches. Timestamps are kept to
/// whole microseconds, as PostgreSQL stores them, so a test that passes here sees the same
/// values on a database. `now: None` reads the system clock.
///
/// Clones share the same jobs. Ids are assigned from 1 upward.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobState, NewJob, QueueStore};
/// use backtick_testkit::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let id = store.enqueue(NewJob::new("send_mail", &"ada@example.com")?, None).await?;
/// let job = store.get(id).await?.expect("the job was stored");
/// assert_eq!(job.state, JobState::Queued);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    // A std mutex rather than tokio's: every critical section is a few map operations and the
    // lock is never held across an `.await`, so blocking briefly is cheaper than an async lock
    // (the advice in tokio's docs on shared state). One lock around all jobs also makes every
    // method trivially atomic, which is exactly the isolation the contract asks of a backend.
    state: Mutex<State>,
    wake: broadcast::Sender<String>,
    cancels: broadcast::Sender<JobId>,
}

#[derive(Default)]
struct State {
    last_id: i64,
    jobs: BTreeMap<JobId, Job>,
    /// unique key (as held: with its period bucket) -> the jobs with it, until they are
    /// pruned; the holder is the one whose state is among its unique states.
    unique: HashMap<String, Vec<JobId>>,
    /// The unique states of the jobs that have them (the others hold their key in every state).
    unique_states: HashMap<JobId, Vec<JobState>>,
    /// Recurring and cron schedules by name.
    schedules: BTreeMap<String, ScheduleRecord>,
    /// What the admin contract keeps beside them.
    admin: Bookkeeping,
    /// Queue limits, rate windows and pending jobs' parents.
    flow: flow::Flow,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let (wake, _) = broadcast::channel(WAKE_CAPACITY);
        let (cancels, _) = broadcast::channel(WAKE_CAPACITY);
        MemoryStore {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake,
                cancels,
            }),
        }
    }

    /// Every job in the store, lowest id first. A synchronous snapshot for test assertions.
    pub fn snapshot(&self) -> Vec<Job> {
        self.lock().jobs.values().cloned().collect()
    }

    /// The in-memory counterpart of `complete_in` (`backtick_postgres::complete_in`,
    /// `backtick_diesel::complete_in`): atomically, complete the job of `ctx` under its claim
    /// token and run `write` (the worker's "transaction"), or, when the claim is stale, do
    /// neither and return [`CompletionError::Stale`]. `now: None` reads the system clock.
    ///
    /// # Errors
    /// As `complete_in`: [`CompletionError::Stale`], [`CompletionError::NoClaim`].
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use backtick_postgres::{ClaimParams, JobContext, JobState, NewJob, QueueStore, RunnerId};
    /// use backtick_testkit::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let id = store.enqueue(NewJob::new("credit", &5)?, None).await?;
    /// let params = ClaimParams {
    ///     runner_id: RunnerId::new("r1"),
    ///     workers: vec!["credit".into()],
    ///     queues: None,
    ///     limit: 1,
    ///     lease_ttl: std::time::Duration::from_secs(30),
    ///     now: None,
    /// };
    /// let job = store.claim(&params).await?.remove(0);
    /// let ctx = JobContext::new(job, Default::default());
    /// let mut balance = 0;
    /// store.complete_in(&ctx, || balance += 5, None)?;
    /// assert_eq!(balance, 5);
    /// assert_eq!(store.get(id).await?.unwrap().state, JobState::Done);
    /// assert!(store.complete_in(&ctx, || balance += 5, None).is_err(), "stale the second time");
    /// assert_eq!(balance, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn complete_in(
        &self,
        ctx: &JobContext,
        write: impl FnOnce(),
        now: Option<Timestamp>,
    ) -> Result<(), CompletionError> {
        let finish = completion_of(ctx)?;
        let report = self.finish_in(&finish, write, now);
        completed(ctx, &finish, &report)
    }

    /// Apply `finish` as the caller's transaction would, calling `write` (the caller's own
    /// writes) only when it took effect; then release or cancel the jobs waiting for it, as
    /// after any finish.
    fn finish_in(&self, finish: &Finish, write: impl FnOnce(), now: Option<Timestamp>) -> FinishReport {
        let now = resolve_now(now);
        let (report, released) = {
            let mut state = self.lock();
            let report = state.finish(std::slice::from_ref(finish), now, false, |_| true);
            if report.applied.contains(&finish.token.job_id) {
                write();
            }
            (report, state.settle(now))
        };
        self.hint(released);
        report
    }

    /// The in-memory counterpart of `fail_in` (`backtick_postgres::fail_in`,
    /// `backtick_diesel::fail_in`): atomically, record the failure of the job of `ctx` with
    /// `reason` under its claim token (the state machine's retry, or dead when no attempts
    /// are left) and run `write` (the worker's "transaction"), or, when the claim is stale,
    /// do neither and return [`CompletionError::Stale`]. `now: None` reads the system clock.
    ///
    /// # Errors
    /// As `fail_in`: [`CompletionError::Stale`], [`CompletionError::NoClaim`].
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use backtick_postgres::{ClaimParams, JobContext, JobState, NewJob, QueueStore, RunnerId};
    /// use backtick_testkit::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let id = store.enqueue(NewJob::new("charge", &5)?, None).await?;
    /// let params = ClaimParams {
    ///     runner_id: RunnerId::new("r1"),
    ///     workers: vec!["charge".into()],
    ///     queues: None,
    ///     limit: 1,
    ///     lease_ttl: std::time::Duration::from_secs(30),
    ///     now: None,
    /// };
    /// let job = store.claim(&params).await?.remove(0);
    /// let ctx = JobContext::new(job, Default::default());
    /// let mut attempts_logged = 0;
    /// store.fail_in(&ctx, "declined", || attempts_logged += 1, None)?;
    /// assert_eq!(attempts_logged, 1);
    /// let job = store.get(id).await?.unwrap();
    /// assert_eq!(job.state, JobState::Queued, "retried: attempts remain");
    /// assert!(store.fail_in(&ctx, "declined", || attempts_logged += 1, None).is_err(), "stale the second time");
    /// assert_eq!(attempts_logged, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn fail_in(
        &self,
        ctx: &JobContext,
        reason: impl Into<String>,
        write: impl FnOnce(),
        now: Option<Timestamp>,
    ) -> Result<(), CompletionError> {
        let (outcome, finish) = failure_of(ctx, reason)?;
        let report = self.finish_in(&finish, write, now);
        failed(ctx, outcome, &finish, &report)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write behind (every
        // write is computed first, then stored), so a poisoned lock is still consistent.
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hint(&self, queues: Vec<String>) {
        for queue in queues {
            // An error only means nobody is subscribed: hints are lossy by design.
            let _ = self.shared.wake.send(queue);
        }
    }
}

/// The model's transactions on the in-memory store: a committed one is
/// [`MemoryStore::complete_in`] (or [`MemoryStore::fail_in`]) at the model's time; a rolled
/// back one reports what the fenced write would have reported and keeps nothing.
#[cfg(feature = "model")]
#[async_trait]
impl crate::model::TransactionalCompletion for MemoryStore {
    async fn complete_in_tx(&self, ctx: &JobContext, now: Timestamp, commit: bool) -> Result<(), CompletionError> {
        if commit {
            self.complete_in(ctx, || (), Some(now))
        } else {
            self.rolled_back(ctx)
        }
    }

    async fn fail_in_tx(
        &self,
        ctx: &JobContext,
        reason: &str,
        now: Timestamp,
        commit: bool,
    ) -> Result<(), CompletionError> {
        if commit {
            self.fail_in(ctx, reason, || (), Some(now))
        } else {
            self.rolled_back(ctx)
        }
    }
}

#[cfg(feature = "model")]
impl MemoryStore {
    /// A fenced write of the run of `ctx` in a transaction that is rolled back: applied (so
    /// `Ok`) exactly when the claim is live, and nothing kept either way.
    fn rolled_back(&self, ctx: &JobContext) -> Result<(), CompletionError> {
        let token = ctx.claim_token().ok_or(CompletionError::NoClaim(ctx.job().id))?;
        let live = self.lock().jobs.get(&token.job_id).and_then(Job::claim_token).as_ref() == Some(&token);
        if live {
            Ok(())
        } else {
            Err(CompletionError::Stale(token))
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("jobs", &self.lock().jobs.len())
            .finish()
    }
}

/// `t` kept to whole microseconds, the precision PostgreSQL stores.
fn micros(t: Timestamp) -> Timestamp {
    t.trunc_subsecs(6)
}

/// The injected time, or the system clock.
fn resolve_now(now: Option<Timestamp>) -> Timestamp {
    micros(now.unwrap_or_else(Utc::now))
}

/// `now + by`, saturating at the largest representable time.
fn later(now: Timestamp, by: Duration) -> Timestamp {
    let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    micros(now.checked_add_signed(by).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

fn resolve_run_at(run_at: Option<RunAt>, now: Timestamp) -> Timestamp {
    match run_at {
        None => now,
        Some(RunAt::At(at)) => micros(at),
        Some(RunAt::After(delay)) => later(now, delay),
    }
}

/// The fencing rule: the job is still running under exactly this claim.
fn is_live(job: &Job, token: &ClaimToken) -> bool {
    job.state == JobState::Running && job.attempt == token.attempt && job.lease_owner.as_ref() == Some(&token.runner_id)
}

fn clear_lease(job: &mut Job) {
    job.lease_owner = None;
    job.lease_expires_at = None;
}

fn finish_as(job: &mut Job, state: JobState, error: String, now: Timestamp) {
    job.state = state;
    job.last_error = Some(error);
    job.finished_at = Some(now);
    clear_lease(job);
}

/// Perform `transition` on a running job. The caller has checked the fence.
fn apply(job: &mut Job, transition: &Transition, now: Timestamp) {
    match transition {
        Transition::Done => {
            job.state = JobState::Done;
            job.finished_at = Some(now);
            clear_lease(job);
        }
        Transition::Queued {
            run_at,
            error,
            refund_attempt,
        } => {
            job.state = JobState::Queued;
            job.run_at = resolve_run_at(Some(*run_at), now);
            if let Some(error) = error {
                job.last_error = Some(error.clone());
            }
            if *refund_attempt {
                job.max_attempts = job.max_attempts.saturating_add(1);
            }
            clear_lease(job);
        }
        Transition::Dead { error } => finish_as(job, JobState::Dead, error.clone(), now),
        Transition::Cancelled { reason } => finish_as(job, JobState::Cancelled, reason.clone(), now),
    }
    job.updated_at = now;
}

impl State {
    /// The job other than `id` holding the key `id` has, if any: one that a retry of `id`
    /// would collide with.
    fn other_holder(&self, id: JobId) -> Option<JobId> {
        let key = self.jobs.get(&id)?.unique_key.as_deref()?;
        self.holder(key).filter(|holder| *holder != id)
    }

    /// The job holding `key` now, if any.
    fn holder(&self, key: &str) -> Option<JobId> {
        self.unique.get(key)?.iter().copied().find(|id| {
            self.jobs
                .get(id)
                .is_some_and(|job| unique_holds(self.unique_states.get(id).map(Vec::as_slice), job.state))
        })
    }

    fn insert(&mut self, new: NewJob, now: Timestamp) -> (JobId, bool) {
        let run_at = resolve_run_at(new.run_at, now);
        let unique_key = match (new.unique_key, new.unique_period) {
            (Some(key), Some(period)) => Some(unique_period_key(&key, run_at, period)),
            (key, _) => key,
        };
        if let Some(id) = unique_key.as_deref().and_then(|key| self.holder(key)) {
            return (id, false);
        }
        self.last_id += 1;
        let id = JobId(self.last_id);
        if let Some(key) = &unique_key {
            self.unique.entry(key.clone()).or_default().push(id);
            if let Some(states) = new.unique_states {
                self.unique_states.insert(id, states);
            }
        }
        let job = Job {
            id,
            worker: new.worker,
            queue: new.queue,
            args: new.args,
            codec: new.codec,
            priority: new.priority,
            state: JobState::Queued,
            attempt: 0,
            max_attempts: new.max_attempts,
            run_at,
            lease_owner: None,
            lease_expires_at: None,
            last_error: None,
            unique_key,
            trace_context: new.trace_context,
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        self.jobs.insert(id, job);
        (id, true)
    }

    /// Apply each finish that passes the fence and `also`; report the rest as stale. A
    /// requeue meeting a cancellation request ends the job cancelled instead; the ended
    /// attempt is recorded (as `lease_expired` when `revive`).
    fn finish(
        &mut self,
        finishes: &[Finish],
        now: Timestamp,
        revive: bool,
        also: impl Fn(&Job) -> bool,
    ) -> FinishReport {
        let mut report = FinishReport::default();
        for finish in finishes {
            match self.jobs.get_mut(&finish.token.job_id) {
                Some(job) if is_live(job, &finish.token) && also(job) => {
                    let transition = self.admin.effective(job, &finish.transition);
                    self.admin.attempt_ended(job, &transition, revive, now);
                    apply(job, &transition, now);
                    report.applied.push(job.id);
                }
                _ => report.stale.push(finish.token.clone()),
            }
        }
        report
    }

    /// Put a dead or cancelled job back on the queue (an operator retry); false for a job in
    /// another state or none.
    fn retry(&mut self, id: JobId, now: Timestamp) -> bool {
        match self.jobs.get_mut(&id) {
            Some(job) if matches!(job.state, JobState::Dead | JobState::Cancelled) => {
                self.admin.retried(job);
                job.state = JobState::Queued;
                job.run_at = now;
                job.finished_at = None;
                job.max_attempts = job.max_attempts.max(job.attempt.saturating_add(1));
                clear_lease(job);
                job.updated_at = now;
                true
            }
            _ => false,
        }
    }

    /// Cancel a queued or running job at once; false for a job in another state or none.
    fn cancel(&mut self, id: JobId, reason: &str, now: Timestamp) -> bool {
        match self.jobs.get_mut(&id) {
            Some(job) if matches!(job.state, JobState::Pending | JobState::Queued | JobState::Running) => {
                self.admin.cancelled_outright(job);
                finish_as(job, JobState::Cancelled, reason.to_owned(), now);
                job.updated_at = now;
                true
            }
            _ => false,
        }
    }

    /// Delete a job, freeing its unique key and its admin columns.
    fn remove(&mut self, id: JobId) -> Option<Job> {
        let job = self.jobs.remove(&id)?;
        if let Some(key) = &job.unique_key
            && let Some(ids) = self.unique.get_mut(key)
        {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.unique.remove(key);
            }
        }
        self.unique_states.remove(&id);
        self.admin.forget(id);
        Some(job)
    }
}

fn matches(filter: &JobFilter, job: &Job) -> bool {
    filter.state.is_none_or(|state| job.state == state)
        && filter.queue.as_ref().is_none_or(|queue| &job.queue == queue)
        && filter.worker.as_ref().is_none_or(|worker| &job.worker == worker)
}

fn limit(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[async_trait]
impl QueueStore for MemoryStore {
    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        // Validate everything before touching the state: the batch is all or nothing.
        for job in &jobs {
            job.validate()?;
        }
        let now = resolve_now(now);
        let count = EnqueueCount::of(&jobs);
        let mut touched: Vec<String> = Vec::new();
        let ids = {
            let mut state = self.lock();
            let mut ids = Vec::with_capacity(jobs.len());
            for job in jobs {
                let queue = job.queue.clone();
                let (id, inserted) = state.insert(job, now);
                if inserted && !touched.contains(&queue) {
                    touched.push(queue);
                }
                ids.push(Enqueued {
                    id,
                    duplicate: !inserted,
                });
            }
            ids
        };
        self.hint(touched);
        count.record();
        Ok(ids)
    }

    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        let now = resolve_now(params.now);
        let mut guard = self.lock();
        // Through a plain reference, so that `jobs` and `admin` can be borrowed apart.
        let state = &mut *guard;
        let mut due: Vec<&Job> = state
            .jobs
            .values()
            .filter(|job| job.state == JobState::Queued && job.run_at <= now)
            .filter(|job| params.workers.contains(&job.worker))
            .filter(|job| params.queues.as_ref().is_none_or(|queues| queues.contains(&job.queue)))
            .filter(|job| !state.admin.is_paused(&job.queue) && !state.flow.is_limited(&job.queue))
            .collect();
        due.sort_by_key(|job| (job.priority, job.run_at, job.id));
        let ids: Vec<JobId> = due.into_iter().take(limit(params.limit)).map(|job| job.id).collect();
        Ok(state.claim_ids(&ids, params, now))
    }

    async fn claim_limited(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        let now = resolve_now(params.now);
        Ok(self.lock().claim_limited(params, now))
    }

    async fn set_queue_limits(
        &self,
        queue: &str,
        limits: &QueueLimits,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        limits.validate()?;
        let _ = now;
        let mut state = self.lock();
        if limits.is_limited() {
            state.flow.limits.insert(queue.to_owned(), *limits);
        } else {
            state.flow.limits.remove(queue);
        }
        Ok(())
    }

    async fn queue_limits(&self) -> Result<Vec<(String, QueueLimits)>, StoreError> {
        let state = self.lock();
        let mut limits: Vec<(String, QueueLimits)> = state.flow.limits.iter().map(|(q, l)| (q.clone(), *l)).collect();
        limits.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(limits)
    }

    async fn enqueue_graph(&self, graph: JobGraph, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
        let plan = graph.plan()?;
        let now = resolve_now(now);
        let count = EnqueueCount::of(&plan.nodes.iter().map(|n| n.job.clone()).collect::<Vec<_>>());
        let (ids, touched) = {
            let mut state = self.lock();
            let stored: HashMap<JobId, JobState> = plan
                .stored_parents()
                .into_iter()
                .filter_map(|id| state.jobs.get(&id).map(|job| (id, job.state)))
                .collect();
            let readiness = plan.readiness(&stored)?;
            let mut touched: Vec<String> = Vec::new();
            for (node, ready) in plan.nodes.iter().zip(&readiness) {
                if *ready == Readiness::Queued && !touched.contains(&node.job.queue) {
                    touched.push(node.job.queue.clone());
                }
            }
            (state.insert_graph(plan, readiness, now), touched)
        };
        self.hint(touched);
        count.record();
        Ok(ids)
    }

    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        let now = resolve_now(now);
        let (report, released) = {
            let mut state = self.lock();
            let report = state.finish(finishes, now, false, |_| true);
            (report, state.settle(now))
        };
        self.hint(released);
        Ok(report)
    }

    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        lease_ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        let now = resolve_now(now);
        let lease_expires_at = later(now, lease_ttl);
        let mut state = self.lock();
        let mut extended = Vec::new();
        for token in tokens {
            if let Some(job) = state.jobs.get_mut(&token.job_id).filter(|job| is_live(job, token)) {
                job.lease_expires_at = Some(lease_expires_at);
                job.updated_at = now;
                if !extended.contains(&job.id) {
                    extended.push(job.id);
                }
            }
        }
        Ok(extended)
    }

    async fn expired_leases(&self, limit_to: u32, now: Option<Timestamp>) -> Result<Vec<Job>, StoreError> {
        let now = resolve_now(now);
        let state = self.lock();
        let mut expired: Vec<&Job> = state
            .jobs
            .values()
            .filter(|job| job.state == JobState::Running && job.lease_expires_at.is_some_and(|at| at <= now))
            .collect();
        expired.sort_by_key(|job| (job.lease_expires_at, job.id));
        Ok(expired.into_iter().take(limit(limit_to)).cloned().collect())
    }

    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        let now = resolve_now(now);
        let mut state = self.lock();
        let report = state.finish(revivals, now, true, |job| {
            job.lease_expires_at.is_some_and(|at| at <= now)
        });
        state.settle(now);
        Ok(report)
    }

    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let now = resolve_now(now);
        let mut state = self.lock();
        let cancelled = state.cancel(id, reason, now);
        // A cancel releases no job (it can only cancel dependents), so there is nothing to wake.
        let _ = state.settle(now);
        Ok(cancelled)
    }

    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let now = resolve_now(now);
        let mut state = self.lock();
        if let Some(holder) = state.other_holder(id) {
            // What the unique index does to the backends' UPDATE: the statement fails.
            return Err(StoreError::UniqueKeyHeld {
                message: format!(
                    "job {id} cannot be retried: job {holder} took its unique key after job {id} finished"
                ),
            });
        }
        Ok(state.retry(id, now))
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.lock().jobs.get(&id).cloned())
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let state = self.lock();
        let found = state.jobs.values().filter(|job| matches(filter, job));
        Ok(found.take(limit(filter.limit)).cloned().collect())
    }

    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError> {
        let state = self.lock();
        let mut counts = StateCounts::default();
        for job in state
            .jobs
            .values()
            .filter(|job| queue.is_none_or(|queue| job.queue == queue))
        {
            *counts.0.entry(job.state).or_insert(0) += 1;
        }
        Ok(counts)
    }

    async fn prune_finished(&self, before: Timestamp, limit_to: u32) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let mut old: Vec<(Timestamp, JobId)> = state
            .jobs
            .values()
            .filter(|job| job.state.is_finished())
            .filter_map(|job| job.finished_at.filter(|at| *at < before).map(|at| (at, job.id)))
            .collect();
        // Oldest first, so a limited prune makes steady progress through the backlog.
        old.sort();
        let mut deleted = 0;
        for (_, id) in old.into_iter().take(limit(limit_to)) {
            if state.remove(id).is_some() {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    async fn upsert_schedules(
        &self,
        schedules: &[ScheduleRecord],
        _now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let mut state = self.lock();
        let mut stored = Vec::with_capacity(schedules.len());
        for record in schedules {
            let mut record = ScheduleRecord {
                next_run_at: record.next_run_at.map(micros),
                ..record.clone()
            };
            if let Some(existing) = state.schedules.get(&record.name)
                && existing.spec == record.spec
            {
                record.next_run_at = existing.next_run_at;
            }
            state.schedules.insert(record.name.clone(), record.clone());
            stored.push(record);
        }
        Ok(stored)
    }

    async fn due_schedules(
        &self,
        workers: &[String],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let now = resolve_now(now);
        let state = self.lock();
        let mut due: Vec<ScheduleRecord> = state
            .schedules
            .values()
            .filter(|s| workers.contains(&s.worker) && s.next_run_at.is_some_and(|at| at <= now))
            .cloned()
            .collect();
        due.sort_by(|a, b| (a.next_run_at, &a.name).cmp(&(b.next_run_at, &b.name)));
        Ok(due)
    }

    async fn fire_schedule(&self, fire: &ScheduleFire, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let now = resolve_now(now);
        if let Some(job) = &fire.job {
            job.validate()?;
        }
        let mut state = self.lock();
        let Some(schedule) = state.schedules.get_mut(&fire.name) else {
            return Ok(false);
        };
        if schedule.next_run_at != Some(micros(fire.expected)) {
            return Ok(false);
        }
        schedule.next_run_at = fire.next.map(micros);
        let extra = state.admin.schedules.entry(fire.name.clone()).or_default();
        // A paused schedule's fire time passes without a job.
        let job = fire.job.as_ref().filter(|_| extra.paused_at.is_none());
        if job.is_some() {
            extra.last_fired_at = Some(micros(fire.expected));
        }
        let queue = job.and_then(|job| {
            EnqueueCount::of(std::slice::from_ref(job)).record();
            let queue = job.queue.clone();
            state.insert(job.clone(), now).1.then_some(queue)
        });
        drop(state);
        self.hint(queue.into_iter().collect());
        Ok(true)
    }

    async fn now(&self) -> Result<Timestamp, StoreError> {
        Ok(resolve_now(None))
    }

    fn subscribe(&self) -> Option<WakeReceiver> {
        Some(self.shared.wake.subscribe())
    }

    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<Duration>, StoreError> {
        let now = resolve_now(now);
        let horizon = later(now, within);
        let state = self.lock();
        let next = state
            .jobs
            .values()
            .filter(|job| job.state == JobState::Queued && job.run_at > now && job.run_at <= horizon)
            .filter(|job| workers.contains(&job.worker))
            .filter(|job| queues.is_none_or(|queues| queues.contains(&job.queue)))
            .filter(|job| !state.admin.is_paused(&job.queue))
            .map(|job| job.run_at)
            .chain(state.window_reopens(workers, queues, now).filter(|at| *at <= horizon))
            .min();
        Ok(next.map(|at| (at - now).to_std().unwrap_or(Duration::ZERO)))
    }

    async fn register_runner(
        &self,
        runner: &RunnerInfo,
        ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let runner = RunnerInfo {
            started_at: micros(runner.started_at),
            ..runner.clone()
        };
        self.lock().admin.register(&runner, ttl, resolve_now(now));
        Ok(())
    }

    async fn deregister_runner(&self, runner: &RunnerId) -> Result<(), StoreError> {
        self.lock().admin.runners.remove(runner);
        Ok(())
    }

    async fn unserved_jobs(&self, waited: Duration, now: Option<Timestamp>) -> Result<Vec<UnservedWorker>, StoreError> {
        let now = resolve_now(now);
        let due_before = now - chrono::Duration::from_std(waited).unwrap_or(chrono::Duration::MAX);
        let state = self.lock();
        let served: Vec<&str> = state
            .admin
            .live_runners(now)
            .flat_map(|r| r.info.workers.iter().map(String::as_str))
            .collect();
        let mut looked_at: Vec<&Job> = state
            .jobs
            .values()
            .filter(|job| job.state == JobState::Queued && job.run_at <= due_before)
            .collect();
        looked_at.sort_by_key(|job| (job.priority, job.run_at, job.id));
        let mut found: Vec<UnservedWorker> = Vec::new();
        for job in looked_at
            .into_iter()
            .take(limit(UNSERVED_SCAN))
            .filter(|job| !served.contains(&job.worker.as_str()))
        {
            match found
                .iter_mut()
                .find(|u| u.worker == job.worker && u.queue == job.queue)
            {
                Some(entry) => {
                    entry.jobs += 1;
                    if (job.run_at, job.id) < (entry.oldest_due, entry.oldest_job) {
                        (entry.oldest_due, entry.oldest_job) = (job.run_at, job.id);
                    }
                }
                None => found.push(UnservedWorker {
                    worker: job.worker.clone(),
                    queue: job.queue.clone(),
                    jobs: 1,
                    oldest_due: job.run_at,
                    oldest_job: job.id,
                }),
            }
        }
        found.sort_by_key(|u| (u.oldest_due, u.oldest_job));
        Ok(found)
    }

    async fn cancel_requests(&self, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError> {
        let state = self.lock();
        let running = |id: &&JobId| state.jobs.get(id).is_some_and(|job| job.state == JobState::Running);
        Ok(jobs
            .iter()
            .filter(running)
            .filter_map(|id| state.admin.cancel_request(*id).cloned())
            .collect())
    }

    fn subscribe_cancels(&self) -> Option<CancelReceiver> {
        Some(self.shared.cancels.subscribe())
    }

    async fn schedule_run_requests(&self, workers: &[String]) -> Result<Vec<ScheduleRunRequest>, StoreError> {
        let state = self.lock();
        let mut requests: Vec<ScheduleRunRequest> = state
            .schedules
            .values()
            .filter(|s| workers.contains(&s.worker))
            .filter_map(|s| {
                let requested_at = state.admin.schedules.get(&s.name)?.run_requested_at?;
                Some(ScheduleRunRequest {
                    name: s.name.clone(),
                    requested_at,
                })
            })
            .collect();
        requests.sort_by(|a, b| (a.requested_at, &a.name).cmp(&(b.requested_at, &b.name)));
        Ok(requests)
    }

    async fn fire_schedule_request(
        &self,
        request: &ScheduleRunRequest,
        job: &NewJob,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        job.validate()?;
        let now = resolve_now(now);
        let mut state = self.lock();
        if !state.schedules.contains_key(&request.name) {
            return Ok(false);
        }
        let extra = state.admin.schedules.entry(request.name.clone()).or_default();
        if extra.run_requested_at != Some(micros(request.requested_at)) {
            return Ok(false);
        }
        extra.run_requested_at = None;
        extra.last_fired_at = Some(now);
        let inserted = state.insert(job.clone(), now).1;
        drop(state);
        EnqueueCount::of(std::slice::from_ref(job)).record();
        if inserted {
            self.hint(vec![job.queue.clone()]);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_kept_to_whole_microseconds() {
        let t: Timestamp = "2030-01-01T00:00:00.123456789Z".parse().expect("a valid time");
        assert_eq!(micros(t).to_rfc3339(), "2030-01-01T00:00:00.123456+00:00");
        let whole = micros(t);
        assert_eq!(
            later(whole, Duration::from_nanos(1500)),
            whole + chrono::Duration::microseconds(1)
        );
    }

    #[test]
    fn a_huge_delay_saturates_instead_of_overflowing() {
        let t: Timestamp = "2030-01-01T00:00:00Z".parse().expect("a valid time");
        assert!(later(t, Duration::MAX) > t);
    }
}
