//! Runners on limited queues and dependent jobs, on the in-memory reference store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backtick_core::flow::{JobGraph, QueueLimits, RateLimit};
use backtick_core::{JobContext, JobState, NewJob, QueueStore, Runner, RunnerConfig, worker_fn};
use backtick_testkit::MemoryStore;

fn config(poll_interval: Duration) -> RunnerConfig {
    RunnerConfig {
        poll_interval,
        heartbeat_interval: Duration::from_millis(100),
        lease_ttl: Duration::from_secs(5),
        concurrency: 8,
        ..RunnerConfig::default()
    }
}

async fn wait_done(store: &dyn QueueStore, n: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let done = store.count_by_state(None).await.expect("count").get(JobState::Done);
        if done == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {n} jobs done after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_keeps_a_queue_within_its_global_limit_set_on_the_builder() {
    let store = MemoryStore::new();
    let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let worker = {
        let (running, peak) = (running.clone(), peak.clone());
        worker_fn("slow", move |_: JobContext, _: ()| {
            let (running, peak) = (running.clone(), peak.clone());
            async move {
                peak.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
        })
    };
    let jobs = (0..20).map(|_| NewJob::new("slow", &()).map(|j| j.queue("payments")));
    store
        .enqueue_many(jobs.collect::<Result<_, _>>().expect("jobs"), None)
        .await
        .expect("enqueue");
    let handle = Runner::builder(Arc::new(store.clone()))
        .config(config(Duration::from_millis(50)))
        .queue_limits("payments", QueueLimits::new().concurrency(2))
        .worker(worker)
        .build()
        .expect("runner")
        .start();
    wait_done(&store, 20, Duration::from_secs(10)).await;
    handle.shutdown().await;
    let peak = peak.load(Ordering::SeqCst);
    assert_eq!(
        peak, 2,
        "a limit of 2 on a runner of concurrency 8: at most 2 at once, and 2 used"
    );
    let limits = store.queue_limits().await.expect("limits");
    assert_eq!(limits, vec![("payments".to_owned(), QueueLimits::new().concurrency(2))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_queue_starts_jobs_as_each_window_opens_without_waiting_for_the_poll() {
    let store = MemoryStore::new();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let starts = starts.clone();
        worker_fn("mail", move |ctx: JobContext, _: ()| {
            // The claim's time, as the store recorded it (a claim sets updated_at).
            starts.lock().expect("starts").push(ctx.job().updated_at);
            async { Ok(()) }
        })
    };
    let window = Duration::from_millis(300);
    let jobs = (0..6).map(|_| NewJob::new("mail", &()).map(|j| j.queue("mail")));
    store
        .enqueue_many(jobs.collect::<Result<_, _>>().expect("jobs"), None)
        .await
        .expect("enqueue");
    let began = Instant::now();
    // A poll of a minute: only the store's next-due time (the window's end) can wake it.
    let handle = Runner::builder(Arc::new(store.clone()))
        .config(config(Duration::from_secs(60)))
        .queue_limits("mail", QueueLimits::new().rate(RateLimit::new(2, window)))
        .worker(worker)
        .build()
        .expect("runner")
        .start();
    wait_done(&store, 6, Duration::from_secs(10)).await;
    let elapsed = began.elapsed();
    handle.shutdown().await;
    let mut starts = starts.lock().expect("starts").clone();
    starts.sort();
    assert_eq!(starts.len(), 6);
    for pair in starts.windows(3) {
        let gap = (pair[2] - pair[0]).to_std().expect("sorted");
        assert!(
            gap >= window,
            "3 starts within {gap:?}: a rate of 2 per {window:?} broken"
        );
    }
    assert!(
        elapsed < Duration::from_secs(3),
        "6 jobs at 2 per 300 ms took {elapsed:?}: the runner waited for its poll, not the window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_runs_a_graph_in_dependency_order() {
    let store = MemoryStore::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let order = order.clone();
        worker_fn("step", move |_: JobContext, name: String| {
            order.lock().expect("order").push(name);
            async { Ok(()) }
        })
    };
    let mut graph = JobGraph::new();
    let step = |name: &str| NewJob::new("step", &name.to_owned()).expect("job");
    graph
        .add("report", step("report"), ["a", "b"])
        .add_root("a", step("a"))
        .add("b", step("b"), ["a"]);
    store.enqueue_graph(graph, None).await.expect("graph");
    let handle = Runner::builder(Arc::new(store.clone()))
        .config(config(Duration::from_millis(20)))
        .worker(worker)
        .build()
        .expect("runner")
        .start();
    wait_done(&store, 3, Duration::from_secs(10)).await;
    handle.shutdown().await;
    assert_eq!(*order.lock().expect("order"), ["a", "b", "report"]);
}
