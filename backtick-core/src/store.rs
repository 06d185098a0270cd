//! The storage contract. A backend implements [`QueueStore`]; the runner and operators use
//! nothing else. Every method takes an optional `now`: `None` means the store's own clock
//! (the database's `now()`), `Some` is an injected time for tests.
//!
//! The store performs transitions; it never decides them. Which state a running job moves to
//! is computed in [`crate::state`] and handed to the store as a [`Finish`].

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::admin::{CancelReceiver, CancelRequest, RunnerInfo, ScheduleRunRequest};
use crate::error::StoreError;
use crate::flow::{JobGraph, QueueLimits};
use crate::job::{ClaimToken, Job, JobId, JobState, NewJob, RunnerId, Timestamp};
use crate::schedule::{ScheduleFire, ScheduleRecord};
use crate::state::Finish;

/// What a runner asks for when it claims jobs. See [`QueueStore::claim`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimParams {
    /// Who claims: becomes the lease owner and half of each claim token.
    pub runner_id: RunnerId,
    /// Only jobs for these workers are claimed (the workers this runner has).
    pub workers: Vec<String>,
    /// Only jobs on these queues; `None` for every queue.
    pub queues: Option<Vec<String>>,
    /// At most this many jobs.
    pub limit: u32,
    /// The lease: a claimed job may be revived once `now + lease_ttl` has passed without a
    /// heartbeat.
    pub lease_ttl: Duration,
    /// The time of the claim, or `None` for the store's clock.
    pub now: Option<Timestamp>,
}

/// Which fenced writes took effect. See [`QueueStore::finish_many`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinishReport {
    /// Jobs the write was applied to.
    pub applied: Vec<JobId>,
    /// Claims that were no longer live (the job was revived, cancelled or re-claimed): a
    /// reported no-op.
    pub stale: Vec<ClaimToken>,
}

/// A filter for [`QueueStore::list`]. Empty fields match everything.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobFilter, JobState};
/// let filter = JobFilter::default().state(JobState::Dead).queue("mail").limit(10);
/// assert_eq!(filter.limit, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs on this queue.
    pub queue: Option<String>,
    /// Only jobs of this worker.
    pub worker: Option<String>,
    /// At most this many jobs, lowest id first. Default: 1000.
    pub limit: u32,
}

impl Default for JobFilter {
    fn default() -> Self {
        JobFilter {
            state: None,
            queue: None,
            worker: None,
            limit: 1000,
        }
    }
}

impl JobFilter {
    /// Only jobs in `state`.
    pub fn state(mut self, state: JobState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only jobs on `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Only jobs of `worker`.
    pub fn worker(mut self, worker: impl Into<String>) -> Self {
        self.worker = Some(worker.into());
        self
    }

    /// At most `limit` jobs.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }
}

/// How many jobs are in each state.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobState, StateCounts};
/// let counts = StateCounts::default();
/// assert_eq!(counts.get(JobState::Queued), 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts(pub BTreeMap<JobState, u64>);

impl StateCounts {
    /// The count for `state` (0 when absent).
    pub fn get(&self, state: JobState) -> u64 {
        self.0.get(&state).copied().unwrap_or(0)
    }

    /// The sum over every state.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// The id of a one-job enqueue, from the ids a batch enqueue returned: how
/// [`QueueStore::enqueue`] is provided, and what a store's own one-job path (such as enqueueing
/// inside a caller's transaction) returns.
///
/// # Errors
/// [`StoreError::Other`] when `ids` is empty: the batch stored no job.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobId, single_id};
/// assert_eq!(single_id(vec![JobId(7)]).unwrap(), JobId(7));
/// assert!(single_id(Vec::new()).is_err());
/// ```
pub fn single_id(ids: Vec<JobId>) -> Result<JobId, StoreError> {
    ids.into_iter().next().ok_or_else(|| StoreError::Other {
        source: "the enqueue returned no id for its one job".into(),
    })
}

/// What an enqueue did with one job: its id, and whether it was a duplicate (its unique key
/// was already held, nothing was inserted, and `id` is the holder's). See
/// [`QueueStore::enqueue_many_reporting`].
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{Enqueued, JobId};
/// let fresh = Enqueued::fresh(JobId(7));
/// assert!(!fresh.duplicate);
/// assert_eq!(Enqueued::duplicate_of(JobId(7)).id, fresh.id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Enqueued {
    /// The job's id: the new job's, or for a duplicate that of the job holding the key.
    pub id: JobId,
    /// True when the job's `unique_key` was already held and nothing was inserted.
    pub duplicate: bool,
}

impl Enqueued {
    /// A job that was inserted as `id`.
    pub fn fresh(id: JobId) -> Self {
        Enqueued { id, duplicate: false }
    }

