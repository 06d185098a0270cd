//! The runner asks its store to vacuum every `vacuum_interval`, and never when it is `None`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::{
    ClaimParams, ClaimToken, Finish, FinishReport, Job, JobContext, JobFilter, JobId, NewJob, QueueStore, Runner,
    RunnerConfig, StateCounts, StoreError, Timestamp, async_trait, worker_fn,
};
use backtick_testkit::MemoryStore;

/// The in-memory store, counting the vacuums it is asked for.
#[derive(Default)]
struct CountingVacuums {
    inner: MemoryStore,
    vacuums: AtomicUsize,
}

#[async_trait]
impl QueueStore for CountingVacuums {
    async fn enqueue(&self, job: NewJob, now: Option<Timestamp>) -> Result<JobId, StoreError> {
        self.inner.enqueue(job, now).await
    }
    async fn enqueue_many(&self, jobs: Vec<NewJob>, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
        self.inner.enqueue_many(jobs, now).await
    }
    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.inner.claim(params).await
    }
    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        self.inner.finish_many(finishes, now).await
    }
    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        self.inner.heartbeat_many(tokens, ttl, now).await
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
        self.vacuums.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
}

async fn vacuums_during_a_short_run(vacuum_interval: Option<Duration>) -> usize {
    let store = Arc::new(CountingVacuums::default());
    let runner = Runner::builder(store.clone())
        .config(RunnerConfig {
            vacuum_interval,
            ..RunnerConfig::default()
        })
        .worker(worker_fn("noop", |_: JobContext, (): ()| async { Ok(()) }))
        .expect("register")
        .build()
        .expect("build")
        .start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    runner.shutdown().await;
    store.vacuums.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_asks_its_store_to_vacuum_every_interval() {
    let vacuums = vacuums_during_a_short_run(Some(Duration::from_millis(50))).await;
    assert!(vacuums >= 2, "{vacuums} vacuum checks in 300 ms at one per 50 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_without_a_vacuum_interval_never_vacuums() {
    assert_eq!(vacuums_during_a_short_run(None).await, 0);
}
