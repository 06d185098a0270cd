//! What an application calls on the store: [`QueueStore`]'s job calls without its test clock.
//!
//! [`QueueStore`]'s methods take `now: Option<Timestamp>` so that tests (the conformance suite,
//! `backtick-testkit`) can run the queue on a clock of their own; an application always passes
//! `None`, the database's clock. These inherent methods are those calls without it. Through an
//! `Arc<dyn QueueStore>` or a generic `S: QueueStore`, the trait's methods are the ones called.

use backtick_core::{Enqueued, JobId, NewJob, QueueStore, StoreError};

use crate::PgStore;

impl PgStore {
    /// Put one job on the queue, due at its `run_at` (default now, by the database's clock).
    /// With a `unique_key` that an existing job holds, nothing is inserted and that job's id
    /// is returned. As [`QueueStore::enqueue`].
    ///
    /// # Errors
    /// [`StoreError`], as for any store call.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn example(store: &backtick_postgres::PgStore) -> Result<(), Box<dyn std::error::Error>> {
    /// use backtick_postgres::NewJob;
    /// let id = store.enqueue(NewJob::new("reports.nightly", &("2030-01-31",))?).await?;
    /// println!("enqueued job {id}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enqueue(&self, job: NewJob) -> Result<JobId, StoreError> {
        QueueStore::enqueue(self, job, None).await
    }

    /// Put many jobs on the queue in one atomic write (all or none); ids in input order. As
    /// [`QueueStore::enqueue_many`].
    ///
    /// # Errors
    /// [`StoreError`], as for any store call; nothing is stored then.
    pub async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError> {
        QueueStore::enqueue_many(self, jobs, None).await
    }

    /// [`PgStore::enqueue`], reporting whether the job was inserted or was a duplicate of the
    /// job holding its `unique_key`. As [`QueueStore::enqueue_reporting`].
    ///
    /// # Errors
    /// [`StoreError`], as for any store call.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn example(store: &backtick_postgres::PgStore) -> Result<(), Box<dyn std::error::Error>> {
    /// use backtick_postgres::NewJob;
    /// let job = NewJob::new("reports.nightly", &("2030-01-31",))?.unique_key("nightly:2030-01-31");
    /// let enqueued = store.enqueue_reporting(job).await?;
    /// if enqueued.duplicate {
    ///     println!("job {} already holds the key", enqueued.id);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enqueue_reporting(&self, job: NewJob) -> Result<Enqueued, StoreError> {
        QueueStore::enqueue_reporting(self, job, None).await
    }

    /// [`PgStore::enqueue_many`], reporting per job (in input order) its id and whether it was a
    /// duplicate. As [`QueueStore::enqueue_many_reporting`].
    ///
    /// # Errors
    /// [`StoreError`], as for any store call; nothing is stored then.
    pub async fn enqueue_many_reporting(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, StoreError> {
        QueueStore::enqueue_many_reporting(self, jobs, None).await
    }

    /// Cancel a queued or running job (a running one is asked to stop); `false` when it is
    /// already finished or does not exist. As [`QueueStore::cancel`].
    ///
    /// # Errors
    /// [`StoreError`], as for any store call.
    pub async fn cancel(&self, id: JobId, reason: &str) -> Result<bool, StoreError> {
        QueueStore::cancel(self, id, reason, None).await
    }

    /// Put a dead or cancelled job back on the queue, due now; `false` when it is in no such
    /// state. As [`QueueStore::retry`].
    ///
    /// # Errors
    /// [`StoreError`], as for any store call.
    pub async fn retry(&self, id: JobId) -> Result<bool, StoreError> {
        QueueStore::retry(self, id, None).await
    }
}
