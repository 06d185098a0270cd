//! Wake-up hints of enqueues inside the caller's sqlx transaction. (The other NOTIFY cases
//! are the harness's.)

use std::time::Duration;

use backtick_postgres::{Codec, NewJob, QueueStore, enqueue_in};
use backtick_testkit::pgsuite::{LISTEN_WAIT, TestDatabase, drain_hints};

use crate::backend::Sqlx;

fn job(queue: &str) -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor).queue(queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_enqueue_sends_no_hint_and_a_committed_one_does() {
    let db = TestDatabase::<Sqlx>::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("PgStore has hints");
    assert!(store.wait_listening(LISTEN_WAIT).await, "the listener did not come up");
    let mut tx = store.pool().begin().await.unwrap();
    enqueue_in(&mut tx, job("rolled_back")).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    enqueue_in(&mut tx, job("committed")).await.unwrap();
    tx.commit().await.unwrap();
    let got = drain_hints(&mut hints, Duration::from_millis(500)).await;
    assert_eq!(got, vec!["committed"], "only the committed enqueue may wake anyone");
}
