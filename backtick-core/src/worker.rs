//! Workers: the code that runs a job, and what it may report back.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::cancel::{CancelReason, JobCancellation};
use crate::codec::{Codec, DecodeError};
use crate::error::BoxError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::job::{ClaimToken, Job, RunAt};
use crate::retry::RetryPolicy;
use crate::shared::{State, StateMap, StateRequirement};
use crate::state::{Outcome, Transition};

/// Per-worker defaults, applied when its jobs are scheduled and run.
///
/// | option | default | meaning |
/// |---|---|---|
/// | `queue` | `"default"` | the queue its jobs go to |
/// | `max_attempts` | 20 | attempts before a job goes dead |
/// | `priority` | 0 | lower runs first |
/// | `timeout` | `None` (the runner's `job_timeout`) | how long one run may take |
/// | `codec` | CBOR | how arguments are encoded |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    /// The queue its jobs go to.
    pub queue: String,
    /// Attempts before a job goes dead.
    pub max_attempts: i32,
    /// Lower runs first.
    pub priority: i16,
    /// How long one run may take; `None` uses the runner's `job_timeout`.
    pub timeout: Option<Duration>,
    /// How arguments are encoded.
    pub codec: Codec,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            queue: crate::job::DEFAULT_QUEUE.to_owned(),
            max_attempts: crate::job::DEFAULT_MAX_ATTEMPTS,
            priority: crate::job::DEFAULT_PRIORITY,
            timeout: None,
            codec: Codec::Cbor,
        }
    }
}

/// What a running job can see: the job itself and a cancellation signal.
///
/// # Cancellation
/// [`JobContext::cancelled`] completes, and [`JobContext::is_cancelled`] turns true, when the
/// run should stop: its timeout passed, the runner is shutting down, the job's lease was
/// lost, or an operator asked for the job to be cancelled. [`JobContext::cancel_reason`] says
/// which (when the runner gave a reason); [`JobContext::cancel_requested`] is the operator's
/// reason. A worker that stops early after an operator's request may return any error (or
/// [`JobError::cancel`]): the job ends `cancelled`. Returning `Ok(())` still completes it.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, JobError, worker_fn};
/// let export = worker_fn("export", |ctx: JobContext, rows: u64| async move {
///     for _row in 0..rows {
///         if let Some(reason) = ctx.cancel_requested() {
///             return Err(JobError::cancel(reason)); // stop between rows
///         }
///         // ... export one row
///     }
///     Ok(())
/// });
/// # let _ = export;
/// ```
#[derive(Debug, Clone)]
pub struct JobContext {
    job: Job,
    cancellation: JobCancellation,
    states: StateMap,
    completed: Arc<AtomicBool>,
    /// The failure the worker recorded in its own transaction ([`JobContext::mark_failed`]).
    failed: Arc<Mutex<Option<(Outcome, Transition)>>>,
    retry_policy: RetryPolicy,
}

impl JobContext {
    /// A context for `job`, cancelled through `cancelled` (without a reason).
    pub fn new(job: Job, cancelled: CancellationToken) -> Self {
        Self::with_cancellation(job, JobCancellation::new(cancelled))
    }

    /// A context for `job` whose cancellation carries a [`CancelReason`]: what the runner
    /// builds for each run.
    pub fn with_cancellation(job: Job, cancellation: JobCancellation) -> Self {
        JobContext {
            job,
            cancellation,
            states: StateMap::new(),
            completed: Arc::new(AtomicBool::new(false)),
            failed: Arc::new(Mutex::new(None)),
            retry_policy: RetryPolicy::default(),
        }
    }