    /// A job that was not inserted because job `id` holds its unique key.
    pub fn duplicate_of(id: JobId) -> Self {
        Enqueued { id, duplicate: true }
    }
}

/// The one report of an enqueue of one job, as [`single_id`] for ids.
///
/// # Errors
/// [`StoreError::Other`] when `enqueued` is empty: the batch stored no job.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{Enqueued, JobId, single_enqueued};
/// assert_eq!(single_enqueued(vec![Enqueued::fresh(JobId(7))]).unwrap().id, JobId(7));
/// assert!(single_enqueued(Vec::new()).is_err());
/// ```
pub fn single_enqueued(enqueued: Vec<Enqueued>) -> Result<Enqueued, StoreError> {
    enqueued.into_iter().next().ok_or_else(|| StoreError::Other {
        source: "the enqueue returned no id for its one job".into(),
    })
}

/// A hint that jobs were enqueued on a queue; see [`QueueStore::subscribe`].
pub type WakeReceiver = tokio::sync::broadcast::Receiver<String>;

/// The persistent job queue. Implemented by each backend; `MemoryStore` in
/// `backtick-testkit` is the reference semantics and the conformance suite there pins them.
///
/// # Concurrency contract
/// Every method may be called concurrently from many runners in many processes. Writes to a
/// running job are *fenced*: they name the [`ClaimToken`] of the claim they belong to and
/// take effect only while the job is still `running` with that attempt and lease owner
/// (`WHERE id = $1 AND state = 'running' AND attempt = $2 AND lease_owner = $3`). A write
/// with a stale token changes nothing and is reported back, never raised as an error.
///
/// # Errors
/// Every method returns [`StoreError`]; transient ones ([`StoreError::is_transient`]) are
/// worth retrying, and none of them leaves a job half-written.
#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Put one job on the queue, due at its `run_at` (default now). With a `unique_key`
    /// that an existing job already holds, nothing is inserted and the existing job's id is
    /// returned; [`QueueStore::enqueue_reporting`] tells the two apart.
    ///
    /// Provided as [`QueueStore::enqueue_many_reporting`] of one job.
    async fn enqueue(&self, job: NewJob, now: Option<Timestamp>) -> Result<JobId, StoreError> {
        Ok(self.enqueue_reporting(job, now).await?.id)
    }

    /// Put many jobs on the queue in one atomic write: all are stored, or none. Ids are
    /// returned in input order. A unique key held by a stored job, or by an earlier job of the
    /// same batch, returns that job's id, as if the jobs were enqueued one by one. An empty
    /// input returns an empty list; [`QueueStore::enqueue_many_reporting`] also tells which
    /// jobs were duplicates.
    ///
    /// Provided as [`QueueStore::enqueue_many_reporting`], keeping the ids.
    async fn enqueue_many(&self, jobs: Vec<NewJob>, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
        let enqueued = self.enqueue_many_reporting(jobs, now).await?;
        Ok(enqueued.into_iter().map(|e| e.id).collect())
    }

    /// [`QueueStore::enqueue`], reporting whether the job was inserted or its `unique_key` was
    /// already held by another job, whose id is returned ([`Enqueued::duplicate`]).
    ///
    /// Provided as [`QueueStore::enqueue_many_reporting`] of one job.
    async fn enqueue_reporting(&self, job: NewJob, now: Option<Timestamp>) -> Result<Enqueued, StoreError> {
        single_enqueued(self.enqueue_many_reporting(vec![job], now).await?)
    }

