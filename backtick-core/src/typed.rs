//! Typed scheduling: the job builder that `#[worker]` hands out as `name::job(args...)`.

use std::time::Duration;

use serde::Serialize;

use crate::codec::EncodeError;
use crate::error::Error;
use crate::job::{JobId, NewJob, Timestamp};
use crate::store::QueueStore;
use crate::worker::WorkerOptions;

/// A job for one worker, built from typed arguments with the worker's defaults (queue,
/// priority, attempts, codec). Change what you need, then [`enqueue`](TypedJob::enqueue) it, or
/// turn it into a [`NewJob`] with [`into_new_job`](TypedJob::into_new_job) to enqueue it inside
/// your own database transaction through the backend crate.
///
/// `#[worker]` generates `name::job(args...)`, which returns one of these; the arguments are
/// encoded as a tuple in argument order (`(x, y)`, `(x,)` for one, `()` for none). An encoding
/// failure is kept and reported when the job is enqueued or converted, so the builder chains
/// without a `?` at every step.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::{QueueStore, TypedJob, WorkerOptions};
/// use backtick_testkit::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// // What `log_sum::job(3, 4)` does for `#[worker] async fn log_sum(x: i64, y: i64)`:
/// let id = TypedJob::new("my_app::log_sum", &(3, 4), &WorkerOptions::default())
///     .queue("math")
///     .run_after(Duration::from_secs(60))
///     .enqueue(&store)
///     .await?;
/// let job = store.get(id).await?.expect("stored");
/// assert_eq!((job.worker.as_str(), job.queue.as_str()), ("my_app::log_sum", "math"));
/// # Ok::<(), backtick_postgres::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
#[must_use = "a job does nothing until it is enqueued"]
pub struct TypedJob {
    job: Result<NewJob, EncodeError>,
}

impl TypedJob {
    /// A job for `worker` with `args` encoded by `options.codec`, on `options.queue` with
    /// `options.priority` and `options.max_attempts`.
    pub fn new<A: Serialize + ?Sized>(worker: &str, args: &A, options: &WorkerOptions) -> Self {
        let job = NewJob::with_codec(worker, args, options.codec).map(|job| {
            job.queue(options.queue.clone())
                .priority(options.priority)
                .max_attempts(options.max_attempts)
        });
        TypedJob { job }
    }

    /// A job for `worker` with arguments already encoded (or the error of encoding them).
    pub(crate) fn from_encoded(worker: &str, args: Result<Vec<u8>, EncodeError>, options: &WorkerOptions) -> Self {
        let job = args.map(|args| {
            NewJob::from_encoded(worker, args, options.codec)
                .queue(options.queue.clone())
                .priority(options.priority)
                .max_attempts(options.max_attempts)
        });
        TypedJob { job }
    }

    fn map(self, change: impl FnOnce(NewJob) -> NewJob) -> Self {
        TypedJob {
            job: self.job.map(change),
        }
    }

    /// Put it on `queue` instead of the worker's queue.
    pub fn queue(self, queue: impl Into<String>) -> Self {
        self.map(|job| job.queue(queue))
    }

    /// Set its priority; lower runs first.
    pub fn priority(self, priority: i16) -> Self {
        self.map(|job| job.priority(priority))
    }

    /// Set how many attempts it gets before it goes dead.
    pub fn max_attempts(self, max_attempts: i32) -> Self {
        self.map(|job| job.max_attempts(max_attempts))
    }

    /// Make it due at `at` (an "at job"). Default: now.
    pub fn run_at(self, at: Timestamp) -> Self {
        self.map(|job| job.run_at(at))
    }

    /// Make it due `delay` after the store's current time.
    pub fn run_after(self, delay: Duration) -> Self {
        self.map(|job| job.run_after(delay))
    }

    /// Give it a unique key: while a job with this key exists, enqueueing returns that job.
    pub fn unique_key(self, key: impl Into<String>) -> Self {
        self.map(|job| job.unique_key(key))
    }

    /// Make it unique: see [`crate::Unique`] and [`NewJob::unique`].
    pub fn unique(self, unique: crate::Unique) -> Self {
        self.map(|job| job.unique(unique))
    }

    /// [`TypedJob::unique`] with a [`crate::Unique`] that may have failed to encode (from
    /// [`crate::Unique::by_value`]): the error is kept until the job is used, as the arguments'.
    pub fn try_unique(self, unique: Result<crate::Unique, EncodeError>) -> Self {
        TypedJob {
            job: self.job.and_then(|job| Ok(job.unique(unique?))),
        }
    }

    /// The untyped job, to enqueue yourself (inside a transaction, say).
    ///
    /// # Errors
    /// [`EncodeError`] when the arguments could not be serialized.
    pub fn into_new_job(self) -> Result<NewJob, EncodeError> {
        self.job
    }

    /// Put it on the queue now.
    ///
    /// # Errors
    /// [`Error::Encode`] when the arguments could not be serialized, [`Error::Store`] when the
    /// store rejected or failed the write.
    pub async fn enqueue<S: QueueStore + ?Sized>(self, store: &S) -> Result<JobId, Error> {
        Ok(store.enqueue(self.job?, None).await?)
    }

    /// Put it on the queue now, reporting whether it was inserted or its unique key was already
    /// held by another job, whose id is returned ([`crate::Enqueued::duplicate`]).
    ///
    /// # Errors
    /// As [`TypedJob::enqueue`].
    pub async fn enqueue_reporting<S: QueueStore + ?Sized>(self, store: &S) -> Result<crate::Enqueued, Error> {
        Ok(store.enqueue_reporting(self.job?, None).await?)
    }

    /// Put many jobs on the queue in one atomic write: all are stored, or none. Ids come back in
    /// input order.
    ///
    /// # Errors
    /// As [`TypedJob::enqueue`]; nothing is stored when any job fails to encode.
    pub async fn enqueue_many<S, I>(store: &S, jobs: I) -> Result<Vec<JobId>, Error>
    where
        S: QueueStore + ?Sized,
        I: IntoIterator<Item = TypedJob>,
    {
        let jobs = jobs
            .into_iter()
            .map(TypedJob::into_new_job)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(store.enqueue_many(jobs, None).await?)
    }
}

impl TryFrom<TypedJob> for NewJob {
    type Error = EncodeError;

    fn try_from(job: TypedJob) -> Result<Self, EncodeError> {
        job.into_new_job()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    #[test]
    fn the_worker_defaults_apply_and_can_be_overridden() {
        let options = WorkerOptions {
            queue: "math".into(),
            max_attempts: 3,
            priority: 2,
            codec: Codec::Json,
            ..WorkerOptions::default()
        };
        let job = TypedJob::new("sum", &(1, 2), &options).into_new_job().unwrap();
        assert_eq!((job.queue.as_str(), job.max_attempts, job.priority), ("math", 3, 2));
        assert_eq!(job.args, b"[1,2]");
        let job = NewJob::try_from(TypedJob::new("sum", &(1, 2), &options).queue("other").priority(-1)).unwrap();
        assert_eq!((job.queue.as_str(), job.priority), ("other", -1));
    }

    #[test]
    fn an_encoding_failure_is_kept_until_the_job_is_used() {
        let mut map = std::collections::BTreeMap::new();
        map.insert((1, 2), "a tuple key is not a JSON object key");
        let options = WorkerOptions {
            codec: Codec::Json,
            ..WorkerOptions::default()
        };
        let job = TypedJob::new("w", &(map,), &options)
            .queue("q")
            .run_after(Duration::from_secs(1));
        assert!(job.into_new_job().is_err());
    }
}
