//! Jobs: what is stored on the queue, and the builder used to put one there.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::codec::{Codec, EncodeError};

/// A point in time, always UTC.
pub type Timestamp = DateTime<Utc>;

/// The default queue a job goes to when none is named.
pub const DEFAULT_QUEUE: &str = "default";

/// The default number of attempts a job gets before it goes to [`JobState::Dead`].
pub const DEFAULT_MAX_ATTEMPTS: i32 = 20;

/// The default priority. Lower numbers are claimed first.
pub const DEFAULT_PRIORITY: i16 = 0;

/// The identifier of a job, assigned by the store when the job is enqueued.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobId;
/// let id = JobId(42);
/// assert_eq!(id.to_string(), "42");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The state of a job. Each variant names the component that moves a job out of it.
///
/// See `docs/state-machine.md` for the full diagram.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobState;
/// assert_eq!("running".parse::<JobState>().unwrap(), JobState::Running);
/// assert!(JobState::Done.is_finished());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Waiting for the jobs it depends on ([`crate::flow::JobGraph`]). Left when the last of
    /// them finishes `done` (to queued) or one ends `dead` or `cancelled` (to cancelled), by
    /// the store's write of that parent's finish; or by an operator's cancel.
    Pending,
    /// Waiting on the queue until `run_at`. Left by a runner's claim, or an operator's cancel.
    Queued,
    /// Claimed by a runner that holds its lease. Left by that runner's completion, failure or
    /// release, by the reviver once the lease expires, or by an operator's cancel.
    Running,
    /// Finished successfully. Left only by the pruner, which deletes it after retention.
    Done,
    /// Failed for good (attempts used up, discarded, or undecodable). Left by an operator's
    /// retry, or the pruner.
    Dead,
    /// Cancelled by an operator or by its worker. Left by an operator's retry, or the pruner.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 6] = [
        JobState::Pending,
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
        JobState::Cancelled,
    ];

    /// The lowercase name used in storage and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True for the states a job never leaves on its own: done, dead and cancelled.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Dead | JobState::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not the name of a [`JobState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job state {0:?}: expected one of pending, queued, running, done, dead, cancelled")]
pub struct UnknownJobState(pub String);

impl FromStr for JobState {
    type Err = UnknownJobState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownJobState(s.to_owned()))
    }
}

/// The identity of one runner process. It must be unique for the process's lifetime:
/// together with the attempt number it fences every write a runner makes to a job it claimed.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::RunnerId;
/// let a = RunnerId::generate();
/// let b = RunnerId::generate();
/// assert_ne!(a, b);
/// assert_eq!(RunnerId::new("web-1").as_str(), "web-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RunnerId(String);

impl RunnerId {
    /// A runner id from a fixed name. Only use this when the name is unique per process.
    pub fn new(name: impl Into<String>) -> Self {
        RunnerId(name.into())
    }

