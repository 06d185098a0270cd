//! Helpers for application tests: run one job through a worker without a runner or a store
//! (like Oban's `perform_job` or River's `rivertest`), and assert what is on the queue.

use std::panic::AssertUnwindSafe;

use backtick_core::state::transition_for;
use backtick_core::{
    Codec, Job, JobContext, JobFilter, JobId, JobState, Outcome, QueueStore, RetryPolicy, RunnerId, StateMap,
    Transition, Worker,
};
use chrono::{SubsecRound, Utc};
use futures::FutureExt;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::panic_message;

/// What happened when one job was run by [`work_job`] or [`perform_job`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkedJob {
    /// The job as the worker saw it.
    pub job: Job,
    /// How the run ended, as the runner would see it (a panic is caught and reported here).
    pub outcome: Outcome,
    /// The transition the runner would apply for that outcome, with the default
    /// [`RetryPolicy`] and no jitter skew.
    pub transition: Transition,
}

impl WorkedJob {
    /// True when the worker succeeded.
    pub fn is_completed(&self) -> bool {
        self.outcome == Outcome::Completed
    }

    /// Panic, showing the outcome, unless the worker succeeded.
    ///
    /// # Panics
    /// When the run did not complete.
    pub fn assert_completed(&self) {
        assert!(
            self.is_completed(),
            "job {} ({}) did not complete: {:?}",
            self.job.id,
            self.job.worker,
            self.outcome
        );
    }
}

/// The job a runner would hand to `worker` on a first attempt with `args`: encoded with the
/// worker's codec, on its queue, with its `max_attempts`. Change fields (say `attempt`) and
/// run it with [`perform_job`].
///
/// # Panics
/// When `args` cannot be encoded with the worker's codec.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, worker_fn};
/// use backtick_testkit::assert::test_job;
/// let worker = worker_fn("greet", |_: JobContext, name: String| async move { Ok(()) });
/// let job = test_job(&worker, &"ada");
/// assert_eq!((job.worker.as_str(), job.attempt), ("greet", 1));
/// ```
pub fn test_job<W: Worker + ?Sized>(worker: &W, args: &impl Serialize) -> Job {
    let options = worker.options();
    let codec: Codec = options.codec;
    let args = codec.encode(args).unwrap_or_else(|error| {
        panic!(
            "test_job: cannot encode the arguments for worker {:?}: {error}",
            worker.name()
        )
    });
    let now = Utc::now().trunc_subsecs(6);
    Job {
        id: JobId(1),
        worker: worker.name().to_owned(),
        queue: options.queue,
        args,
        codec,
        priority: options.priority,
        state: JobState::Running,
        attempt: 1,
        max_attempts: options.max_attempts,
        run_at: now,
        lease_owner: Some(RunnerId::new("backtick-testkit")),
        lease_expires_at: Some(now + chrono::Duration::minutes(5)),
        last_error: None,
        unique_key: None,
        trace_context: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
    }
}

/// Run one job with `args` through `worker`, as a runner would on the job's first attempt,
/// without a runner or a store. Panics in the worker are caught and reported as
/// [`Outcome::Panicked`]; the worker's `timeout` option, when set, is applied.
///
/// # Panics
/// When `args` cannot be encoded with the worker's codec.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, JobError, Outcome, Transition, worker_fn};
/// use backtick_testkit::assert::work_job;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let worker = worker_fn("divide", |_: JobContext, (x, y): (i64, i64)| async move {
///     if y == 0 {
///         return Err(JobError::discard("division by zero"));
///     }
///     println!("{}", x / y);
///     Ok(())
/// });
/// work_job(&worker, &(6, 3)).await.assert_completed();
/// let worked = work_job(&worker, &(1, 0)).await;
/// assert_eq!(worked.outcome, Outcome::Discarded { error: "division by zero".into() });
/// assert!(matches!(worked.transition, Transition::Dead { .. }));
/// # });
/// ```
pub async fn work_job<W: Worker + ?Sized>(worker: &W, args: &impl Serialize) -> WorkedJob {
    perform_job(worker, test_job(worker, args)).await
}

/// [`work_job`] for a worker that takes states (`State<T>` arguments, or
/// [`JobContext::state`]): the job's context hands out `states`, as a runner's hands out those
/// of [`backtick_core::RunnerBuilder::state`].
///
/// # Panics
/// When `args` cannot be encoded with the worker's codec, or `states` lacks one the worker
/// lists in [`Worker::required_states`] (the message names it, as a runner's build would).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, StateMap, worker_fn};
/// use backtick_testkit::assert::work_job_with;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let worker = worker_fn("greet", |ctx: JobContext, name: String| async move {
///     let greeting = ctx.state::<String>()?;
///     println!("{} {name}", *greeting);
///     Ok(())
/// });
/// let mut states = StateMap::new();
/// states.insert(String::from("hello"));
/// work_job_with(&worker, &"ada", states).await.assert_completed();
/// # });
/// ```
pub async fn work_job_with<W: Worker + ?Sized>(worker: &W, args: &impl Serialize, states: StateMap) -> WorkedJob {
    perform_job_with(worker, test_job(worker, args), states).await
}

/// [`perform_job`] with `states` for the job's context; see [`work_job_with`].
///
/// # Panics
/// When `states` lacks one the worker lists in [`Worker::required_states`].
pub async fn perform_job_with<W: Worker + ?Sized>(worker: &W, job: Job, states: StateMap) -> WorkedJob {
    if let Some(missing) = worker
        .required_states()
        .into_iter()
        .find(|requirement| !states.contains(requirement))
    {
        panic!(
            "{}",
            backtick_core::MissingState {
                worker: worker.name().to_owned(),
                type_name: missing.type_name(),
            }
        );
    }
    run_job(worker, job, states).await
}

