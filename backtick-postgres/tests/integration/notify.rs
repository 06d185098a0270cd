//! Wake-up hints through LISTEN/NOTIFY.

use std::time::Duration;

use backtick_postgres::sqlx;
use backtick_postgres::{Codec, NewJob, QueueStore, WakeReceiver, enqueue_in};
use tokio::sync::broadcast::error::RecvError;

use crate::common::TestDb;

const WAIT: Duration = Duration::from_secs(10);

fn job(queue: &str) -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor).queue(queue)
}

/// Every hint that arrives within `quiet` of the previous one.
async fn drain(hints: &mut WakeReceiver, quiet: Duration) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(received) = tokio::time::timeout(quiet, hints.recv()).await {
        match received {
            Ok(queue) => got.push(queue),
            Err(RecvError::Lagged(n)) => panic!("lagged by {n} hints"),
            Err(RecvError::Closed) => break,
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_enqueue_statement_sends_one_hint_per_distinct_queue() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("PgStore has hints");
    assert!(store.wait_listening(WAIT).await, "the listener did not come up");
    let batch: Vec<NewJob> = (0..60).map(|i| job(["a", "b", "c"][i % 3])).collect();
    store.enqueue_many(batch, None).await.unwrap();
    let got = drain(&mut hints, Duration::from_millis(500)).await;
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["a", "b", "c"], "one hint per queue, not per job: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_enqueue_sends_no_hint_and_a_committed_one_does() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("PgStore has hints");
    assert!(store.wait_listening(WAIT).await, "the listener did not come up");
    let mut tx = store.pool().begin().await.unwrap();
    enqueue_in(&mut tx, job("rolled_back")).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    enqueue_in(&mut tx, job("committed")).await.unwrap();
    tx.commit().await.unwrap();
    let got = drain(&mut hints, Duration::from_millis(500)).await;
    assert_eq!(got, vec!["committed"], "only the committed enqueue may wake anyone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_its_connection_is_terminated() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("PgStore has hints");
    assert!(store.wait_listening(WAIT).await, "the listener did not come up");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(killed, vec![true], "exactly the listener's connection is terminated");
    // Hints sent while it reconnects are lost by design: keep enqueueing until one arrives.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        store.enqueue(job("after_restart"), None).await.unwrap();
        if drain(&mut hints, Duration::from_millis(200))
            .await
            .iter()
            .any(|q| q == "after_restart")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no hint arrived after the listener's connection was terminated"
        );
    }
}
