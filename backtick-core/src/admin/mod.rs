//! The operator's contract: [`QueueAdmin`], what the `backtick` CLI, the web dashboard and a
//! metrics collector use to see and steer the queue, implemented by every store beside
//! [`QueueStore`] and pinned by the admin cases of the conformance suite.
//!
//! | area | methods |
//! |---|---|
//! | jobs | [`list_jobs`](QueueAdmin::list_jobs), [`job_detail`](QueueAdmin::job_detail), [`count_jobs`](QueueAdmin::count_jobs), [`count_finished`](QueueAdmin::count_finished) |
//! | actions | [`apply_to_job`](QueueAdmin::apply_to_job), [`apply_bulk`](QueueAdmin::apply_bulk), [`apply_to_jobs`](QueueAdmin::apply_to_jobs) |
//! | queues | [`list_queues`](QueueAdmin::list_queues), [`pause_queue`](QueueAdmin::pause_queue), [`resume_queue`](QueueAdmin::resume_queue) |
//! | schedules | [`list_schedules`](QueueAdmin::list_schedules), [`apply_to_schedule`](QueueAdmin::apply_to_schedule) (or [`pause_schedule`](QueueAdmin::pause_schedule), [`resume_schedule`](QueueAdmin::resume_schedule), [`run_schedule_now`](QueueAdmin::run_schedule_now), [`remove_schedule`](QueueAdmin::remove_schedule)) |
//! | runners | [`list_runners`](QueueAdmin::list_runners), [`unserved_workers`](QueueAdmin::unserved_workers) |
//! | database | [`database_diagnostics`](QueueAdmin::database_diagnostics) |
//! | payloads | [`payload_to_json`] |
//!
//! The runner's side of the same features (registering, learning of cancellation requests,
//! serving run-now requests of schedules) is on [`QueueStore`], next to what it already uses.

mod action;
mod attempt;
mod counts;
mod diagnostics;
mod error;
mod page;
mod payload;
mod query;
mod queues;
mod runners;
mod schedules;

use async_trait::async_trait;

pub use action::{ActionOutcome, ActionReport, BULK_BATCH_SIZE, BulkReport, JobAction};
pub use attempt::{
    ATTEMPT_ERROR_LIMIT, ATTEMPT_HISTORY_LIMIT, Attempt, AttemptOutcome, CancelRequest, JobDetail, latest_attempt,
    record_attempt,
};
pub use counts::{COUNT_CAP, Count, CountQuery, GroupBy, GroupCount, JobCounts};
pub use diagnostics::{AutovacuumSettings, DatabaseDiagnostics, IndexHealth, TableHealth};
pub use error::AdminError;
pub use page::{DEFAULT_PAGE_SIZE, JOB_SCAN_LIMIT, JobCursor, JobPage, MAX_PAGE_SIZE, Order, PageRequest};
pub use payload::{json_contains, payload_to_json};
pub use query::{JobQuery, JobSelection, TimeRange};
pub use queues::{QueueInfo, assemble_queues};
pub use runners::{RUNNER_RETENTION, RunnerInfo, RunnerStatus};
pub use schedules::{ScheduleAction, ScheduleInfo, ScheduleRunRequest, spec_time_zone};

use std::time::Duration;

use crate::job::{JobId, Timestamp};
use crate::store::QueueStore;

/// How many of the oldest queued jobs [`QueueAdmin::unserved_workers`] looks at.
pub const UNSERVED_SCAN: u32 = 500;

/// Due jobs of a worker that no live runner has ([`QueueAdmin::unserved_workers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnservedWorker {
    /// The worker name the jobs were enqueued under.
    pub worker: String,
    /// Their queue.
    pub queue: String,
    /// How many of the jobs looked at are this worker's on this queue.
    pub jobs: u64,
    /// When the oldest of them fell due.
    pub oldest_due: Timestamp,
    /// The oldest of them.
    pub oldest_job: JobId,
}

