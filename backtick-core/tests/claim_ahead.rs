//! The claim loop's claim-ahead: a runner whose jobs finish faster than a claim's round trip
//! claims more than its free slots and holds the rest; a runner of slow jobs claims only its
//! free slots; held jobs never started are given back at shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backtick_core::{
    ClaimParams, Job, JobContext, JobError, JobFilter, JobState, NewJob, QueueStore, Runner, RunnerConfig, StateCounts,
    StoreError, async_trait, worker_fn,
};
use backtick_testkit::MemoryStore;
use backtick_testkit::intercept::{Intercept, Intercepted};

/// The in-memory store with a claim that takes `delay`, as a database round trip does, and
/// that remembers the largest limit asked for.
struct SlowClaims {
    delay: Duration,
    largest_limit: AtomicU32,
}

impl SlowClaims {
    fn new(inner: MemoryStore, delay: Duration) -> Arc<Intercepted<Self>> {
        Intercepted::new(
            inner,
            SlowClaims {
                delay,
                largest_limit: AtomicU32::new(0),
            },
        )
    }
}

#[async_trait]
impl Intercept for SlowClaims {
    async fn claim(&self, inner: &dyn QueueStore, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.largest_limit.fetch_max(params.limit, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        inner.claim(params).await
    }
}

fn config(concurrency: usize) -> RunnerConfig {
    RunnerConfig {
        concurrency,
        poll_interval: Duration::from_millis(20),
        heartbeat_interval: Duration::from_millis(200),
        lease_ttl: Duration::from_secs(10),
        shutdown_timeout: Duration::from_millis(200),
        ..RunnerConfig::default()
    }
}

async fn wait_until(store: &MemoryStore, what: &str, done: impl Fn(&StateCounts) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counts = store.count_by_state(None).await.expect("count");
        if done(&counts) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; counts: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_of_instant_jobs_claims_ahead_of_its_free_slots_and_runs_each_job_once() {
    let memory = MemoryStore::new();
    let jobs: Vec<NewJob> = (0..600u32)
        .map(|i| NewJob::new("instant", &i).expect("encode"))
        .collect();
    memory.enqueue_many(jobs, None).await.expect("enqueue");
    let store = SlowClaims::new(memory.clone(), Duration::from_millis(5));
    let runs: Arc<Mutex<HashMap<u32, u32>>> = Arc::default();
    let seen = runs.clone();
    let runner = Runner::builder(store.clone())
        .config(config(2))
        .worker(worker_fn("instant", move |_: JobContext, i: u32| {
            *seen.lock().expect("lock").entry(i).or_default() += 1;
            async { Ok(()) }
        }))
        .build()
        .expect("build")
        .start();
    wait_until(&memory, "600 jobs done", |c| c.get(JobState::Done) == 600).await;
    let stats = runner.shutdown().await;
    let runs = runs.lock().expect("lock");
    assert_eq!(runs.len(), 600);
    assert!(runs.values().all(|&n| n == 1), "a job ran more than once");
    assert_eq!((stats.claimed, stats.completed), (600, 600));
    let largest = store.hooks.largest_limit.load(Ordering::SeqCst);
    assert!(
        largest > 2,
        "claims never asked for more than the 2 free slots (largest: {largest})"
    );
    assert!(
        largest <= 2 + 8 * 2,
        "the claim-ahead went past its cap (largest: {largest})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_of_slow_jobs_claims_only_its_free_slots() {
    let memory = MemoryStore::new();
    let jobs: Vec<NewJob> = (0..12u32).map(|i| NewJob::new("slow", &i).expect("encode")).collect();
    memory.enqueue_many(jobs, None).await.expect("enqueue");
    let store = SlowClaims::new(memory.clone(), Duration::from_millis(1));
    let runner = Runner::builder(store.clone())
        .config(config(3))
        .worker(worker_fn("slow", |_: JobContext, _: u32| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(())
        }))
        .build()
        .expect("build")
        .start();
    wait_until(&memory, "12 jobs done", |c| c.get(JobState::Done) == 12).await;
    runner.shutdown().await;
    assert_eq!(store.hooks.largest_limit.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_held_ahead_are_given_back_at_shutdown_without_running() {
    let memory = MemoryStore::new();
    // Many instant jobs first, so the claim-ahead grows; then jobs that run until shutdown,
    // claimed ahead of the two slots they will keep busy.
    let quick: Vec<NewJob> = (0..400u32).map(|i| NewJob::new("quick", &i).expect("encode")).collect();
    memory.enqueue_many(quick, None).await.expect("enqueue");
    let blocking: Vec<NewJob> = (0..12u32)
        .map(|i| NewJob::new("block", &i).expect("encode").priority(1))
        .collect();
    memory.enqueue_many(blocking, None).await.expect("enqueue");
    // A long round trip, so that a loaded machine's scheduling delays stay well under the
    // four round trips after which the claim-ahead shrinks.
    let store = SlowClaims::new(memory.clone(), Duration::from_millis(25));
    let started = Arc::new(AtomicUsize::new(0));
    let counted = started.clone();
    let runner = Runner::builder(store.clone())
        .config(config(2))
        .worker(worker_fn("quick", |_: JobContext, _: u32| async { Ok(()) }))
        .worker(worker_fn("block", move |ctx: JobContext, _: u32| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                ctx.cancelled().await;
                Err(JobError::retry("stopped by shutdown"))
            }
        }))
        .build()
        .expect("build")
        .start();
    // Two blocking jobs run; the others claimed with them are held, leased, for later.
    wait_until(&memory, "the quick jobs done and blocking ones held", |c| {
        c.get(JobState::Done) == 400 && c.get(JobState::Running) > 2
    })
    .await;
    while started.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    runner.shutdown().await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        2,
        "only the two slots ever ran a blocking job"
    );
    let blocked = memory.list(&JobFilter::default().worker("block")).await.expect("list");
    assert_eq!(blocked.len(), 12);
    for job in blocked {
        assert_eq!(job.state, JobState::Queued, "{job:?}");
        assert!(job.lease_owner.is_none(), "{job:?}");
        assert!(job.attempt < job.max_attempts, "{job:?}");
    }
}