    /// A fresh, unique runner id (`runner-<uuid>`).
    pub fn generate() -> Self {
        RunnerId(format!("runner-{}", uuid::Uuid::new_v4().simple()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Proof of one claim of one job: the attempt number the claim produced and the runner
/// that holds it. Every write a runner makes to a running job carries its token, and the
/// store applies the write only while the job is still running under that same token.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{ClaimToken, JobId, RunnerId};
/// let token = ClaimToken { job_id: JobId(7), attempt: 1, runner_id: RunnerId::new("r1") };
/// assert_eq!(token.to_string(), "job 7 attempt 1 by r1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken {
    /// The claimed job.
    pub job_id: JobId,
    /// The attempt number set by the claim (1 for the first run).
    pub attempt: i32,
    /// The runner that made the claim.
    pub runner_id: RunnerId,
}

impl fmt::Display for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {} attempt {} by {}", self.job_id, self.attempt, self.runner_id)
    }
}

/// One job as stored on the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// The name of the worker that runs it.
    pub worker: String,
    /// The queue it waits on.
    pub queue: String,
    /// The encoded arguments.
    pub args: Vec<u8>,
    /// How `args` is encoded.
    pub codec: Codec,
    /// Lower runs first among jobs that are due.
    pub priority: i16,
    /// Where the job is in its lifecycle.
    pub state: JobState,
    /// How many times it has been claimed (0 before the first claim).
    pub attempt: i32,
    /// The attempt after which a failure sends it to [`JobState::Dead`].
    pub max_attempts: i32,
    /// When it is (or was) due.
    pub run_at: Timestamp,
    /// The runner holding the current claim, while running.
    pub lease_owner: Option<RunnerId>,
    /// When the current claim's lease runs out, while running.
    pub lease_expires_at: Option<Timestamp>,
    /// The error of the last failed attempt, if any.
    pub last_error: Option<String>,
    /// An optional key: at most one job with a given key exists until it is pruned.
    pub unique_key: Option<String>,
    /// The trace it continues: the context of the span it was enqueued in, captured by the
    /// installed [`TracePropagation`](crate::telemetry::TracePropagation); `None` without one.
    pub trace_context: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When it last changed: enqueue, claim, heartbeat, finish, revive, cancel or retry.
    pub updated_at: Timestamp,
    /// When it reached done, dead or cancelled.
    pub finished_at: Option<Timestamp>,
}

impl Job {
    /// The claim token of this job's current claim, if it is running.
    pub fn claim_token(&self) -> Option<ClaimToken> {
        match (&self.state, &self.lease_owner) {
            (JobState::Running, Some(owner)) => Some(ClaimToken {
                job_id: self.id,
                attempt: self.attempt,
                runner_id: owner.clone(),
            }),
            _ => None,
        }
    }
}

/// A job to put on the queue: the builder for [`crate::QueueStore::enqueue`].
///
/// Most code never builds one: a `#[worker]` function's typed path, `my_worker::job(args)` (a
/// [`crate::TypedJob`]) and `my_worker::schedule(store, args)`, takes the arguments with their
/// types and needs no `?` per job; an argument that fails to encode surfaces once, as the
/// enqueue's [`crate::Error::Encode`]. [`NewJob::new`] returns a `Result` by design: it
/// serializes arbitrary `Serialize` values on the spot, and serialization can fail (a map with
/// non-string keys for JSON, a `Serialize` impl that returns an error), which a builder that
/// cannot fail would have to hide or panic on.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{Codec, NewJob};
/// let job = NewJob::new("log_sum", &(3, 4))?.queue("math").priority(1).max_attempts(5);
/// assert_eq!(job.worker, "log_sum");
/// assert_eq!(job.codec, Codec::Cbor);
/// # Ok::<(), backtick_postgres::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The name of the worker that runs it.
    pub worker: String,
    /// The queue it waits on. Default: [`DEFAULT_QUEUE`].
    pub queue: String,
    /// The encoded arguments.
    pub args: Vec<u8>,
    /// How `args` is encoded. Default: CBOR.
    pub codec: Codec,
    /// Lower runs first. Default: [`DEFAULT_PRIORITY`].
    pub priority: i16,
    /// Attempts before it goes dead. Default: [`DEFAULT_MAX_ATTEMPTS`]; must be at least 1.
    pub max_attempts: i32,
    /// When it becomes due. Default: now (the store's clock).
    pub run_at: Option<RunAt>,
    /// At most one job with this key exists until it is pruned (narrowed by `unique_period`
    /// and `unique_states`). Default: none. [`NewJob::unique`] computes one from the worker and
    /// arguments.
    pub unique_key: Option<String>,
    /// With a `unique_key`: the key is per period of the job's due time, the store appending
    /// the period's start to it ([`crate::unique_period_key`]). Default: none.
    pub unique_period: Option<Duration>,
    /// With a `unique_key`: the key is held only while the job is in one of these states
    /// (which must include queued and running). Default: none, every state.
    pub unique_states: Option<Vec<JobState>>,
    /// The trace the job continues when it runs. Default: the current span's, captured when the
    /// job is built through the installed
    /// [`TracePropagation`](crate::telemetry::TracePropagation) (none without one).
    pub trace_context: Option<String>,
}

