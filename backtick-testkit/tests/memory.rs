//! What is particular to the in-memory store, beyond the shared conformance suite.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use backtick_core::{JobId, NewJob, QueueStore};
use backtick_testkit::MemoryStore;

fn job(queue: &str) -> NewJob {
    NewJob::new("w", &()).unwrap().queue(queue)
}

#[tokio::test]
async fn ids_start_at_one_and_clones_share_the_jobs() {
    let store = MemoryStore::new();
    let clone = store.clone();
    assert_eq!(store.enqueue(job("a"), None).await.unwrap(), JobId(1));
    assert_eq!(clone.enqueue(job("a"), None).await.unwrap(), JobId(2));
    assert_eq!(store.snapshot().len(), 2);
    assert_eq!(MemoryStore::default().snapshot().len(), 0, "a new store is empty");
}

#[tokio::test]
async fn each_enqueue_hints_each_queue_it_touched_once() {
    let store = MemoryStore::new();
    let mut hints = store.subscribe().expect("the memory store has hints");
    store
        .enqueue_many(vec![job("a"), job("b"), job("a")], None)
        .await
        .unwrap();
    store.enqueue(job("c"), None).await.unwrap();
    let mut got = Vec::new();
    while let Ok(queue) = hints.try_recv() {
        got.push(queue);
    }
    assert_eq!(got, vec!["a", "b", "c"]);
}

#[tokio::test]
async fn an_enqueue_that_stores_nothing_sends_no_hint() {
    let store = MemoryStore::new();
    store.enqueue(job("a").unique_key("k"), None).await.unwrap();
    let mut hints = store.subscribe().unwrap();
    store.enqueue(job("a").unique_key("k"), None).await.unwrap();
    assert!(
        store
            .enqueue_many(vec![job("b"), job("").max_attempts(0)], None)
            .await
            .is_err()
    );
    assert!(
        hints.try_recv().is_err(),
        "a deduplicated or rejected enqueue stores nothing to wake for"
    );
}

#[tokio::test]
async fn store_times_have_whole_microseconds() {
    let store = MemoryStore::new();
    let id = store
        .enqueue(job("a").run_after(Duration::from_nanos(1_500)), None)
        .await
        .unwrap();
    let stored = store.get(id).await.unwrap().unwrap();
    for t in [stored.created_at, stored.run_at, store.now().await.unwrap()] {
        assert_eq!(t.timestamp_subsec_nanos() % 1_000, 0, "{t} has sub-microsecond digits");
    }
}

#[tokio::test]
async fn a_cancellation_request_is_announced_to_subscribers() {
    use backtick_core::admin::{JobAction, QueueAdmin};
    use backtick_core::{ClaimParams, RunnerId};
    let store = MemoryStore::new();
    let mut cancels = store
        .subscribe_cancels()
        .expect("the memory store announces cancellations");
    let id = store.enqueue(job("a"), None).await.unwrap();
    let params = ClaimParams {
        runner_id: RunnerId::new("r1"),
        workers: vec!["w".to_owned()],
        queues: None,
        limit: 1,
        lease_ttl: Duration::from_secs(30),
        now: None,
    };
    assert_eq!(store.claim(&params).await.unwrap().len(), 1);
    store.apply_to_job(id, &JobAction::cancel("stop"), None).await.unwrap();
    assert_eq!(cancels.try_recv().unwrap(), id, "the job's id, at once");
    store.apply_to_job(id, &JobAction::cancel("stop"), None).await.unwrap();
    assert!(
        cancels.try_recv().is_err(),
        "a request already pending is not announced again"
    );
}

/// `MemoryStore::fail_in`: the state machine's retry (then dead on the last attempt) and the
/// worker's write happen together; a stale claim does neither; a runner whose worker recorded
/// its failure that way writes no second finish.
#[tokio::test]
async fn a_failure_in_the_workers_transaction_is_fenced_and_the_runner_writes_no_second_finish() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use backtick_core::{
        ClaimParams, CompletionError, JobContext, JobError, JobState, Runner, RunnerConfig, RunnerId, worker_fn,
    };

    let store = MemoryStore::new();
    let id = store
        .enqueue(NewJob::new("charge", &1).unwrap().max_attempts(2), None)
        .await
        .unwrap();
    let params = ClaimParams {
        runner_id: RunnerId::new("r1"),
        workers: vec!["charge".into()],
        queues: None,
        limit: 1,
        lease_ttl: Duration::from_secs(30),
        now: None,
    };
    let first = store.claim(&params).await.unwrap().remove(0);
    let ctx = JobContext::new(first.clone(), Default::default());
    let mut writes = 0;
    store.fail_in(&ctx, "declined", || writes += 1, None).unwrap();
    let retried = store.get(id).await.unwrap().unwrap();
    assert_eq!(
        (retried.state, retried.last_error.as_deref(), writes),
        (JobState::Queued, Some("declined"), 1)
    );
    assert!(retried.run_at > first.run_at, "after a backoff: {retried:?}");
    let stale = store.fail_in(&ctx, "again", || writes += 1, None);
    assert!(matches!(stale, Err(CompletionError::Stale(_))), "{stale:?}");
    assert_eq!(writes, 1, "a stale failure runs no write");
    assert_eq!(store.get(id).await.unwrap().unwrap(), retried, "and changes nothing");

    // The last attempt (claimed once its backoff passed): dead.
    let later = ClaimParams {
        now: Some(retried.run_at + chrono::Duration::seconds(1)),
        ..params.clone()
    };
    let second = store.claim(&later).await.unwrap().remove(0);
    let ctx = JobContext::new(second, Default::default());
    store.fail_in(&ctx, "declined again", || writes += 1, None).unwrap();
    let dead = store.get(id).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead, "{dead:?}");
    assert_eq!(writes, 2);

    // A runner: each job's failure is the worker's; the runner writes nothing more.
    let store = MemoryStore::new();
    let jobs = (0..10)
        .map(|n| NewJob::new("charge", &n).unwrap().max_attempts(1))
        .collect();
    store.enqueue_many(jobs, None).await.unwrap();
    let counted = Arc::new(AtomicUsize::new(0));
    let worker = {
        let store = store.clone();
        let counted = counted.clone();
        worker_fn("charge", move |ctx: JobContext, _n: i32| {
            let store = store.clone();
            let counted = counted.clone();
            async move {
                store
                    .fail_in(
                        &ctx,
                        "declined",
                        || {
                            counted.fetch_add(1, Ordering::SeqCst);
                        },
                        None,
                    )
                    .map_err(JobError::retry)?;
                Ok(())
            }
        })
    };
    let shared: Arc<dyn QueueStore> = Arc::new(store.clone());
    let runner = Runner::builder(shared)
        .config(RunnerConfig {
            poll_interval: Duration::from_millis(10),
            ..RunnerConfig::default()
        })
        .worker(worker)
        .build()
        .unwrap()
        .start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.count_by_state(None).await.unwrap().get(JobState::Dead) < 10 {
        assert!(tokio::time::Instant::now() < deadline, "the jobs did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = runner.shutdown().await;
    assert_eq!((stats.dead, stats.completed, stats.stale), (10, 0, 0), "{stats:?}");
    assert_eq!(counted.load(Ordering::SeqCst), 10);
    assert!(
        store
            .snapshot()
            .iter()
            .all(|job| job.last_error.as_deref().is_some_and(|e| e.starts_with("declined"))),
        "{:?}",
        store.snapshot()
    );
}
