//! A `Runner` on `PgStore` facing bad input and failure: an undecodable payload, a job whose
//! worker no runner has, and every connection killed under a busy runner.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backtick_postgres::{
    Codec, JobContext, JobState, NewJob, PgStore, QueueStore, Runner, RunnerConfig, RunnerHandle, StateCounts,
    worker_fn,
};

use crate::common::TestDb;

fn start(store: &PgStore, runs: Arc<AtomicU32>) -> RunnerHandle {
    let config = RunnerConfig {
        poll_interval: Duration::from_millis(50),
        heartbeat_interval: Duration::from_millis(300),
        lease_ttl: Duration::from_secs(2),
        revive_interval: Duration::from_millis(500),
        ..RunnerConfig::default()
    };
    Runner::builder(Arc::new(store.clone()))
        .config(config)
        .worker(worker_fn("typed", move |_: JobContext, (_, millis): (String, u64)| {
            runs.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                Ok(())
            }
        }))
        .unwrap()
        .build()
        .unwrap()
        .start()
}

async fn wait_for(store: &PgStore, what: &str, done: impl Fn(&StateCounts) -> bool) -> StateCounts {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_payload_goes_dead_and_a_foreign_worker_stays_queued() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let garbage = store
        .enqueue(NewJob::from_encoded("typed", vec![0xff, 0x00, 0x13], Codec::Cbor), None)
        .await
        .unwrap();
    let foreign = store
        .enqueue(NewJob::new("no_runner_has_me", &1).unwrap(), None)
        .await
        .unwrap();
    let fine = store
        .enqueue(NewJob::new("typed", &("ok", 0u64)).unwrap(), None)
        .await
        .unwrap();
    let runner = start(&store, Arc::default());
    wait_for(&store, "one dead, one done", |c| {
        c.get(JobState::Dead) == 1 && c.get(JobState::Done) == 1
    })
    .await;
    runner.shutdown().await;
    let dead = store.get(garbage).await.unwrap().unwrap();
    assert_eq!(
        (dead.state, dead.attempt),
        (JobState::Dead, 1),
        "no retry loop for a payload that cannot decode"
    );
    assert!(dead.last_error.unwrap().contains("undecodable payload"));
    let waiting = store.get(foreign).await.unwrap().unwrap();
    assert_eq!(
        (waiting.state, waiting.attempt),
        (JobState::Queued, 0),
        "left for a runner that has the worker"
    );
    assert_eq!(store.get(fine).await.unwrap().unwrap().state, JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_survives_its_connections_being_killed_and_loses_no_job() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let jobs: Vec<NewJob> = (0..300)
        .map(|i| NewJob::new("typed", &(format!("job {i}"), 20u64)).unwrap())
        .collect();
    store.enqueue_many(jobs, None).await.unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let runner = start(&store, runs.clone());
    wait_for(&store, "some jobs done", |c| c.get(JobState::Done) >= 30).await;
    let mut admin = db.connection().await;
    for _ in 0..3 {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!killed.is_empty());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counts = wait_for(&store, "every job done", |c| c.get(JobState::Done) == 300).await;
    let stats = runner.shutdown().await;
    assert_eq!(counts.total(), 300, "no job lost");
    assert!(runs.load(Ordering::SeqCst) >= 300);
    println!(
        "runs {} for 300 jobs; runner stats {stats:?}",
        runs.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_cancelled_through_the_admin_ends_cancelled_within_a_second() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    assert!(store.wait_listening(Duration::from_secs(10)).await, "listener up");
    backtick_testkit::runner_checks::cancel_a_running_job_through_the_admin(Arc::new(store)).await;
}