/// When a job becomes due: at a fixed instant, or a delay after the store's clock reads now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAt {
    /// At this instant.
    At(Timestamp),
    /// This long after the store's current time.
    After(Duration),
}

impl NewJob {
    /// A job for `worker` with `args` encoded as CBOR. Fallible because encoding is (see
    /// [`NewJob`]); the typed path `my_worker::job(args)` defers the error to the enqueue.
    ///
    /// # Errors
    /// [`EncodeError`] when the arguments cannot be serialized.
    pub fn new<A: Serialize + ?Sized>(worker: impl Into<String>, args: &A) -> Result<Self, EncodeError> {
        Self::with_codec(worker, args, Codec::Cbor)
    }

    /// A job for `worker` with `args` encoded with `codec`.
    ///
    /// # Errors
    /// [`EncodeError`] when the arguments cannot be serialized.
    pub fn with_codec<A: Serialize + ?Sized>(
        worker: impl Into<String>,
        args: &A,
        codec: Codec,
    ) -> Result<Self, EncodeError> {
        Ok(Self::from_encoded(worker, codec.encode(args)?, codec))
    }

    /// A job whose arguments are already encoded.
    pub fn from_encoded(worker: impl Into<String>, args: Vec<u8>, codec: Codec) -> Self {
        NewJob {
            worker: worker.into(),
            queue: DEFAULT_QUEUE.to_owned(),
            args,
            codec,
            priority: DEFAULT_PRIORITY,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: None,
            unique_key: None,
            unique_period: None,
            unique_states: None,
            trace_context: crate::telemetry::current_trace_context(),
        }
    }

    /// Put it on `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Set its priority; lower runs first.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// Set how many attempts it gets.
    pub fn max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Make it due at `at` (an "at job").
    pub fn run_at(mut self, at: Timestamp) -> Self {
        self.run_at = Some(RunAt::At(at));
        self
    }

    /// Make it due `delay` after the store's current time.
    pub fn run_after(mut self, delay: Duration) -> Self {
        self.run_at = Some(RunAt::After(delay));
        self
    }

    /// Give it a unique key: enqueueing a second job with the same key returns the first.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Make it unique as `unique` says: by worker, arguments, a chosen value or key, optionally
    /// per period of its due time and only while the holder is in chosen states. Sets
    /// [`NewJob::unique_key`], [`NewJob::unique_period`] and [`NewJob::unique_states`]; call it
    /// after the arguments are final.
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use backtick_postgres::{NewJob, Unique};
    /// let a = NewJob::new("sync", &(7,))?.unique(Unique::by_args());
    /// let b = NewJob::new("sync", &(7,))?.unique(Unique::by_args());
    /// assert_eq!(a.unique_key, b.unique_key);
    /// # Ok::<(), backtick_postgres::EncodeError>(())
    /// ```
    pub fn unique(mut self, unique: crate::unique::Unique) -> Self {
        self.unique_key = Some(unique.key(&self.worker, self.codec, &self.args));
        self.unique_period = unique.period_value();
        self.unique_states = unique.states_value();
        self
    }

    /// Set the trace the job continues (a W3C `traceparent`, optionally followed by `'\n'` and
    /// the `tracestate`), or `None` for no trace. Building a job captures the current span's
    /// already when a [`TracePropagation`](crate::telemetry::TracePropagation) is installed;
    /// this overrides it.
    pub fn trace_context(mut self, context: Option<String>) -> Self {
        self.trace_context = context;
        self
    }

    /// Check the job before it is stored.
    ///
    /// # Errors
    /// [`InvalidJob`] naming the field that is wrong.
    pub fn validate(&self) -> Result<(), InvalidJob> {
        if self.worker.trim().is_empty() {
            return Err(InvalidJob::EmptyWorker);
        }
        if self.queue.trim().is_empty() {
            return Err(InvalidJob::EmptyQueue {
                worker: self.worker.clone(),
            });
        }
        if self.max_attempts < 1 {
            return Err(InvalidJob::MaxAttempts {
                worker: self.worker.clone(),
                max_attempts: self.max_attempts,
            });
        }
        self.validate_unique()?;
        if let Some(context) = &self.trace_context
            && context.len() > crate::telemetry::MAX_TRACE_CONTEXT_LEN
        {
            return Err(InvalidJob::TraceContextTooLong {
                worker: self.worker.clone(),
                len: context.len(),
            });
        }
        Ok(())
    }