    /// This context with `policy` as the backoff a failure recorded inside the worker's own
    /// transaction (`fail_in` of the backend crates) retries after: the runner's
    /// ([`crate::RunnerConfig::retry_policy`]).
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use std::time::Duration;
    /// use backtick_postgres::{JobContext, RetryPolicy, worker_fn};
    /// # let job = backtick_testkit::assert::test_job(&worker_fn("w", |_: JobContext, (): ()| async { Ok(()) }), &());
    /// let policy = RetryPolicy { base: Duration::from_secs(2), cap: Duration::from_secs(60), jitter: 0.0 };
    /// let ctx = JobContext::new(job, Default::default()).with_retry_policy(policy);
    /// assert_eq!(*ctx.retry_policy(), policy);
    /// ```
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// The backoff a failure of this run retries after.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry_policy
    }

    /// This context with `states` as the states its worker can ask for
    /// ([`JobContext::state`]): the runner's ([`crate::RunnerBuilder::state`]).
    pub fn with_states(mut self, states: StateMap) -> Self {
        self.states = states;
        self
    }

    /// The state of type `T` the runner was given ([`crate::RunnerBuilder::state`]). A
    /// hand-written worker that calls this lists `T` in [`Worker::required_states`], so that a
    /// runner without it fails to build instead.
    ///
    /// # Errors
    /// [`JobError::Retry`] naming the type when there is no such state (another runner may
    /// have it).
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use backtick_postgres::{JobContext, StateMap};
    /// # let job = backtick_testkit::assert::test_job(&backtick_postgres::worker_fn("w", |_: JobContext, (): ()| async { Ok(()) }), &());
    /// let mut states = StateMap::new();
    /// states.insert(String::from("config"));
    /// let ctx = JobContext::new(job, Default::default()).with_states(states);
    /// assert_eq!(&*ctx.state::<String>()?, "config");
    /// assert!(ctx.state::<u64>().is_err());
    /// # Ok::<(), backtick_postgres::JobError>(())
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<State<T>, JobError> {
        self.states.get::<T>().ok_or_else(|| {
            JobError::retry(format!(
                "worker {:?} asked for a state of type `{}` that this runner was not given; add \
                 `.state(value)` to the runner builder",
                self.job.worker,
                std::any::type_name::<T>()
            ))
        })
    }

    /// The claim this run holds: what a completion inside the worker's own transaction is
    /// fenced by (`complete_in` of the backend crates). `None` for a job that is not running.
    pub fn claim_token(&self) -> Option<ClaimToken> {
        self.job.claim_token()
    }

    /// Record that the job's completion was written (and committed) by the worker, inside its
    /// own transaction: the runner then writes no completion of its own when the worker returns
    /// `Ok`. Called by the backend crates' `complete_in` once the fenced completion applied;
    /// call it yourself only for a completion you wrote another way.
    pub fn mark_completed(&self) {
        self.completed.store(true, Ordering::Release);
    }

    /// Whether [`JobContext::mark_completed`] was called for this run.
    pub fn is_completed(&self) -> bool {
        self.completed.load(Ordering::Acquire)
    }

    /// Record that the job's failure (`outcome`, applied as `transition`: a retry or dead) was
    /// written by the worker inside its own transaction: the runner then writes nothing of
    /// its own when the worker returns `Ok`. Called by the backend crates' `fail_in` once the
    /// fenced write applied.
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use backtick_postgres::{JobContext, Outcome, Transition, worker_fn};
    /// # let job = backtick_testkit::assert::test_job(&worker_fn("w", |_: JobContext, (): ()| async { Ok(()) }), &());
    /// let ctx = JobContext::new(job, Default::default());
    /// assert!(ctx.recorded_failure().is_none());
    /// ctx.mark_failed(Outcome::Failed { error: "boom".into() }, Transition::Dead { error: "boom".into() });
    /// assert!(matches!(ctx.recorded_failure(), Some((_, Transition::Dead { .. }))));
    /// ```
    pub fn mark_failed(&self, outcome: Outcome, transition: Transition) {
        *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some((outcome, transition));
    }

    /// The failure recorded with [`JobContext::mark_failed`] for this run, if any.
    pub fn recorded_failure(&self) -> Option<(Outcome, Transition)> {
        self.failed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The job being run.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// This run's attempt number (1 for the first run).
    pub fn attempt(&self) -> i32 {
        self.job.attempt
    }

    /// Decode the job's arguments.
    ///
    /// # Errors
    /// [`JobError::Undecodable`] when the payload is not a `T`: the job goes dead.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        self.job.codec.decode(&self.job.args).map_err(JobError::Undecodable)
    }

    /// Completes when the run should stop: its timeout passed, the runner is shutting down,
    /// the job's lease was lost, or an operator asked for the job to be cancelled.
    /// Long-running workers should `select!` on it.
    pub async fn cancelled(&self) {
        self.cancellation.token().cancelled().await
    }

    /// True once [`JobContext::cancelled`] has fired.
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_cancelled()
    }

    /// Why the run was asked to stop, when the runner gave a reason; `None` while it runs on
    /// (or when it was stopped without one).
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.cancellation.reason()
    }

    /// The operator's reason, when an operator asked for this job to be cancelled.
    pub fn cancel_requested(&self) -> Option<String> {
        match self.cancellation.reason() {
            Some(CancelReason::Requested { reason }) => Some(reason),
            _ => None,
        }
    }
}

