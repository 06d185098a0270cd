//! The vacuumer asks its store to vacuum; a runner drives it every `vacuum_interval`, and
//! never when that is `None`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backtick_core::maintenance::{VacuumReport, Vacuumer};
use backtick_core::{JobContext, QueueStore, Runner, RunnerConfig, StoreClock, StoreError, async_trait, worker_fn};
use backtick_testkit::MemoryStore;
use backtick_testkit::intercept::{Intercept, Intercepted};

/// The in-memory store, counting the vacuums it is asked for.
#[derive(Default)]
struct CountingVacuums {
    vacuums: AtomicUsize,
}

#[async_trait]
impl Intercept for CountingVacuums {
    async fn vacuum(&self, _inner: &dyn QueueStore) -> Result<bool, StoreError> {
        self.vacuums.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
}

async fn vacuums_during_a_short_run(vacuum_interval: Option<Duration>) -> usize {
    let store = Intercepted::new(MemoryStore::new(), CountingVacuums::default());
    let runner = Runner::builder(store.clone())
        .config(RunnerConfig {
            vacuum_interval,
            ..RunnerConfig::default()
        })
        .worker(worker_fn("noop", |_: JobContext, (): ()| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    runner.shutdown().await;
    store.hooks.vacuums.load(Ordering::SeqCst)
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

#[tokio::test]
async fn a_vacuumer_pass_asks_the_store_once_and_reports_its_answer() {
    let store = Intercepted::new(MemoryStore::new(), CountingVacuums::default());
    let report = Vacuumer::new(store.clone(), Arc::new(StoreClock))
        .run_once(None)
        .await
        .expect("vacuum");
    assert_eq!(report, VacuumReport { vacuumed: true });
    assert_eq!(store.hooks.vacuums.load(Ordering::SeqCst), 1);
    let unintercepted = Vacuumer::new(Arc::new(MemoryStore::new()), Arc::new(StoreClock));
    let report = unintercepted.run_once(None).await.expect("vacuum");
    assert_eq!(report.to_string(), "no vacuum due");
}
