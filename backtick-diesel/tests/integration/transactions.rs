//! Enqueueing inside the caller's diesel-async transaction.

use backtick_diesel::diesel;
use backtick_diesel::diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection, TransactionManager,
};
use backtick_diesel::{Codec, DieselStore, JobState, NewJob, QueueStore, StoreError, enqueue_in, enqueue_many_in};

use backtick_testkit::pgsuite::TestDatabase;

use crate::backend::Diesel;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn job() -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor)
}

async fn total(store: &DieselStore) -> u64 {
    store.count_by_state(None).await.unwrap().total()
}

/// An error that makes diesel roll the transaction back.
#[derive(Debug)]
struct Abort;

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        panic!("unexpected database error: {error}")
    }
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_does_not_exist() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let store = db.store().await;
    let mut conn = store.pool().get().await.unwrap();
    let mut enqueued = Vec::new();
    let outcome = conn
        .transaction::<(), Abort, _>(async |conn| {
            enqueued.push(enqueue_in(conn, job()).await.unwrap());
            enqueued.extend(enqueue_many_in(conn, vec![job(), job().unique_key("k")]).await.unwrap());
            Err(Abort)
        })
        .await;
    assert!(outcome.is_err());
    assert_eq!(enqueued.len(), 3);
    for id in &enqueued {
        assert_eq!(
            store.get(*id).await.unwrap(),
            None,
            "the job must vanish with the rollback"
        );
    }
    assert_eq!(total(&store).await, 0);
    let again = store.enqueue(job().unique_key("k"), None).await.unwrap();
    assert!(
        !enqueued.contains(&again),
        "the rolled-back job must not hold its unique key"
    );
}

#[tokio::test]
async fn a_job_enqueued_in_a_committed_transaction_lands_with_the_callers_writes() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let store = db.store().await;
    let mut conn = store.pool().get().await.unwrap();
    conn.batch_execute("CREATE TABLE orders (id int PRIMARY KEY)")
        .await
        .unwrap();
    AnsiTransactionManager::begin_transaction(&mut *conn).await.unwrap();
    diesel::sql_query("INSERT INTO orders VALUES (1)")
        .execute(&mut *conn)
        .await
        .unwrap();
    let id = enqueue_in(&mut conn, job().queue("mail")).await.unwrap();
    assert_eq!(
        store.get(id).await.unwrap(),
        None,
        "other sessions do not see the job before commit"
    );
    AnsiTransactionManager::commit_transaction(&mut *conn).await.unwrap();
    let stored = store.get(id).await.unwrap().expect("the job exists after commit");
    assert_eq!((stored.state, stored.queue.as_str()), (JobState::Queued, "mail"));
}

#[tokio::test]
async fn the_transaction_closure_form_commits_jobs_and_writes_together() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let store = db.store().await;
    let mut conn: AsyncPgConnection = db.connection().await;
    conn.batch_execute("CREATE TABLE users (id int PRIMARY KEY)")
        .await
        .unwrap();
    let ids = conn
        .transaction::<_, BoxError, _>(async |conn| {
            diesel::sql_query("INSERT INTO users VALUES (7)").execute(conn).await?;
            let jobs = (0..50)
                .map(|i| NewJob::new("welcome", &i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(enqueue_many_in(conn, jobs).await?)
        })
        .await
        .unwrap();
    assert_eq!(ids.len(), 50);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids come back in input order: {ids:?}"
    );
    let first = store.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(first.codec.decode::<i32>(&first.args).unwrap(), 0);
    assert_eq!(total(&store).await, 50);
}

#[tokio::test]
async fn a_failed_enqueue_in_a_transaction_leaves_the_transaction_usable_and_adds_nothing() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let store = db.store().await;
    let mut conn = store.pool().get().await.unwrap();
    AnsiTransactionManager::begin_transaction(&mut *conn).await.unwrap();
    let kept = enqueue_in(&mut conn, job()).await.unwrap();
    let invalid = enqueue_many_in(&mut conn, vec![job(), job().max_attempts(0)]).await;
    assert!(matches!(invalid, Err(StoreError::InvalidJob(_))), "{invalid:?}");
    // A database-side failure inside the savepoint (a NUL byte cannot be stored in text).
    let broken = enqueue_many_in(
        &mut conn,
        vec![job().unique_key("a"), job().queue("bad\0queue").unique_key("b")],
    )
    .await;
    assert!(broken.is_err(), "a NUL byte in a queue name must fail: {broken:?}");
    let after = enqueue_in(&mut conn, job().unique_key("a")).await.unwrap();
    AnsiTransactionManager::commit_transaction(&mut *conn).await.unwrap();
    let ids: Vec<_> = store
        .list(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, vec![kept, after], "only the successful enqueues landed");
}

#[tokio::test]
async fn a_unique_key_held_by_a_committed_job_returns_that_job_inside_a_transaction() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let store = db.store().await;
    let existing = store.enqueue(job().unique_key("once"), None).await.unwrap();
    let mut conn = store.pool().get().await.unwrap();
    let ids = conn
        .transaction::<_, BoxError, _>(async |conn| {
            Ok(enqueue_many_in(conn, vec![job().unique_key("once"), job(), job().unique_key("once")]).await?)
        })
        .await
        .unwrap();
    assert_eq!((ids[0], ids[2]), (existing, existing));
    assert_ne!(ids[1], existing);
    assert_eq!(total(&store).await, 2);
}