/// How a worker reports anything but success. Any `std::error::Error` converts into
/// [`JobError::Retry`] through `?`.
///
/// | variant | made by | what happens |
/// |---|---|---|
/// | [`Retry`](JobError::Retry) | [`JobError::retry`], `?` on any error | runs again after backoff while attempts remain, then dead |
/// | [`RetryAt`](JobError::RetryAt) | [`JobError::retry_after`] | runs again at that time while attempts remain |
/// | [`Snooze`](JobError::Snooze) | [`JobError::snooze`] | runs again later; the attempt does not count |
/// | [`Discard`](JobError::Discard) | [`JobError::discard`] | dead at once |
/// | [`Cancel`](JobError::Cancel) | [`JobError::cancel`] | cancelled |
/// | [`Undecodable`](JobError::Undecodable) | the runner | dead at once: the arguments do not decode |
///
/// A `#[worker]` function that only ever retries may return `anyhow::Result<()>` or any
/// `Result<(), E>` whose error converts into `Box<dyn Error + Send + Sync>` instead.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::JobError;
/// fn parse(s: &str) -> Result<i32, JobError> {
///     Ok(s.parse::<i32>()?) // a ParseIntError becomes a retryable failure
/// }
/// assert!(matches!(parse("x"), Err(JobError::Retry(_))));
/// let _later = JobError::snooze(Duration::from_secs(60));
/// let _give_up = JobError::discard("the account was deleted");
/// ```
#[non_exhaustive]
pub enum JobError {
    /// Failed; retry after backoff while attempts remain.
    Retry(BoxError),
    /// Failed; retry at the given time while attempts remain.
    RetryAt(BoxError, RunAt),
    /// Run again at the given time; this attempt does not count.
    Snooze(RunAt),
    /// Give up: the job goes dead at once.
    Discard(BoxError),
    /// Cancel the job.
    Cancel(String),
    /// The arguments could not be decoded: the job goes dead at once.
    Undecodable(DecodeError),
}

impl JobError {
    /// A retryable failure with a message.
    pub fn retry(message: impl Into<BoxError>) -> Self {
        JobError::Retry(message.into())
    }

    /// A failure to retry `after` from now (counts as an attempt).
    pub fn retry_after(message: impl Into<BoxError>, after: Duration) -> Self {
        JobError::RetryAt(message.into(), RunAt::After(after))
    }

    /// Run again `after` from now, without using up an attempt.
    pub fn snooze(after: Duration) -> Self {
        JobError::Snooze(RunAt::After(after))
    }

    /// Give up for good: the job goes dead.
    pub fn discard(message: impl Into<BoxError>) -> Self {
        JobError::Discard(message.into())
    }

    /// Cancel the job.
    pub fn cancel(reason: impl Into<String>) -> Self {
        JobError::Cancel(reason.into())
    }

