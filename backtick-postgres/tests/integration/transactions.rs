//! Enqueueing inside the caller's transaction.

use backtick_postgres::sqlx::{self, Executor};
use backtick_postgres::{Codec, JobState, NewJob, QueueStore, StoreError, enqueue_in, enqueue_many_in};

use backtick_testkit::pgsuite::TestDatabase;

use crate::backend::Sqlx;

fn job() -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor)
}

async fn total(store: &backtick_postgres::PgStore) -> u64 {
    store.count_by_state(None).await.unwrap().total()
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_does_not_exist() {
    let db = TestDatabase::<Sqlx>::migrated().await;
    let store = db.store().await;
    let mut tx = store.pool().begin().await.unwrap();
    let id = enqueue_in(&mut tx, job()).await.unwrap();
    let ids = enqueue_many_in(&mut tx, vec![job(), job().unique_key("k")])
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    tx.rollback().await.unwrap();
    assert_eq!(
        store.get(id).await.unwrap(),
        None,
        "the job must vanish with the rollback"
    );
    assert_eq!(total(&store).await, 0);
    let again = store.enqueue(job().unique_key("k"), None).await.unwrap();
    assert!(
        !ids.contains(&again),
        "the rolled-back job must not hold its unique key"
    );
}

#[tokio::test]
async fn a_job_enqueued_in_a_committed_transaction_lands_with_the_callers_writes() {
    let db = TestDatabase::<Sqlx>::migrated().await;
    let store = db.store().await;
    store
        .pool()
        .execute("CREATE TABLE orders (id int PRIMARY KEY)")
        .await
        .unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("INSERT INTO orders VALUES (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = enqueue_in(&mut tx, job().queue("mail")).await.unwrap();
    assert_eq!(
        store.get(id).await.unwrap(),
        None,
        "other sessions do not see the job before commit"
    );
    tx.commit().await.unwrap();
    let stored = store.get(id).await.unwrap().expect("the job exists after commit");
    assert_eq!((stored.state, stored.queue.as_str()), (JobState::Queued, "mail"));
}

#[tokio::test]
async fn a_failed_enqueue_in_a_transaction_leaves_the_transaction_usable_and_adds_nothing() {
    let db = TestDatabase::<Sqlx>::migrated().await;
    let store = db.store().await;
    let mut tx = store.pool().begin().await.unwrap();
    let kept = enqueue_in(&mut tx, job()).await.unwrap();
    let invalid = enqueue_many_in(&mut tx, vec![job(), job().max_attempts(0)]).await;
    assert!(matches!(invalid, Err(StoreError::InvalidJob(_))), "{invalid:?}");
    // A database-side failure inside the savepoint (a NUL byte cannot be stored in text).
    let broken = enqueue_many_in(
        &mut tx,
        vec![job().unique_key("a"), job().queue("bad\0queue").unique_key("b")],
    )
    .await;
    assert!(broken.is_err(), "a NUL byte in a queue name must fail: {broken:?}");
    let after = enqueue_in(&mut tx, job().unique_key("a")).await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<_> = store
        .list(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, vec![kept, after], "only the successful enqueues are kept");
}
