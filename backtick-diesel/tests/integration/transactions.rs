//! Enqueueing inside diesel-async's transaction closure. (The cases of enqueue inside a
//! transaction begun and ended by hand are the harness's.)

use backtick_diesel::diesel;
use backtick_diesel::diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use backtick_diesel::{NewJob, QueueStore, enqueue_in, enqueue_many_in};
use backtick_testkit::pgsuite::{TestDatabase, assert_rolled_back, job};

use crate::backend::Diesel;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error that makes diesel roll the transaction back.
#[derive(Debug)]
struct Abort;

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        panic!("unexpected database error: {error}")
    }
}

#[tokio::test]
async fn a_job_enqueued_in_a_transaction_closure_that_fails_does_not_exist() {
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
    assert_rolled_back(&store, &enqueued, "k").await;
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
    assert_eq!(store.count_by_state(None).await.unwrap().total(), 50);
}
