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