    /// The [`Outcome`] this error reports.
    pub fn into_outcome(self) -> Outcome {
        match self {
            JobError::Retry(e) => Outcome::Failed { error: e.to_string() },
            JobError::RetryAt(e, at) => Outcome::RetryAt {
                error: e.to_string(),
                at,
            },
            JobError::Snooze(at) => Outcome::Snoozed { at },
            JobError::Discard(e) => Outcome::Discarded { error: e.to_string() },
            JobError::Cancel(reason) => Outcome::Cancelled { reason },
            JobError::Undecodable(e) => Outcome::Undecodable { error: e.to_string() },
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for JobError {
    fn from(error: E) -> Self {
        JobError::Retry(Box::new(error))
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Retry(e) => write!(f, "retryable failure: {e}"),
            JobError::RetryAt(e, at) => write!(f, "failure, retry at {at:?}: {e}"),
            JobError::Snooze(at) => write!(f, "snoozed until {at:?}"),
            JobError::Discard(e) => write!(f, "discarded: {e}"),
            JobError::Cancel(reason) => write!(f, "cancelled: {reason}"),
            JobError::Undecodable(e) => e.fmt(f),
        }
    }
}

/// A worker: runs the jobs scheduled under its name. The `#[worker]` attribute implements it for
/// you; implement it by hand for full control, or use [`worker_fn`].
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, JobError, Worker, async_trait};
///
/// struct LogSum;
///
/// #[async_trait]
/// impl Worker for LogSum {
///     fn name(&self) -> &str {
///         "log_sum"
///     }
///
///     async fn perform(&self, ctx: JobContext) -> Result<(), JobError> {
///         let (x, y): (i64, i64) = ctx.args()?;
///         println!("sum {x} + {y} = {}", x + y);
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Worker: Send + Sync + 'static {
    /// The name jobs are scheduled under. Must be unique among a runner's workers and stable
    /// across deployments: queued jobs refer to it.
    fn name(&self) -> &str;

    /// Defaults for this worker's jobs.
    fn options(&self) -> WorkerOptions {
        WorkerOptions::default()
    }

    /// The states this worker asks for with [`JobContext::state`]: a runner without one of
    /// them fails to build ([`crate::Error::MissingState`]). `#[worker]` lists the `State<T>`
    /// arguments of its function. Default: none.
    fn required_states(&self) -> Vec<StateRequirement> {
        Vec::new()
    }

    /// Run one job. Return `Ok` on success, or a [`JobError`] saying what to do next.
    async fn perform(&self, ctx: JobContext) -> Result<(), JobError>;
}

/// A worker from a name and an async closure over typed arguments.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, Worker, worker_fn};
/// let worker = worker_fn("log_sum", |_ctx: JobContext, (x, y): (i64, i64)| async move {
///     println!("{}", x + y);
///     Ok(())
/// });
/// assert_eq!(worker.name(), "log_sum");
/// ```
pub fn worker_fn<A, F, Fut>(name: impl Into<String>, run: F) -> FnWorker<A, F>
where
    A: DeserializeOwned + Send + 'static,
    F: Fn(JobContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    FnWorker {
        name: name.into(),
        options: WorkerOptions::default(),
        run,
        args: PhantomData,
    }
}

/// The worker made by [`worker_fn`].
pub struct FnWorker<A, F> {
    name: String,
    options: WorkerOptions,
    run: F,
    args: PhantomData<fn() -> A>,
}

impl<A, F> FnWorker<A, F> {
    /// Replace the worker's options.
    pub fn with_options(mut self, options: WorkerOptions) -> Self {
        self.options = options;
        self
    }
}

#[async_trait]
impl<A, F, Fut> Worker for FnWorker<A, F>
where
    A: DeserializeOwned + Send + 'static,
    F: Fn(JobContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn options(&self) -> WorkerOptions {
        self.options.clone()
    }

    async fn perform(&self, ctx: JobContext) -> Result<(), JobError> {
        let args = ctx.args::<A>()?;
        (self.run)(ctx, args).await
    }
}
