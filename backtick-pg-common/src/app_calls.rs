//! The application-facing store calls both backends share, as one macro ([`application_calls!`]).

/// The inherent methods an application calls on a store: [`QueueStore`]'s job calls without
/// its test clock (`now: Option<Timestamp>`, always `None` in an application). One copy for
/// both backends: `application_calls!(PgStore, "backtick_postgres")` in `backtick-postgres`,
/// the same with `DieselStore` in `backtick-diesel`; `$krate` names the crate in the doc
/// examples.
///
/// [`QueueStore`]: backtick_core::QueueStore
#[doc(hidden)]
#[macro_export]
macro_rules! application_calls {
    ($store:ident, $krate:literal) => {
        impl $store {
            /// Put one job on the queue, due at its `run_at` (default now, by the database's clock).
            /// With a `unique_key` that an existing job holds, nothing is inserted and that job's id
            /// is returned. As [`QueueStore::enqueue`].
            ///
            /// # Errors
            /// [`StoreError`], as for any store call.
            ///
            /// # Examples
            /// ```no_run
            #[doc = concat!(" ", "# async fn example(store: &", $krate, "::", stringify!($store), ") -> Result<(), Box<dyn std::error::Error>> {")]
            #[doc = concat!(" ", "use ", $krate, "::NewJob;")]
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

            #[doc = concat!(" ", "[`", stringify!($store), "::enqueue`], reporting whether the job was inserted or was a duplicate of the")]
            /// job holding its `unique_key`. As [`QueueStore::enqueue_reporting`].
            ///
            /// # Errors
            /// [`StoreError`], as for any store call.
            ///
            /// # Examples
            /// ```no_run
            #[doc = concat!(" ", "# async fn example(store: &", $krate, "::", stringify!($store), ") -> Result<(), Box<dyn std::error::Error>> {")]
            #[doc = concat!(" ", "use ", $krate, "::NewJob;")]
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

            #[doc = concat!(" ", "[`", stringify!($store), "::enqueue_many`], reporting per job (in input order) its id and whether it was a")]
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
    };
}
