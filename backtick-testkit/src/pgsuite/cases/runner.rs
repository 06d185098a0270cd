//! Runners on a real database: an undecodable payload, a job whose worker no runner has,
//! every connection killed under a busy runner, and three runners firing one schedule.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backtick_core::schedule::{CatchUp, Every, Periodic};
use backtick_core::{
    Codec, JobContext, JobFilter, JobState, NewJob, QueueStore, Runner, RunnerConfig, RunnerHandle, RunnerId,
    StateCounts, worker_fn,
};

use super::{PgCase, terminate_others};
use crate::pgsuite::{PgBackend, TestDatabase};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(
            B,
            "runner",
            an_undecodable_payload_goes_dead_and_a_foreign_worker_stays_queued
        ),
        pg_case!(
            B,
            "runner",
            a_runner_survives_its_connections_being_killed_and_loses_no_job
        ),
        pg_case!(B, "runner", three_runners_fire_a_recurring_schedule_once_per_fire_time),
        pg_case!(
            B,
            "runner",
            a_running_job_cancelled_through_the_admin_ends_cancelled_within_a_second
        ),
    ]
}

/// A runner of the worker `typed`, which sleeps the milliseconds its job names and counts its
/// runs, with short intervals and leases.
fn start(store: Arc<dyn QueueStore>, runs: Arc<AtomicU32>) -> RunnerHandle {
    let config = RunnerConfig {
        poll_interval: Duration::from_millis(50),
        heartbeat_interval: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(2),
        revive_interval: Duration::from_millis(500),
        ..RunnerConfig::default()
    };
    Runner::builder(store)
        .config(config)
        .worker(worker_fn("typed", move |_: JobContext, (_, millis): (String, u64)| {
            runs.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                Ok(())
            }
        }))
        .build()
        .expect("a valid runner")
        .start()
}

async fn wait_for(store: &dyn QueueStore, what: &str, done: impl Fn(&StateCounts) -> bool) -> StateCounts {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(counts) = store.count_by_state(None).await
            && done(&counts)
        {
            return counts;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_undecodable_payload_goes_dead_and_a_foreign_worker_stays_queued<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store: Arc<dyn QueueStore> = Arc::new(schema.store().await);
    let enqueue = |job: NewJob| {
        let store = store.clone();
        async move { store.enqueue(job, None).await.expect("enqueue") }
    };
    let garbage = enqueue(NewJob::from_encoded("typed", vec![0xff, 0x00, 0x13], Codec::Cbor)).await;
    let foreign = enqueue(NewJob::new("no_runner_has_me", &1).expect("encode")).await;
    let fine = enqueue(NewJob::new("typed", &("ok", 0u64)).expect("encode")).await;
    let runner = start(store.clone(), Arc::default());
    wait_for(&*store, "one dead, one done", |c| {
        c.get(JobState::Dead) == 1 && c.get(JobState::Done) == 1
    })
    .await;
    runner.shutdown().await;
    let get = |id| {
        let store = store.clone();
        async move { store.get(id).await.expect("get").expect("the job exists") }
    };
    let dead = get(garbage).await;
    assert_eq!(
        (dead.state, dead.attempt),
        (JobState::Dead, 1),
        "no retry loop for a payload that cannot decode"
    );
    let error = dead.last_error.expect("a dead job has its error");
    assert!(error.contains("undecodable payload"), "{error}");
    let waiting = get(foreign).await;
    assert_eq!(
        (waiting.state, waiting.attempt),
        (JobState::Queued, 0),
        "left for a runner that has the worker"
    );
    assert_eq!(get(fine).await.state, JobState::Done);
}

async fn a_runner_survives_its_connections_being_killed_and_loses_no_job<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    // It terminates every connection of its database: a database of its own.
    let db = TestDatabase::<B>::migrated().await;
    let store: Arc<dyn QueueStore> = Arc::new(db.store().await);
    let jobs: Vec<NewJob> = (0..300)
        .map(|i| NewJob::new("typed", &(format!("job {i}"), 20u64)).expect("encode"))
        .collect();
    store.enqueue_many(jobs, None).await.expect("enqueue");
    let runs = Arc::new(AtomicU32::new(0));
    let runner = start(store.clone(), runs.clone());
    wait_for(&*store, "some jobs done", |c| c.get(JobState::Done) >= 30).await;
    let mut admin = db.sql().await;
    for _ in 0..3 {
        let killed = terminate_others(&mut admin).await;
        assert!(!killed.is_empty());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counts = wait_for(&*store, "every job done", |c| c.get(JobState::Done) == 300).await;
    let stats = runner.shutdown().await;
    assert_eq!(counts.total(), 300, "no job lost");
    assert!(runs.load(Ordering::SeqCst) >= 300);
    println!(
        "runs {} for 300 jobs; runner stats {stats:?}",
        runs.load(Ordering::SeqCst)
    );
}

/// A runner named `name` of a schedule that fires every 200 ms.
fn ticking_runner(store: Arc<dyn QueueStore>, name: &str) -> Runner {
    let tick = worker_fn("tick", |_ctx: JobContext, (): ()| async { Ok(()) });
    let periodic = Periodic {
        name: "tick-every-200ms".into(),
        scheduler: Arc::new(Every::new(Duration::from_millis(200)).expect("a valid interval")),
        spec: "every 200ms".into(),
        job: NewJob::new("tick", &()).expect("encode"),
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
        .periodic(periodic)
        .build()
        .expect("a valid runner")
}

async fn three_runners_fire_a_recurring_schedule_once_per_fire_time<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store: Arc<dyn QueueStore> = Arc::new(schema.store().await);
    let handles: Vec<_> = ["r1", "r2", "r3"]
        .iter()
        .map(|name| ticking_runner(store.clone(), name).start())
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for handle in handles {
        handle.shutdown().await;
    }
    let jobs = store.list(&JobFilter::default().worker("tick")).await.expect("list");
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

/// The operator's cancel of a running job reaches its runner (NOTIFY, heartbeat as fallback)
/// and the job ends `cancelled`: [`crate::runner_checks::cancel_a_running_job_through_the_admin`].
async fn a_running_job_cancelled_through_the_admin_ends_cancelled_within_a_second<B: PgBackend>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    assert!(B::wait_listening(&store, Duration::from_secs(10)).await, "listener up");
    crate::runner_checks::cancel_a_running_job_through_the_admin(Arc::new(store)).await;
}
