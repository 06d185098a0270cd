//! Runner tests on the in-memory reference store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backtick_core::{
    ClaimParams, Codec, Job, JobContext, JobError, JobFilter, JobState, ManualClock, NewJob, QueueStore, RetryPolicy,
    Runner, RunnerConfig, StateCounts, StoreError, Timestamp, WorkerOptions, async_trait, maintenance::Reviver,
    worker_fn,
};
use backtick_testkit::MemoryStore;
use backtick_testkit::intercept::{Intercept, Intercepted};

fn fast_config() -> RunnerConfig {
    RunnerConfig {
        poll_interval: Duration::from_millis(20),
        heartbeat_interval: Duration::from_millis(100),
        lease_ttl: Duration::from_secs(5),
        revive_interval: Duration::from_secs(1),
        shutdown_timeout: Duration::from_secs(5),
        retry_policy: RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(10),
            jitter: 0.0,
        },
        ..RunnerConfig::default()
    }
}

async fn counts(store: &dyn QueueStore) -> StateCounts {
    store.count_by_state(None).await.expect("count jobs")
}

/// Poll the store until `done` holds, failing the test after `limit`.
async fn wait_until(store: &dyn QueueStore, limit: Duration, what: &str, done: impl Fn(&StateCounts) -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let now = counts(store).await;
        if done(&now) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; counts: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn only_job(store: &dyn QueueStore) -> Job {
    let jobs = store.list(&JobFilter::default()).await.expect("list");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs.into_iter().next().expect("one job")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_jobs_at_concurrency_32_all_run_exactly_once() {
    let store = MemoryStore::new();
    let runs: Arc<Mutex<HashMap<u32, u32>>> = Arc::default();
    let jobs: Vec<NewJob> = (0..10_000u32)
        .map(|i| NewJob::new("record", &i).expect("encode"))
        .collect();
    store.enqueue_many(jobs, None).await.expect("enqueue");
    let seen = runs.clone();
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .concurrency(32)
        .worker(worker_fn("record", move |_: JobContext, i: u32| {
            let seen = seen.clone();
            async move {
                *seen.lock().expect("lock").entry(i).or_default() += 1;
                Ok(())
            }
        }))
        .build()
        .expect("build")
        .start();
    wait_until(&store, Duration::from_secs(120), "10,000 jobs done", |c| {
        c.get(JobState::Done) == 10_000
    })
    .await;
    let stats = runner.shutdown().await;
    {
        let runs = runs.lock().expect("lock");
        assert_eq!(runs.len(), 10_000);
        assert!(runs.values().all(|&n| n == 1), "some job ran more than once");
    }
    assert_eq!(stats.completed, 10_000);
    assert_eq!(stats.claimed, 10_000);
    assert_eq!(counts(&store).await.total(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_worker_is_retried_then_dead_after_max_attempts() {
    let store = MemoryStore::new();
    store
        .enqueue(NewJob::new("explode", &()).expect("encode").max_attempts(3), None)
        .await
        .expect("enqueue");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker_fn("explode", move |_: JobContext, (): ()| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if true {
                    panic!("kaboom");
                }
                Ok(())
            }
        }))
        .build()
        .expect("build")
        .start();
    wait_until(&store, Duration::from_secs(20), "the job to go dead", |c| {
        c.get(JobState::Dead) == 1
    })
    .await;
    let stats = runner.shutdown().await;
    let job = only_job(&store).await;
    assert_eq!(job.attempt, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let error = job.last_error.expect("an error is recorded");
    assert!(error.contains("worker panicked: kaboom"), "{error}");
    assert_eq!((stats.requeued, stats.dead), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_job_is_retried_and_can_then_succeed() {
    let store = MemoryStore::new();
    store
        .enqueue(NewJob::new("slow_once", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let worker = worker_fn("slow_once", move |_: JobContext, (): ()| {
        let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok(())
        }
    })
    .with_options(WorkerOptions {
        timeout: Some(Duration::from_millis(100)),
        ..WorkerOptions::default()
    });
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker)
        .build()
        .expect("build")
        .start();
    wait_until(&store, Duration::from_secs(20), "the job to be done", |c| {
        c.get(JobState::Done) == 1
    })
    .await;
    runner.shutdown().await;
    let job = only_job(&store).await;
    assert_eq!(job.attempt, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        job.last_error
            .expect("first attempt's error")
            .contains("timed out after 100ms")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_leaves_no_job_running_and_loses_none() {
    let store = MemoryStore::new();
    let jobs: Vec<NewJob> = (0..200u64)
        .map(|i| NewJob::new("nap", &(i % 7 * 40)).expect("encode"))
        .collect();
    store.enqueue_many(jobs, None).await.expect("enqueue");
    let config = RunnerConfig {
        shutdown_timeout: Duration::from_millis(150),
        ..fast_config()
    };
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(config)
        .concurrency(16)
        .worker(worker_fn("nap", |ctx: JobContext, millis: u64| async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(millis)) => Ok(()),
                _ = ctx.cancelled() => Err(JobError::retry("stopped by shutdown")),
            }
        }))
        .build()
        .expect("build")
        .start();
    wait_until(&store, Duration::from_secs(20), "some jobs done", |c| {
        c.get(JobState::Done) >= 40
    })
    .await;
    runner.shutdown().await;
    let after = counts(&store).await;
    assert_eq!(after.get(JobState::Running), 0, "{after:?}");
    assert_eq!(
        after.get(JobState::Queued) + after.get(JobState::Done),
        200,
        "{after:?}"
    );
    // Released jobs are due again at once with their attempt refunded.
    for job in store
        .list(&JobFilter::default().state(JobState::Queued))
        .await
        .expect("list")
    {
        assert!(job.attempt < job.max_attempts, "{job:?}");
        assert!(job.lease_owner.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_running_jobs_within_the_timeout() {
    let store = MemoryStore::new();
    store
        .enqueue(NewJob::new("nap", &200u64).expect("encode"), None)
        .await
        .expect("enqueue");
    let started = Arc::new(tokio::sync::Notify::new());
    let signal = started.clone();
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker_fn("nap", move |_: JobContext, millis: u64| {
            signal.notify_one();
            async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                Ok(())
            }
        }))
        .build()
        .expect("build")
        .start();
    started.notified().await;
    let stats = runner.shutdown().await;
    assert_eq!(stats.completed, 1);
    assert_eq!(only_job(&store).await.state, JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_without_a_jobs_worker_leaves_it_queued() {
    let store = MemoryStore::new();
    let foreign = store
        .enqueue(NewJob::new("someone_elses", &1).expect("encode"), None)
        .await
        .expect("enqueue");
    store
        .enqueue(NewJob::new("mine", &1).expect("encode"), None)
        .await
        .expect("enqueue");
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker_fn("mine", |_: JobContext, _: i32| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    wait_until(&store, Duration::from_secs(10), "my job done", |c| {
        c.get(JobState::Done) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    runner.shutdown().await;
    let job = store.get(foreign).await.expect("get").expect("still there");
    assert_eq!((job.state, job.attempt), (JobState::Queued, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_payload_goes_dead_without_a_retry() {
    let store = MemoryStore::new();
    let garbage = NewJob::from_encoded("typed", vec![0xff, 0x13, 0x37], Codec::Cbor);
    store.enqueue(garbage, None).await.expect("enqueue");
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker_fn("typed", |_: JobContext, _: (String, u8)| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    wait_until(&store, Duration::from_secs(10), "the job to go dead", |c| {
        c.get(JobState::Dead) == 1
    })
    .await;
    runner.shutdown().await;
    let job = only_job(&store).await;
    assert_eq!(job.attempt, 1);
    let error = job.last_error.expect("error recorded");
    assert!(
        error.contains("undecodable payload") && error.contains("cbor"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_with_backoff_until_it_succeeds() {
    let store = MemoryStore::new();
    store
        .enqueue(NewJob::new("flaky", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker_fn("flaky", move |_: JobContext, (): ()| {
            let call = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if call < 3 {
                    Err(JobError::retry(format!("failure {call}")))
                } else {
                    Ok(())
                }
            }
        }))
        .build()
        .expect("build")
        .start();
    wait_until(&store, Duration::from_secs(10), "the job to be done", |c| {
        c.get(JobState::Done) == 1
    })
    .await;
    let stats = runner.shutdown().await;
    let job = only_job(&store).await;
    assert_eq!((job.attempt, calls.load(Ordering::SeqCst)), (3, 3));
    assert_eq!(job.last_error.as_deref(), Some("failure 2"));
    assert_eq!((stats.requeued, stats.completed), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_wakes_an_idle_runner_before_its_next_poll() {
    let store = MemoryStore::new();
    let config = RunnerConfig {
        poll_interval: Duration::from_secs(600),
        ..fast_config()
    };
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(config)
        .worker(worker_fn("quick", |_: JobContext, (): ()| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    // Let the claim loop find the queue empty and go to sleep for its ten-minute poll.
    tokio::time::sleep(Duration::from_millis(100)).await;
    store
        .enqueue(NewJob::new("quick", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    wait_until(&store, Duration::from_secs(30), "the job to be done", |c| {
        c.get(JobState::Done) == 1
    })
    .await;
    runner.shutdown().await;
}

/// A store whose first claims fail, as if the database were down.
struct FlakyClaims {
    failures_left: AtomicUsize,
    claims: AtomicUsize,
}

#[async_trait]
impl Intercept for FlakyClaims {
    async fn claim(&self, inner: &dyn QueueStore, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        let fail = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(StoreError::Connection {
                source: "connection refused".into(),
            });
        }
        inner.claim(params).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_makes_the_runner_back_off_not_spin_or_crash() {
    let inner = MemoryStore::new();
    inner
        .enqueue(NewJob::new("quick", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    let store = Intercepted::new(
        inner.clone(),
        FlakyClaims {
            failures_left: AtomicUsize::new(6),
            claims: AtomicUsize::new(0),
        },
    );
    let runner = Runner::builder(store.clone())
        .config(fast_config())
        .worker(worker_fn("quick", |_: JobContext, (): ()| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    wait_until(&inner, Duration::from_secs(30), "the job to be done", |c| {
        c.get(JobState::Done) == 1
    })
    .await;
    runner.shutdown().await;
    // Six failures with exponential backoff (50ms, 100ms, ... 1.6s) take over three seconds;
    // a spinning loop would have made thousands of calls in that time.
    let claims = store.hooks.claims.load(Ordering::SeqCst);
    assert!(claims >= 7, "claims: {claims}");
    assert!(claims < 300, "the claim loop spun: {claims} claims");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_whose_lease_was_lost_cannot_mark_the_job_done() {
    let start: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let clock = ManualClock::new(start);
    let store = MemoryStore::new();
    let id = store
        .enqueue(NewJob::new("stuck", &()).expect("encode"), Some(start))
        .await
        .expect("enqueue");
    let release = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(tokio::sync::Notify::new());
    let (gate, signal) = (release.clone(), started.clone());
    // No heartbeat and no reviver of its own within the test: the runner simply stalls.
    let config = RunnerConfig {
        lease_ttl: Duration::from_secs(7200),
        heartbeat_interval: Duration::from_secs(3600),
        revive_interval: Duration::from_secs(3600),
        ..fast_config()
    };
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(config)
        .clock(clock.clone())
        .worker(worker_fn("stuck", move |_: JobContext, (): ()| {
            let (gate, signal) = (gate.clone(), signal.clone());
            async move {
                signal.notify_one();
                gate.notified().await;
                Ok(())
            }
        }))
        .build()
        .expect("build")
        .start();
    started.notified().await;
    // The runner stalls past its lease; a reviver elsewhere puts the job back.
    clock.advance(Duration::from_secs(7201));
    let report = Reviver::new(Arc::new(store.clone()), Arc::new(clock.clone()))
        .run_once(Some(clock.get()))
        .await
        .expect("revive");
    assert_eq!(report.requeued, 1);
    // The runner re-claims the job (attempt 2) on its next poll: that new claim is live.
    wait_until(&store, Duration::from_secs(10), "the job re-claimed", |c| {
        c.get(JobState::Running) == 1
    })
    .await;
    // Now the first, stale run finishes: its completion must not count.
    release.notify_one();
    release.notify_one();
    wait_until(&store, Duration::from_secs(10), "the second run done", |c| {
        c.get(JobState::Done) == 1
    })
    .await;
    let stats = runner.shutdown().await;
    let job = store.get(id).await.expect("get").expect("exists");
    assert_eq!((job.state, job.attempt), (JobState::Done, 2));
    assert_eq!(stats.stale, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_cancelled_through_the_admin_ends_cancelled_within_a_second() {
    backtick_testkit::runner_checks::cancel_a_running_job_through_the_admin(Arc::new(MemoryStore::new())).await;
}

/// A config whose poll would never come within the test: anything that runs on time was found
/// by the runner's own due-time tracking or a hint.
fn no_poll_config() -> RunnerConfig {
    RunnerConfig {
        poll_interval: Duration::from_secs(60),
        retry_policy: RetryPolicy {
            base: Duration::from_millis(300),
            cap: Duration::from_millis(300),
            jitter: 0.0,
        },
        ..fast_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_due_later_and_its_retry_start_on_time_without_the_poll() {
    let store = MemoryStore::new();
    let starts: Arc<Mutex<Vec<Timestamp>>> = Arc::default();
    let seen = starts.clone();
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(no_poll_config())
        .worker(worker_fn("flaky", move |_: JobContext, (): ()| {
            let seen = seen.clone();
            async move {
                let mut starts = seen.lock().expect("lock");
                starts.push(chrono::Utc::now());
                if starts.len() == 1 {
                    return Err(JobError::retry("first attempt fails"));
                }
                Ok(())
            }
        }))
        .build()
        .expect("build")
        .start();
    tokio::time::sleep(Duration::from_millis(100)).await; // idle, sleeping towards its poll
    let due = chrono::Utc::now() + chrono::Duration::milliseconds(400);
    store
        .enqueue(NewJob::new("flaky", &()).expect("encode").run_at(due), None)
        .await
        .expect("enqueue");
    wait_until(&store, Duration::from_secs(10), "the retry to succeed", |c| {
        c.get(JobState::Done) == 1
    })
    .await;
    runner.shutdown().await;
    let starts = starts.lock().expect("lock").clone();
    assert_eq!(starts.len(), 2, "{starts:?}");
    let late = |start: Timestamp, due: Timestamp| (start - due).to_std().unwrap_or_default();
    assert!(
        starts[0] >= due && late(starts[0], due) < Duration::from_secs(5),
        "the at-job starts at its due time, not at the poll 60 s later: {starts:?} due {due}"
    );
    let retry_due = starts[0] + chrono::Duration::milliseconds(300);
    assert!(
        late(starts[1], retry_due) < Duration::from_secs(5),
        "the retry starts after its 300 ms backoff, not at the poll: {starts:?}"
    );
}

/// A store whose database has no backtick schema: the check and every claim say so.
#[derive(Default)]
struct Unmigrated {
    claims: AtomicUsize,
}

fn not_migrated() -> StoreError {
    StoreError::NotMigrated {
        message: "relation \"backtick_jobs\" does not exist".to_owned(),
    }
}

#[async_trait]
impl Intercept for Unmigrated {
    async fn claim(&self, _inner: &dyn QueueStore, _params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        Err(not_migrated())
    }

    async fn check_schema(&self, _inner: &dyn QueueStore) -> Result<(), StoreError> {
        Err(not_migrated())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_on_an_unmigrated_database_does_not_start_and_says_why() {
    let store = Intercepted::new(MemoryStore::new(), Unmigrated::default());
    let build = || {
        Runner::builder(store.clone())
            .config(fast_config())
            .worker(worker_fn("quick", |_: JobContext, (): ()| async { Ok(()) }))
            .build()
            .expect("build")
    };

    let error = build()
        .try_start()
        .await
        .err()
        .expect("no runner on an unmigrated database");
    let ran = build()
        .run_until(std::future::pending())
        .await
        .expect_err("run_until returns at once");

    for error in [error, ran] {
        assert!(
            matches!(error, backtick_core::Error::Store(StoreError::NotMigrated { .. })),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("migrate()") && text.contains("backtick migrate up"),
            "{text}"
        );
        assert!(!text.contains("xtask"), "an application has no xtask: {text}");
    }
    assert_eq!(store.hooks.claims.load(Ordering::SeqCst), 0, "nothing was claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_runner_whose_claim_finds_no_schema_stops_claiming() {
    let store = Intercepted::new(MemoryStore::new(), Unmigrated::default());
    let runner = Runner::builder(store.clone())
        .config(fast_config())
        .worker(worker_fn("quick", |_: JobContext, (): ()| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    // Backing off as for a transient error, it would claim again after 50ms, 100ms, 200ms...
    tokio::time::sleep(Duration::from_millis(600)).await;
    runner.shutdown().await;
    assert_eq!(
        store.hooks.claims.load(Ordering::SeqCst),
        1,
        "one claim, then it stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_a_worker_no_live_runner_has_are_reported_to_the_operator() {
    use backtick_core::QueueAdmin;
    let store = MemoryStore::new();
    let ghost = store
        .enqueue(NewJob::new("ghost.worker", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    let runner = Runner::builder(Arc::new(store.clone()))
        .config(fast_config())
        .worker(worker_fn("quick", |_: JobContext, (): ()| async { Ok(()) }))
        .build()
        .expect("build")
        .start();
    store
        .enqueue(NewJob::new("quick", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    wait_until(&store, Duration::from_secs(10), "the served job to be done", |c| {
        c.get(JobState::Done) == 1
    })
    .await;

    let unserved = store.unserved_workers(Duration::ZERO, None).await.expect("report");
    let waited_long = store
        .unserved_workers(Duration::from_secs(3600), None)
        .await
        .expect("report");
    runner.shutdown().await;

    assert_eq!(unserved.len(), 1, "{unserved:?}");
    assert_eq!(
        (unserved[0].worker.as_str(), unserved[0].jobs, unserved[0].oldest_job),
        ("ghost.worker", 1, ghost)
    );
    assert!(waited_long.is_empty(), "not due for an hour yet: {waited_long:?}");
    assert_eq!(
        store.get(ghost).await.expect("get").map(|job| job.state),
        Some(JobState::Queued),
        "it stays queued for a runner that has the worker"
    );
}