    /// [`QueueStore::enqueue_many`], reporting for each job, in input order, its id and whether
    /// it was a duplicate: its `unique_key` was held by a stored job or by an earlier job of
    /// the same batch, and nothing was inserted for it. Of many concurrent enqueues of one
    /// key, exactly one reports a fresh job.
    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError>;

    /// Claim up to `limit` due jobs (`queued` with `run_at <= now`) whose worker is in
    /// `workers` and whose queue is in `queues`, lowest priority number first, then earliest
    /// `run_at`, then lowest id. Each claimed job becomes `running` with `attempt + 1`, the
    /// caller as lease owner, and a lease until `now + lease_ttl`.
    ///
    /// Rows locked by a concurrent claimer are skipped (`FOR UPDATE SKIP LOCKED`), so two
    /// claimers never receive the same job. Jobs on a queue an operator paused
    /// ([`crate::admin::QueueAdmin::pause_queue`]) are not claimed. Returns the claimed jobs,
    /// empty when none are due.
    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError>;

    /// [`QueueStore::claim`] for the queues with limits ([`QueueStore::set_queue_limits`]),
    /// which the plain claim skips: up to `limit` due jobs, taking from each limited queue (in
    /// name order, each in claim order) at most what [`crate::flow::allowance`] allows given
    /// its running jobs and its rate window, and recording the started jobs in that window.
    ///
    /// Each limited queue is claimed under a lock of its settings (on Postgres, a row lock of
    /// its `backtick_queues` row, held to the end of the claim's transaction), so concurrent
    /// claimers of one limited queue take turns and each counts the others' claims: the
    /// running jobs of a queue never exceed its concurrency, however many runners claim. The
    /// count is of jobs in `running`, so a revived job's slot comes back. Paused queues are
    /// skipped; empty when no limited queue has a due job it may start.
    async fn claim_limited(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError>;

    /// Set `queue`'s limits, replacing the previous ones; [`QueueLimits::new`] (no limits)
    /// clears them, and its jobs go back to the plain claim. Takes effect at the next claim of
    /// every runner. A rate window in progress is kept.
    ///
    /// # Errors
    /// [`StoreError::InvalidLimits`] when `limits` is invalid ([`QueueLimits::validate`]):
    /// then nothing changes.
    async fn set_queue_limits(
        &self,
        queue: &str,
        limits: &QueueLimits,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError>;

    /// Every queue with limits and its limits, by name.
    async fn queue_limits(&self) -> Result<Vec<(String, QueueLimits)>, StoreError>;

    /// Enqueue a [`JobGraph`] in one atomic write: every node, or none. Ids are returned in the
    /// order the nodes were added. Each node starts by [`crate::flow::readiness`] of its
    /// parents (`pending`, `queued`, or `cancelled` when a stored parent already ended dead or
    /// cancelled); the stored parents are locked meanwhile, so none finishes unseen.
    ///
    /// # Errors
    /// [`StoreError::InvalidGraph`] for a graph [`JobGraph::plan`] rejects (a cycle, say) or a
    /// stored parent that does not exist: then nothing is stored.
    async fn enqueue_graph(&self, graph: JobGraph, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError>;

    /// Apply each fenced [`Finish`] (complete, retry, snooze, release, dead, cancel) to its
    /// job. Each is applied only if the job is still running under the finish's token;
    /// others are reported in [`FinishReport::stale`]. Finished states set `finished_at`
    /// and clear the lease.
    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError>;

    /// Extend the lease of each still-live claim to `now + lease_ttl`. Returns the jobs whose
    /// lease was extended; a claim missing from the result was lost (revived, cancelled), and
    /// the runner should stop its work.
    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        lease_ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError>;

    /// Running jobs whose lease ran out (`lease_expires_at <= now`), oldest lease first, at
    /// most `limit`. Reads only; see [`QueueStore::revive_many`].
    async fn expired_leases(&self, limit: u32, now: Option<Timestamp>) -> Result<Vec<Job>, StoreError>;

    /// Apply revive transitions, fenced like [`QueueStore::finish_many`] and additionally only
    /// while the lease is still expired at `now` (a heartbeat that landed in between wins).
    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError>;

    /// Operator: cancel a `pending`, `queued` or `running` job: `reason` becomes its `last_error`,
    /// `finished_at` is now and the lease is cleared. Returns false (and changes nothing) when
    /// the job does not exist or is already finished. A running job's runner finds out at its
    /// next heartbeat; its later writes are stale.
    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError>;

    /// Operator: put a `dead` or `cancelled` job back on the queue, due now, with one more
    /// attempt if it had used them all. Returns false when the job does not exist or is in
    /// another state.
    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError>;

    /// One job by id; `None` when there is none.
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError>;

    /// Jobs matching `filter`, lowest id first; empty when none match.
    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;

    /// How many jobs are in each state, on one queue or all. States with no job are absent.
    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError>;

    /// Delete at most `limit` finished jobs (done, dead, cancelled) whose `finished_at` is
    /// before `before`. Returns how many were deleted; queued and running jobs are never
    /// touched.
    async fn prune_finished(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;

    /// The store's current time (the database clock).
    async fn now(&self) -> Result<Timestamp, StoreError>;

    /// Store each schedule. A new schedule is inserted as given. An existing one (same name)
    /// whose `spec` is unchanged keeps its stored `next_run_at`; one whose spec changed takes the
    /// given `next_run_at`; its worker is updated either way. Returns the records as stored, in
    /// input order. Safe to call from many runners at once.
    async fn upsert_schedules(
        &self,
        schedules: &[ScheduleRecord],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError>;

    /// Schedules whose worker is in `workers` and whose `next_run_at` is at or before `now`,
    /// earliest first. Reads only.
    async fn due_schedules(
        &self,
        workers: &[String],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError>;

    /// Fire a schedule, exactly once per fire time: in one transaction, move the schedule's
    /// `next_run_at` from `fire.expected` to `fire.next` (compare-and-set) and, only if that
    /// succeeded, enqueue `fire.job` (if any). Returns `Ok(true)` when this caller won the
    /// fire, `Ok(false)` when the stored `next_run_at` was no longer `fire.expected` (another
    /// runner fired it) or the schedule does not exist. A schedule an operator paused
    /// ([`crate::admin::QueueAdmin::pause_schedule`]) advances all the same but enqueues
    /// nothing (the result is still `Ok(true)`).
    async fn fire_schedule(&self, fire: &ScheduleFire, now: Option<Timestamp>) -> Result<bool, StoreError>;

    /// Vacuum the jobs table now if its dead row versions are due for it; `Ok(true)` when it
    /// vacuumed. Every job leaves dead row versions behind (its claim and its finish each
    /// write a new one), and until a vacuum removes them each claim reads past their index
    /// entries: on a busy queue claims slow down between the server's autovacuum visits (once
    /// a minute by default). Runners call this every `vacuum_interval`; a store applies the
    /// table's own autovacuum thresholds and skips the work while another vacuum runs. The
    /// default, for stores without dead rows, does nothing.
    async fn vacuum(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Check that the store's schema is complete (every migration of this build applied).
    /// A runner calls it when it starts ([`crate::Runner::try_start`]) and refuses to run on an
    /// unmigrated database rather than retrying forever. The default, for stores without a
    /// schema, is `Ok`.
    ///
    /// # Errors
    /// [`StoreError::NotMigrated`] naming what is missing; others as for any store call.
    async fn check_schema(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Wake-up hints: the name of a queue each time jobs are enqueued on it. A hint only,
    /// lossy by design: a runner still polls. `None` when the store has no such signal.
    fn subscribe(&self) -> Option<WakeReceiver> {
        None
    }

    /// Wait until the hints of [`QueueStore::subscribe`] are live (a store that listens on a
    /// connection of its own has it listening), at most `timeout`; true when they are. Call
    /// [`QueueStore::subscribe`] first. A runner claims once more when this returns, so that
    /// a job enqueued between its first claim and the hints going live is taken then, never
    /// left for the poll. The default, for stores whose hints are live at once (or that have
    /// none), is true at once.
    async fn wait_for_hints(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }

    /// How long from `now` until the earliest queued job that a claim for `workers` and
    /// `queues` (`None`: every queue) would take once due, or until the rate window of a
    /// limited queue with due jobs reopens ([`crate::flow::window_reopens`]): the smallest
    /// `run_at` after `now`
    /// and at most `now + within`, among jobs on queues not paused, across every priority.
    /// `None` when there is none in that window. Jobs due at `now` or earlier are not
    /// counted: a claim that came back short has already taken those it could. Reads only; on
    /// the store's clock when `now` is `None`. An idle runner sleeps until then (bounded by its
    /// poll interval), so that at-jobs, retries after backoff and scheduled fires start on
    /// time without a faster poll. The default, for stores that cannot tell, is `None`: the
    /// runner polls.
    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<Duration>, StoreError> {
        let _ = (workers, queues, within, now);
        Ok(None)
    }

    /// Register a runner, or refresh its registration: it is live until `now + ttl`. A
    /// runner calls this on start and then on every heartbeat, so that operators see it
    /// ([`crate::admin::QueueAdmin::list_runners`]) and which schedules are still declared.
    /// Registrations stale for longer than [`crate::admin::RUNNER_RETENTION`] are forgotten
    /// on the way. Required, like the other methods the admin contract added: a store (or a
    /// wrapper of one) cannot silently ignore them.
    async fn register_runner(
        &self,
        runner: &RunnerInfo,
        ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError>;

    /// Forget a runner's registration: it is shutting down. Unknown ids are ignored.
    async fn deregister_runner(&self, runner: &RunnerId) -> Result<(), StoreError>;

    /// Workers whose jobs nobody runs: among the queued jobs due for at least `waited` (due at
    /// or before `now - waited`), the first [`crate::admin::UNSERVED_SCAN`] in claim order
    /// (priority, due time, id), those whose worker no live runner registers
    /// ([`QueueStore::register_runner`]'s `workers`); one entry per worker and queue, oldest
    /// due time first, then oldest job. Reads only; a runner's maintenance warns of them, and
    /// [`crate::admin::QueueAdmin::unserved_workers`] reports them to operators.
    async fn unserved_jobs(
        &self,
        waited: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<crate::admin::UnservedWorker>, StoreError>;

    /// The pending cancellation requests among `jobs`: one for each job that is running and
    /// that an operator asked to cancel ([`crate::admin::QueueAdmin::apply_to_jobs`] with
    /// [`crate::admin::JobAction::Cancel`]), in no particular order. The runner asks for the
    /// jobs it runs at every heartbeat (the fallback for a lost hint) and when a hint arrives.
    /// Reads only.
    async fn cancel_requests(&self, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError>;

    /// Cancellation hints: the id of a running job each time an operator asks for it to be
    /// cancelled. A hint only, lossy like [`QueueStore::subscribe`]:
    /// [`QueueStore::cancel_requests`] is the truth. `None` when the store has no such signal
    /// (then the runner learns of requests at its heartbeats only).
    fn subscribe_cancels(&self) -> Option<CancelReceiver>;

    /// The pending run-now requests of schedules whose worker is in `workers`
    /// ([`crate::admin::QueueAdmin::run_schedule_now`]), oldest first. Reads only.
    async fn schedule_run_requests(&self, workers: &[String]) -> Result<Vec<ScheduleRunRequest>, StoreError>;

    /// Serve a run-now request exactly once: in one transaction, clear the schedule's request
    /// if it is still `request.requested_at` (compare-and-set) and, only then, enqueue `job`
    /// and record the schedule's last fire. Returns `Ok(false)` when another runner served it
    /// first or the schedule is gone.
    ///
    /// # Errors
    /// [`StoreError::InvalidJob`] when `job` is invalid: then nothing changes.
    async fn fire_schedule_request(
        &self,
        request: &ScheduleRunRequest,
        job: &NewJob,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError>;
}
