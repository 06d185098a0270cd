//! `QueueStore::vacuum`: the jobs table is vacuumed when its dead row versions pass the
//! table's own autovacuum threshold, and not before.

use std::time::Duration;

use backtick_diesel::diesel::sql_types::BigInt;
use backtick_diesel::diesel::{self, QueryableByName};
use backtick_diesel::diesel_async::RunQueryDsl;
use backtick_diesel::{ClaimParams, Codec, Finish, NewJob, QueueStore, RunnerId, Transition};

use crate::common::TestDb;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    vacuum_count: i64,
}

fn job() -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor)
}

async fn vacuum_count(db: &TestDb) -> i64 {
    let row: Count = diesel::sql_query("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'backtick_jobs'")
        .get_result(&mut db.connection().await)
        .await
        .unwrap();
    row.vacuum_count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_is_not_due_on_a_table_without_dead_rows() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    store
        .enqueue_many((0..10).map(|_| job()).collect(), None)
        .await
        .unwrap();
    assert!(!store.vacuum().await.unwrap(), "ten fresh jobs leave nothing to vacuum");
    assert_eq!(vacuum_count(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_runs_once_claims_and_finishes_leave_enough_dead_rows() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    store
        .enqueue_many((0..2_000).map(|_| job()).collect(), None)
        .await
        .unwrap();
    let params = ClaimParams {
        runner_id: RunnerId::new("r1"),
        workers: vec!["w".to_owned()],
        queues: None,
        limit: 2_000,
        lease_ttl: Duration::from_secs(30),
        now: None,
    };
    let claimed = store.claim(&params).await.unwrap();
    assert_eq!(claimed.len(), 2_000);
    let finishes: Vec<Finish> = claimed
        .iter()
        .map(|job| Finish {
            token: job.claim_token().unwrap(),
            transition: Transition::Done,
        })
        .collect();
    assert_eq!(store.finish_many(&finishes, None).await.unwrap().applied.len(), 2_000);
    // 4,000 dead row versions, past the table's threshold (500 + 1% of its rows). Backends
    // report them to the statistics within about a second of going idle.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !store.vacuum().await.unwrap() {
        assert!(tokio::time::Instant::now() < deadline, "the vacuum never became due");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(vacuum_count(&db).await, 1);
    assert!(!store.vacuum().await.unwrap(), "right after a vacuum none is due");
}