    fn validate_unique(&self) -> Result<(), InvalidJob> {
        let worker = || self.worker.clone();
        if self.unique_key.is_none() && (self.unique_period.is_some() || self.unique_states.is_some()) {
            return Err(InvalidJob::UniqueWithoutKey { worker: worker() });
        }
        if self.unique_period.is_some_and(|period| period.is_zero()) {
            return Err(InvalidJob::UniquePeriod { worker: worker() });
        }
        if let Some(states) = &self.unique_states
            && !(states.contains(&JobState::Queued) && states.contains(&JobState::Running))
        {
            return Err(InvalidJob::UniqueStates {
                worker: worker(),
                states: states.clone(),
            });
        }
        Ok(())
    }
}

/// A [`NewJob`] that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidJob {
    /// The worker name is empty.
    #[error("invalid job: the worker name is empty; name the worker that should run it")]
    EmptyWorker,
    /// The queue name is empty.
    #[error("invalid job for worker {worker:?}: the queue name is empty; leave it unset for \"default\"")]
    EmptyQueue {
        /// The job's worker.
        worker: String,
    },
    /// `max_attempts` is below 1.
    #[error("invalid job for worker {worker:?}: max_attempts is {max_attempts}, it must be at least 1")]
    MaxAttempts {
        /// The job's worker.
        worker: String,
        /// The value given.
        max_attempts: i32,
    },
    /// `unique_period` or `unique_states` is set without a `unique_key`.
    #[error(
        "invalid job for worker {worker:?}: a unique period or states needs a unique key; set them with \
         `NewJob::unique(Unique::by_args().period(..))`"
    )]
    UniqueWithoutKey {
        /// The job's worker.
        worker: String,
    },
    /// `unique_period` is zero.
    #[error("invalid job for worker {worker:?}: the unique period is zero; give a period of at least 1 microsecond")]
    UniquePeriod {
        /// The job's worker.
        worker: String,
    },
    /// `unique_states` leaves out queued or running. A job moves between the two by itself
    /// (claim, retry, revive), so a key held in only one of them would be taken by another job
    /// while its holder waits to come back, which then could not.
    #[error(
        "invalid job for worker {worker:?}: unique states {states:?} must include queued and running \
         (a job moves between them by itself); add the finished states that should also block"
    )]
    UniqueStates {
        /// The job's worker.
        worker: String,
        /// The states given.
        states: Vec<JobState>,
    },
    /// The trace context is longer than [`crate::telemetry::MAX_TRACE_CONTEXT_LEN`].
    #[error(
        "invalid job for worker {worker:?}: its trace context is {len} bytes, more than the {} allowed; \
         set a W3C traceparent (and tracestate), or None",
        crate::telemetry::MAX_TRACE_CONTEXT_LEN
    )]
    TraceContextTooLong {
        /// The job's worker.
        worker: String,
        /// The length given, in bytes.
        len: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_state_round_trips_through_its_name() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
        }
        assert!("finished".parse::<JobState>().is_err());
    }

    #[test]
    fn validate_rejects_empty_names_and_zero_attempts() {
        let job = NewJob::from_encoded("w", vec![], Codec::Json);
        assert_eq!(job.validate(), Ok(()));
        assert_eq!(
            job.clone().queue(" ").validate(),
            Err(InvalidJob::EmptyQueue { worker: "w".into() })
        );
        assert!(matches!(
            job.clone().max_attempts(0).validate(),
            Err(InvalidJob::MaxAttempts { .. })
        ));
        assert_eq!(
            NewJob::from_encoded("", vec![], Codec::Json).validate(),
            Err(InvalidJob::EmptyWorker)
        );
    }
}
