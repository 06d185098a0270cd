//! Recurring schedules fired by real runners on `DieselStore`: each fire time enqueues exactly
//! one job, however many runners are up. (The store-level rules are in the conformance suite.)

use std::sync::Arc;
use std::time::Duration;

use backtick_diesel::schedule::{CatchUp, Every, Periodic};
use backtick_diesel::{JobContext, JobFilter, NewJob, QueueStore, Runner, RunnerConfig, RunnerId, worker_fn};

use crate::common::TestDb;

fn runner(store: Arc<dyn QueueStore>, name: &str) -> Runner {
    let tick = worker_fn("tick", |_ctx: JobContext, (): ()| async { Ok(()) });
    let periodic = Periodic {
        name: "tick-every-200ms".into(),
        scheduler: Arc::new(Every::new(Duration::from_millis(200)).unwrap()),
        spec: "every 200ms".into(),
        job: NewJob::new("tick", &()).unwrap(),
        catch_up: CatchUp::Once,
    };
    let config = RunnerConfig {
        runner_id: RunnerId::new(name),
        poll_interval: Duration::from_millis(50),
        schedule_interval: Duration::from_millis(50),
        ..RunnerConfig::default()
    };
    Runner::builder(store)
        .config(config)
        .worker(tick)
        .unwrap()
        .periodic(periodic)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_fire_a_recurring_schedule_once_per_fire_time() {
    let db = TestDb::migrated().await;
    let store: Arc<dyn QueueStore> = Arc::new(db.store().await);
    let handles: Vec<_> = ["r1", "r2", "r3"]
        .iter()
        .map(|name| runner(store.clone(), name).start())
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for handle in handles {
        handle.shutdown().await;
    }
    let jobs = store.list(&JobFilter::default().worker("tick")).await.unwrap();
    let mut fire_times: Vec<_> = jobs.iter().map(|job| job.run_at).collect();
    fire_times.sort();
    let fired = fire_times.len();
    fire_times.dedup();
    assert!(fired >= 5, "the schedule fired every 200 ms for 3 s, got {fired} jobs");
    assert_eq!(fire_times.len(), fired, "no fire time was enqueued twice");
    let steps: Vec<_> = fire_times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    assert!(
        steps.iter().all(|ms| *ms == 200),
        "consecutive fire times, none skipped or doubled: {steps:?}"
    );
}
