//! Wake-up hints of enqueues inside a diesel-async transaction. (The other NOTIFY cases are
//! the harness's.)

use std::time::Duration;

use backtick_diesel::diesel_async::{AnsiTransactionManager, TransactionManager};
use backtick_diesel::{Codec, NewJob, QueueStore, enqueue_in, enqueue_many_in};
use backtick_testkit::pgsuite::{LISTEN_WAIT, TestDatabase, drain_hints};

use crate::backend::Diesel;

fn job(queue: &str) -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor).queue(queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_many_in_a_transaction_is_one_statement_and_hints_only_on_commit() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("DieselStore has hints");
    assert!(store.wait_listening(LISTEN_WAIT).await, "the listener did not come up");
    let mut conn = store.pool().get().await.unwrap();
    AnsiTransactionManager::begin_transaction(&mut *conn).await.unwrap();
    enqueue_in(&mut conn, job("rolled_back")).await.unwrap();
    AnsiTransactionManager::rollback_transaction(&mut *conn).await.unwrap();
    AnsiTransactionManager::begin_transaction(&mut *conn).await.unwrap();
    let ids = enqueue_many_in(&mut conn, (0..200).map(|_| job("committed")).collect())
        .await
        .unwrap();
    assert!(
        drain_hints(&mut hints, Duration::from_millis(300)).await.is_empty(),
        "no hint before commit"
    );
    AnsiTransactionManager::commit_transaction(&mut *conn).await.unwrap();
    assert_eq!(ids.len(), 200);
    let got = drain_hints(&mut hints, Duration::from_millis(500)).await;
    assert_eq!(
        got,
        vec!["committed"],
        "200 jobs in one statement, one hint; the rolled-back one wakes no one"
    );
}