/// Run a prepared `job` through `worker` (see [`test_job`]): for a late attempt, a payload in
/// another shape, or any field the worker reads.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, JobError, Transition, worker_fn};
/// use backtick_testkit::assert::{perform_job, test_job};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let flaky = worker_fn("flaky", |_: JobContext, (): ()| async { Err(JobError::retry("try again")) });
/// let mut job = test_job(&flaky, &());
/// job.attempt = job.max_attempts;
/// let worked = perform_job(&flaky, job).await;
/// assert!(matches!(worked.transition, Transition::Dead { .. }), "the last attempt goes dead");
/// # });
/// ```
pub async fn perform_job<W: Worker + ?Sized>(worker: &W, job: Job) -> WorkedJob {
    run_job(worker, job, StateMap::new()).await
}

async fn run_job<W: Worker + ?Sized>(worker: &W, job: Job, states: StateMap) -> WorkedJob {
    let context = JobContext::new(job.clone(), CancellationToken::new()).with_states(states);
    let run = AssertUnwindSafe(worker.perform(context)).catch_unwind();
    let finished = match worker.options().timeout {
        Some(limit) => tokio::time::timeout(limit, run)
            .await
            .map_err(|_| Outcome::TimedOut { after: limit }),
        None => Ok(run.await),
    };
    let outcome = match finished {
        Ok(Ok(Ok(()))) => Outcome::Completed,
        Ok(Ok(Err(error))) => error.into_outcome(),
        Ok(Err(panic)) => Outcome::Panicked {
            message: panic_message(panic.as_ref()),
        },
        Err(timed_out) => timed_out,
    };
    let transition = transition_for(&outcome, job.attempt, job.max_attempts, &RetryPolicy::default(), 0.5);
    WorkedJob {
        job,
        outcome,
        transition,
    }
}

/// Panic unless a queued job for `worker` with arguments equal to `args` is on `store`, and
/// return it. Arguments are compared as values (decoded), so map key order does not matter.
/// The panic message lists what is queued.
///
/// # Panics
/// When no such job is queued, or the store fails.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{NewJob, QueueStore};
/// use backtick_testkit::MemoryStore;
/// use backtick_testkit::assert::{assert_enqueued, assert_not_enqueued};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.enqueue(NewJob::new("send_mail", &("ada@example.com", 3)).unwrap(), None).await.unwrap();
/// let job = assert_enqueued(&store, "send_mail", &("ada@example.com", 3)).await;
/// assert_eq!(job.queue, "default");
/// assert_not_enqueued(&store, "send_mail", &("bob@example.com", 3)).await;
/// # });
/// ```
pub async fn assert_enqueued(store: &dyn QueueStore, worker: &str, args: &impl Serialize) -> Job {
    if let Some(job) = find_queued(store, worker, args).await {
        return job;
    }
    let expected = serde_json::to_string(args).unwrap_or_else(|_| "<not representable as JSON>".to_owned());
    panic!(
        "expected a queued {worker:?} job with args {expected}, but found none.\n{}",
        describe_queue(store).await
    );
}

/// Panic if a queued job for `worker` with arguments equal to `args` is on `store`.
///
/// # Panics
/// When such a job is queued, or the store fails.
pub async fn assert_not_enqueued(store: &dyn QueueStore, worker: &str, args: &impl Serialize) {
    if let Some(job) = find_queued(store, worker, args).await {
        panic!(
            "expected no queued {worker:?} job with these args, but found {}",
            describe(&job)
        );
    }
}

async fn queued(store: &dyn QueueStore, filter: JobFilter) -> Vec<Job> {
    let filter = filter.state(JobState::Queued).limit(u32::MAX);
    store
        .list(&filter)
        .await
        .unwrap_or_else(|error| panic!("cannot list queued jobs: {error}"))
}

async fn find_queued(store: &dyn QueueStore, worker: &str, args: &impl Serialize) -> Option<Job> {
    queued(store, JobFilter::default().worker(worker))
        .await
        .into_iter()
        .find(|job| same_args(job, args))
}

/// The job's arguments equal `args`: byte for byte, or decoded to the same value.
fn same_args(job: &Job, args: &impl Serialize) -> bool {
    let Ok(expected) = job.codec.encode(args) else {
        return false;
    };
    if expected == job.args {
        return true;
    }
    let decode = |bytes: &[u8]| job.codec.decode::<serde_json::Value>(bytes).ok();
    matches!((decode(&expected), decode(&job.args)), (Some(a), Some(b)) if a == b)
}

fn describe(job: &Job) -> String {
    let args = match job.codec.decode::<serde_json::Value>(&job.args) {
        Ok(value) => value.to_string(),
        Err(_) => format!("<{} undecodable {} bytes>", job.args.len(), job.codec),
    };
    format!(
        "job {} {:?} on {:?} due {} args {args}",
        job.id,
        job.worker,
        job.queue,
        job.run_at.to_rfc3339()
    )
}

async fn describe_queue(store: &dyn QueueStore) -> String {
    const SHOWN: usize = 50;
    let jobs = queued(store, JobFilter::default()).await;
    if jobs.is_empty() {
        return "no job is queued.".to_owned();
    }
    let mut text = format!("{} queued job(s):", jobs.len());
    for job in jobs.iter().take(SHOWN) {
        text.push_str("\n  ");
        text.push_str(&describe(job));
    }
    if jobs.len() > SHOWN {
        text.push_str(&format!("\n  ... and {} more", jobs.len() - SHOWN));
    }
    text
}
