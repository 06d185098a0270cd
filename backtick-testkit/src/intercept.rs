//! A store that forwards every call to another, letting a test intercept the few it studies
//! (a slow or failing claim, a counted vacuum) without writing out the whole `QueueStore`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backtick_core::admin::{CancelReceiver, CancelRequest, RunnerInfo, ScheduleRunRequest, UnservedWorker};
use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::{
    ClaimParams, ClaimToken, Enqueued, Finish, FinishReport, Job, JobFilter, JobId, NewJob, QueueStore, RunnerId,
    StateCounts, StoreError, Timestamp, WakeReceiver,
};

/// The calls a test may intercept. Each method gets the inner store; the default forwards to it.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use backtick_postgres::{ClaimParams, Job, QueueStore, StoreError, async_trait};
/// use backtick_testkit::{MemoryStore, intercept::{Intercept, Intercepted}};
///
/// #[derive(Default)]
/// struct CountClaims(AtomicUsize);
///
/// #[async_trait]
/// impl Intercept for CountClaims {
///     async fn claim(&self, inner: &dyn QueueStore, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
///         self.0.fetch_add(1, Ordering::SeqCst);
///         inner.claim(params).await
///     }
/// }
///
/// let store = Intercepted::new(MemoryStore::new(), CountClaims::default());
/// assert_eq!(store.hooks.0.load(Ordering::SeqCst), 0);
/// ```
#[async_trait]
pub trait Intercept: Send + Sync + 'static {
    /// Intercept [`QueueStore::claim`].
    async fn claim(&self, inner: &dyn QueueStore, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        inner.claim(params).await
    }

    /// Intercept [`QueueStore::vacuum`].
    async fn vacuum(&self, inner: &dyn QueueStore) -> Result<bool, StoreError> {
        inner.vacuum().await
    }

    /// Intercept [`QueueStore::check_schema`].
    async fn check_schema(&self, inner: &dyn QueueStore) -> Result<(), StoreError> {
        inner.check_schema().await
    }
}

/// `inner`, with `hooks` intercepting the calls of [`Intercept`].
pub struct Intercepted<H> {
    /// The store every call goes to.
    pub inner: Arc<dyn QueueStore>,
    /// What the test intercepts, and whatever it records.
    pub hooks: H,
}

impl<H: Intercept> Intercepted<H> {
    /// `inner` intercepted by `hooks`.
    pub fn new(inner: impl QueueStore, hooks: H) -> Arc<Self> {
        Arc::new(Intercepted {
            inner: Arc::new(inner),
            hooks,
        })
    }
}

#[async_trait]
impl<H: Intercept> QueueStore for Intercepted<H> {
    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.inner.enqueue_many_reporting(jobs, now).await
    }
    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.hooks.claim(self.inner.as_ref(), params).await
    }
    async fn check_schema(&self) -> Result<(), StoreError> {
        self.hooks.check_schema(self.inner.as_ref()).await
    }
    async fn claim_limited(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.inner.claim_limited(params).await
    }
    async fn set_queue_limits(
        &self,
        queue: &str,
        limits: &backtick_core::flow::QueueLimits,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.inner.set_queue_limits(queue, limits, now).await
    }
    async fn queue_limits(&self) -> Result<Vec<(String, backtick_core::flow::QueueLimits)>, StoreError> {
        self.inner.queue_limits().await
    }
    async fn enqueue_graph(
        &self,
        graph: backtick_core::flow::JobGraph,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        self.inner.enqueue_graph(graph, now).await
    }
    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        self.inner.finish_many(finishes, now).await
    }
    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        lease_ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        self.inner.heartbeat_many(tokens, lease_ttl, now).await
    }
    async fn expired_leases(&self, limit: u32, now: Option<Timestamp>) -> Result<Vec<Job>, StoreError> {
        self.inner.expired_leases(limit, now).await
    }
    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        self.inner.revive_many(revivals, now).await
    }
    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError> {
        self.inner.cancel(id, reason, now).await
    }
    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError> {
        self.inner.retry(id, now).await
    }
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.inner.get(id).await
    }
    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.inner.list(filter).await
    }
    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError> {
        self.inner.count_by_state(queue).await
    }
    async fn prune_finished(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.inner.prune_finished(before, limit).await
    }
    async fn upsert_schedules(
        &self,
        schedules: &[ScheduleRecord],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.upsert_schedules(schedules, now).await
    }
    async fn due_schedules(
        &self,
        workers: &[String],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.due_schedules(workers, now).await
    }
    async fn fire_schedule(&self, fire: &ScheduleFire, now: Option<Timestamp>) -> Result<bool, StoreError> {
        self.inner.fire_schedule(fire, now).await
    }
    async fn now(&self) -> Result<Timestamp, StoreError> {
        self.inner.now().await
    }
    async fn vacuum(&self) -> Result<bool, StoreError> {
        self.hooks.vacuum(self.inner.as_ref()).await
    }
    fn subscribe(&self) -> Option<WakeReceiver> {
        self.inner.subscribe()
    }
    async fn wait_for_hints(&self, timeout: Duration) -> bool {
        self.inner.wait_for_hints(timeout).await
    }
    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<Duration>, StoreError> {
        self.inner.next_due(workers, queues, within, now).await
    }
    async fn register_runner(
        &self,
        runner: &RunnerInfo,
        ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.inner.register_runner(runner, ttl, now).await
    }
    async fn deregister_runner(&self, runner: &RunnerId) -> Result<(), StoreError> {
        self.inner.deregister_runner(runner).await
    }
    async fn unserved_jobs(&self, waited: Duration, now: Option<Timestamp>) -> Result<Vec<UnservedWorker>, StoreError> {
        self.inner.unserved_jobs(waited, now).await
    }
    async fn cancel_requests(&self, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError> {
        self.inner.cancel_requests(jobs).await
    }
    fn subscribe_cancels(&self) -> Option<CancelReceiver> {
        self.inner.subscribe_cancels()
    }
    async fn schedule_run_requests(&self, workers: &[String]) -> Result<Vec<ScheduleRunRequest>, StoreError> {
        self.inner.schedule_run_requests(workers).await
    }
    async fn fire_schedule_request(
        &self,
        request: &ScheduleRunRequest,
        job: &NewJob,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.inner.fire_schedule_request(request, job, now).await
    }
}