/// A hint that an operator asked for a running job to be cancelled: its id. See
/// [`QueueStore::subscribe_cancels`].
pub type CancelReceiver = tokio::sync::broadcast::Receiver<JobId>;

/// Everything an operator does to a queue, beside the runner's [`QueueStore`]. Object safe:
/// a CLI or a dashboard holds an `Arc<dyn QueueAdmin>` (which is also an
/// `Arc<dyn QueueStore>`, to enqueue or prune).
///
/// Like [`QueueStore`], every method takes an optional `now` (`None`: the store's clock) and
/// may run concurrently with runners and other operators. Reads are cheap on a table of
/// millions of jobs: listings examine a bounded number of jobs per page
/// ([`PageRequest`]), counts stop at a cap per state ([`CountQuery`]). Writes are bounded too:
/// a bulk action works through its selection in store calls of at most [`BULK_BATCH_SIZE`]
/// jobs, each of which re-checks every job's state as it writes it.
///
/// # Cancelling a running job
/// Cancelling a running job does not end it at once (that is [`QueueStore::cancel`]): it
/// stores a cancellation request and announces it ([`QueueStore::subscribe_cancels`], a
/// `NOTIFY` on Postgres). The job's runner learns of it from that hint or, as a fallback, at
/// its next heartbeat ([`QueueStore::cancel_requests`]), stops the work through the job's
/// [`crate::JobContext`] ([`crate::CancelReason::Requested`]) and writes the job `cancelled`,
/// fenced like every other write. Whatever runner writes the job next, the request holds:
/// a fenced finish or revive that would put the job back on the queue ends it `cancelled`
/// instead, with the request's reason, so a runner that never heard of it (or died) cannot
/// lose it. A finish to `done` or `dead` applies as given. The request is cleared whenever the
/// job leaves `running`.
///
/// # Pausing
/// A paused queue's jobs are never claimed; enqueueing onto it still works, and resuming
/// wakes the runners. A paused schedule keeps its fire times moving (runners still fire it)
/// but enqueues nothing until resumed, so a resume does not bring a burst of catch-up jobs.
///
/// # Errors
/// [`AdminError::Store`] when the store fails; the other variants for bad input, documented
/// per method: then nothing was changed.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::sync::Arc;
/// use backtick_postgres::{JobState, NewJob, QueueStore};
/// use backtick_postgres::admin::{ActionOutcome, JobAction, JobQuery, PageRequest, QueueAdmin};
/// use backtick_testkit::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let admin: Arc<dyn QueueAdmin> = Arc::new(MemoryStore::new());
/// let id = admin.enqueue(NewJob::new("send_mail", &"ada@example.com")?.queue("mail"), None).await?;
///
/// // What waits on `mail`, newest first, 20 a page.
/// let page = admin.list_jobs(&JobQuery::default().queue("mail"), &PageRequest::first(20)).await?;
/// assert_eq!(page.jobs[0].id, id);
///
/// // Hold the queue, then cancel the job; a typed error for what does not apply.
/// assert!(admin.pause_queue("mail", None).await?);
/// assert_eq!(admin.apply_to_job(id, &JobAction::cancel("duplicate"), None).await?, ActionOutcome::Applied);
/// assert!(admin.apply_to_job(id, &JobAction::RunNow, None).await.is_err());
/// assert_eq!(admin.job_detail(id).await?.job.state, JobState::Cancelled);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait QueueAdmin: QueueStore {
    /// One page of the jobs matching `query`, in `page`'s order (newest first by default),
    /// after `page`'s cursor. See [`PageRequest`] for how much a page examines and when it
    /// comes back short.
    ///
    /// Pages are keyset-paginated by job id: following `next` from the first page visits each
    /// matching job once, never twice, whatever is enqueued in between (new jobs have higher
    /// ids: a newest-first listing sees them only when started again).
    ///
    /// # Errors
    /// [`AdminError::InvalidRequest`] when `page` is invalid ([`PageRequest::validate`]).
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(admin: &dyn backtick_postgres::admin::QueueAdmin) -> Result<(), backtick_postgres::admin::AdminError> {
    /// use backtick_postgres::JobState;
    /// use backtick_postgres::admin::{JobQuery, PageRequest};
    /// // Every dead job, page by page.
    /// let dead = JobQuery::default().state(JobState::Dead);
    /// let mut request = PageRequest::first(100);
    /// loop {
    ///     let page = admin.list_jobs(&dead, &request).await?;
    ///     for job in &page.jobs {
    ///         println!("{} {} {:?}", job.id, job.worker, job.last_error);
    ///     }
    ///     match page.next {
    ///         Some(next) => request.cursor = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    async fn list_jobs(&self, query: &JobQuery, page: &PageRequest) -> Result<JobPage, AdminError>;

    /// One job with its attempt history and pending cancellation request.
    ///
    /// # Errors
    /// [`AdminError::UnknownJob`] when there is no such job.
    async fn job_detail(&self, id: JobId) -> Result<JobDetail, AdminError>;

    /// How many jobs there are per state, queue or worker, capped per state (see
    /// [`CountQuery`]).
    ///
    /// # Errors
    /// Only [`AdminError::Store`].
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(admin: &dyn backtick_postgres::admin::QueueAdmin) -> Result<(), backtick_postgres::admin::AdminError> {
    /// use backtick_postgres::JobState;
    /// use backtick_postgres::admin::{CountQuery, GroupBy};
    /// let per_queue = admin.count_jobs(&CountQuery::by(GroupBy::Queue)).await?;
    /// println!("mail: {} queued, {} dead", per_queue.get("mail", JobState::Queued), per_queue.get("mail", JobState::Dead));
    /// # Ok(())
    /// # }
    /// ```
    async fn count_jobs(&self, query: &CountQuery) -> Result<JobCounts, AdminError>;

    /// How many jobs finished (done, dead or cancelled) in `finished`, grouped by state (as
    /// [`GroupBy::State`]: the key is the state's name), capped at `cap`: what throughput
    /// figures are made of.
    ///
    /// The store reads at most `cap + 1` finished jobs of the range, newest finish first (the
    /// Postgres stores walk the finish-time index `backtick_jobs_prune_idx`, so the cost is
    /// bounded by the cap, not by the table or the range). When the range holds more than
    /// `cap` jobs, every count is marked [`Count::capped`] and counts only the newest `cap`
    /// finishes of the range.
    ///
    /// # Errors
    /// Only [`AdminError::Store`].
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(admin: &dyn backtick_postgres::admin::QueueAdmin) -> Result<(), backtick_postgres::admin::AdminError> {
    /// use backtick_postgres::JobState;
    /// use backtick_postgres::admin::{COUNT_CAP, TimeRange};
    /// let now = admin.now().await?;
    /// let last_minute = TimeRange::since(now - chrono::Duration::minutes(1));
    /// let finished = admin.count_finished(last_minute, COUNT_CAP).await?;
    /// println!("{} done in the last minute", finished.total(JobState::Done));
    /// # Ok(())
    /// # }
    /// ```
    async fn count_finished(&self, finished: TimeRange, cap: u64) -> Result<JobCounts, AdminError>;

    /// Apply `action` to each of `ids` whose job is in a state the action applies to
    /// ([`JobAction::applies_to`]), re-checked as each is written; skip the others (missing,
    /// in another state, a running job whose cancellation is already requested, a run-now of a
    /// job already due) without error. At most [`BULK_BATCH_SIZE`] ids: this is the write
    /// step of a bulk action, [`QueueAdmin::apply_bulk`].
    ///
    /// Retrying or running a job now wakes the runners of its queue; requesting a cancellation
    /// announces it ([`QueueStore::subscribe_cancels`]).
    ///
    /// # Errors
    /// [`AdminError::InvalidRequest`] for more than [`BULK_BATCH_SIZE`] ids.
    async fn apply_to_jobs(
        &self,
        ids: &[JobId],
        action: &JobAction,
        now: Option<Timestamp>,
    ) -> Result<ActionReport, AdminError>;

    /// The queues: every queue that has a job (done jobs counted up to the cap) or was
    /// paused, with its depth per state, its oldest due job's age and its pause, sorted by
    /// name.
    ///
    /// # Errors
    /// Only [`AdminError::Store`].
    async fn list_queues(&self, now: Option<Timestamp>) -> Result<Vec<QueueInfo>, AdminError>;

    /// Pause `queue`: from now on no runner claims its jobs (a claim already made runs on).
    /// Returns false when it was already paused.
    ///
    /// # Errors
    /// [`AdminError::UnknownQueue`] when the queue is not known: it has no queued, running,
    /// dead or cancelled job, no live runner names it in its queues, and it was never paused.
    async fn pause_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError>;

    /// Resume a paused queue and wake its runners. Returns false when it was not paused.
    ///
    /// # Errors
    /// [`AdminError::UnknownQueue`] as for [`QueueAdmin::pause_queue`].
    async fn resume_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError>;

    /// The stored recurring and cron schedules, sorted by name, each with the live runners
    /// that declare it (none: stale).
    ///
    /// # Errors
    /// Only [`AdminError::Store`].
    async fn list_schedules(&self, now: Option<Timestamp>) -> Result<Vec<ScheduleInfo>, AdminError>;

    /// Apply `action` to the schedule `name` (see [`ScheduleAction`] for what each does).
    /// Returns false when the action changed nothing: a pause of a paused schedule, a resume
    /// of a running one, a run-now while a request is pending. A removal returns true.
    ///
    /// # Errors
    /// [`AdminError::UnknownSchedule`] when no schedule has this name;
    /// [`AdminError::ScheduleInUse`] for [`ScheduleAction::Remove`] of a schedule a live
    /// runner declares.
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(admin: &dyn backtick_postgres::admin::QueueAdmin) -> Result<(), backtick_postgres::admin::AdminError> {
    /// use backtick_postgres::admin::ScheduleAction;
    /// if !admin.apply_to_schedule("nightly-report", ScheduleAction::Pause, None).await? {
    ///     println!("nightly-report was already paused");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    async fn apply_to_schedule(
        &self,
        name: &str,
        action: ScheduleAction,
        now: Option<Timestamp>,
    ) -> Result<bool, AdminError>;

    /// [`ScheduleAction::Pause`]: the schedule's fire times pass without enqueueing. Returns
    /// false when it was already paused.
    ///
    /// # Errors
    /// [`AdminError::UnknownSchedule`] when no schedule has this name.
    async fn pause_schedule(&self, name: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        self.apply_to_schedule(name, ScheduleAction::Pause, now).await
    }

    /// [`ScheduleAction::Resume`]: a paused schedule fires again from its next fire time.
    /// Returns false when it was not paused.
    ///
    /// # Errors
    /// [`AdminError::UnknownSchedule`] when no schedule has this name.
    async fn resume_schedule(&self, name: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        self.apply_to_schedule(name, ScheduleAction::Resume, now).await
    }

    /// [`ScheduleAction::RunNow`]: one extra job now, exactly once however many runners
    /// see the request. Returns false when a request was already pending.
    ///
    /// # Errors
    /// [`AdminError::UnknownSchedule`] when no schedule has this name.
    async fn run_schedule_now(&self, name: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        self.apply_to_schedule(name, ScheduleAction::RunNow, now).await
    }

    /// [`ScheduleAction::Remove`]: forget a stale schedule (see [`ScheduleInfo::is_stale`]).
    ///
    /// # Errors
    /// [`AdminError::UnknownSchedule`] when no schedule has this name;
    /// [`AdminError::ScheduleInUse`] when a live runner declares it (it would store it again).
    async fn remove_schedule(&self, name: &str, now: Option<Timestamp>) -> Result<(), AdminError> {
        self.apply_to_schedule(name, ScheduleAction::Remove, now)
            .await
            .map(drop)
    }

    /// The registered runners, live ones first then by id, with their stale flag and how many
    /// running jobs each holds.
    ///
    /// # Errors
    /// Only [`AdminError::Store`].
    async fn list_runners(&self, now: Option<Timestamp>) -> Result<Vec<RunnerStatus>, AdminError>;

    /// Workers that have due jobs waiting longer than `waited` and no live runner to run them
    /// (a worker name no deployed runner has: misspelt, removed, or not deployed yet). Such
    /// jobs stay queued for a runner that has the worker, by design; this is how an operator
    /// (or an alert) finds them. As [`QueueStore::unserved_jobs`]: at most [`UNSERVED_SCAN`]
    /// jobs looked at; one entry per worker and queue, oldest due time first.
    ///
    /// # Errors
    /// Only [`AdminError::Store`].
    async fn unserved_workers(
        &self,
        waited: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<UnservedWorker>, AdminError> {
        Ok(self.unserved_jobs(waited, now).await?)
    }

    /// What the database says about its own health, for `backtick doctor`: the claim
    /// statement's plan, the jobs table's indexes, its dead rows and its autovacuum settings
    /// ([`DatabaseDiagnostics`]). `None` for a store without a database, such as the in-memory
    /// store: the default. Reads catalogs and statistics only; nothing is written.
    ///
    /// # Errors
    /// Only [`AdminError::Store`].
    async fn database_diagnostics(&self) -> Result<Option<DatabaseDiagnostics>, AdminError> {
        Ok(None)
    }

    /// Apply `action` to one job.
    ///
    /// # Errors
    /// [`AdminError::UnknownJob`] when there is no such job; [`AdminError::NotApplicable`]
    /// when the action does not apply to its state (a retry of a running job, say).
    async fn apply_to_job(
        &self,
        id: JobId,
        action: &JobAction,
        now: Option<Timestamp>,
    ) -> Result<ActionOutcome, AdminError> {
        action::apply_one(self, id, action, now).await
    }

    /// Apply `action` to every job of `selection` that it applies to and that existed when
    /// the call began (jobs enqueued meanwhile are left alone), oldest first, in store calls
    /// of at most [`BULK_BATCH_SIZE`] jobs. With `dry_run` nothing changes: the report counts
    /// what would have been touched.
    ///
    /// Each batch is its own write: a bulk action that fails part-way has applied the batches
    /// before the failure, and running it again continues (jobs already acted on no longer
    /// qualify).
    ///
    /// # Errors
    /// [`AdminError::EmptySelection`] for [`JobSelection::Matching`] an empty filter (ask for
    /// [`JobSelection::All`] explicitly).
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(admin: std::sync::Arc<dyn backtick_postgres::admin::QueueAdmin>) -> Result<(), backtick_postgres::admin::AdminError> {
    /// use backtick_postgres::JobState;
    /// use backtick_postgres::admin::{JobAction, JobQuery, JobSelection};
    /// let dead_mail = JobSelection::Matching(JobQuery::default().state(JobState::Dead).queue("mail"));
    /// let preview = admin.apply_bulk(&dead_mail, &JobAction::Retry, true, None).await?;
    /// println!("would retry {} jobs", preview.touched);
    /// let done = admin.apply_bulk(&dead_mail, &JobAction::Retry, false, None).await?;
    /// println!("retried {} jobs in {} batches", done.touched, done.batches);
    /// # Ok(())
    /// # }
    /// ```
    async fn apply_bulk(
        &self,
        selection: &JobSelection,
        action: &JobAction,
        dry_run: bool,
        now: Option<Timestamp>,
    ) -> Result<BulkReport, AdminError> {
        action::apply_bulk(self, selection, action, dry_run, now).await
    }
}
