//! Wake-up hints through LISTEN/NOTIFY on the listener's dedicated connection.

use std::time::Duration;

use backtick_diesel::diesel::sql_types::Bool;
use backtick_diesel::diesel::{self, QueryableByName};
use backtick_diesel::diesel_async::{AnsiTransactionManager, RunQueryDsl, TransactionManager};
use backtick_diesel::{Codec, NewJob, QueueStore, WakeReceiver, enqueue_in, enqueue_many_in};
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
    let mut hints = store.subscribe().expect("DieselStore has hints");
    assert!(store.wait_listening(WAIT).await, "the listener did not come up");
    let batch: Vec<NewJob> = (0..60).map(|i| job(["a", "b", "c"][i % 3])).collect();
    store.enqueue_many(batch, None).await.unwrap();
    let got = drain(&mut hints, Duration::from_millis(500)).await;
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec!["a", "b", "c"],
        "one statement, so one hint per queue, not per job: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_many_in_a_transaction_is_one_statement_and_hints_only_on_commit() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("DieselStore has hints");
    assert!(store.wait_listening(WAIT).await, "the listener did not come up");
    let mut conn = store.pool().get().await.unwrap();
    AnsiTransactionManager::begin_transaction(&mut *conn).await.unwrap();
    enqueue_in(&mut conn, job("rolled_back")).await.unwrap();
    AnsiTransactionManager::rollback_transaction(&mut *conn).await.unwrap();
    AnsiTransactionManager::begin_transaction(&mut *conn).await.unwrap();
    let ids = enqueue_many_in(&mut conn, (0..200).map(|_| job("committed")).collect())
        .await
        .unwrap();
    assert!(
        drain(&mut hints, Duration::from_millis(300)).await.is_empty(),
        "no hint before commit"
    );
    AnsiTransactionManager::commit_transaction(&mut *conn).await.unwrap();
    assert_eq!(ids.len(), 200);
    let got = drain(&mut hints, Duration::from_millis(500)).await;
    assert_eq!(
        got,
        vec!["committed"],
        "200 jobs in one statement, one hint; the rolled-back one wakes no one"
    );
}

#[derive(QueryableByName)]
struct Killed {
    #[diesel(sql_type = Bool)]
    killed: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_its_connection_is_terminated() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("DieselStore has hints");
    assert!(store.wait_listening(WAIT).await, "the listener did not come up");
    let killed: Vec<Killed> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
    )
    .load(&mut *store.pool().get().await.unwrap())
    .await
    .unwrap();
    assert_eq!(
        killed.iter().map(|k| k.killed).collect::<Vec<_>>(),
        vec![true],
        "exactly the listener is terminated"
    );
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
