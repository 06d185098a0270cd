//! `QueueStore::vacuum`: the jobs table is vacuumed when its dead row versions pass the
//! table's own autovacuum threshold, and not before.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::{ClaimParams, Finish, QueueStore, RunnerId, Transition};

use super::{PgCase, job};
use crate::pgsuite::{PgBackend, SqlSession, TestDatabase};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(B, "vacuum", vacuum_is_not_due_on_a_table_without_dead_rows),
        pg_case!(B, "vacuum", vacuum_runs_once_claims_and_finishes_leave_enough_dead_rows),
    ]
}

/// How often the session's `backtick_jobs` was vacuumed by hand (not by autovacuum).
async fn vacuum_count<B: PgBackend>(sql: &mut SqlSession<B>) -> i64 {
    sql.integer("SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'backtick_jobs'::regclass")
        .await
}

/// The dead row versions of the session's `backtick_jobs` the statistics know of.
async fn dead_rows<B: PgBackend>(sql: &mut SqlSession<B>) -> i64 {
    sql.integer("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'backtick_jobs'::regclass")
        .await
}

async fn vacuum_is_not_due_on_a_table_without_dead_rows<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    store
        .enqueue_many((0..10).map(|_| job()).collect(), None)
        .await
        .expect("enqueue");
    assert!(
        !store.vacuum().await.expect("vacuum"),
        "ten fresh jobs leave nothing to vacuum"
    );
    assert_eq!(vacuum_count(&mut schema.sql().await).await, 0);
}

async fn vacuum_runs_once_claims_and_finishes_leave_enough_dead_rows<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    // A vacuum keeps the dead rows that a transaction still running in the same database
    // might see, and the other cases run transactions: a database of its own.
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    store
        .enqueue_many((0..2_000).map(|_| job()).collect(), None)
        .await
        .expect("enqueue");
    let params = ClaimParams {
        runner_id: RunnerId::new("r1"),
        workers: vec!["w".to_owned()],
        queues: None,
        limit: 2_000,
        lease_ttl: Duration::from_secs(30),
        now: None,
    };
    let claimed = store.claim(&params).await.expect("claim");
    assert_eq!(claimed.len(), 2_000);
    let finishes: Vec<Finish> = claimed
        .iter()
        .map(|job| Finish {
            token: job.claim_token().expect("a claimed job has a token"),
            transition: Transition::Done,
        })
        .collect();
    let report = store.finish_many(&finishes, None).await.expect("finish");
    assert_eq!(report.applied.len(), 2_000);
    // 4,000 dead row versions, past the table's threshold (500 + 1% of its rows). Backends
    // report them to the statistics within about a second of going idle, or ten when they
    // reported just before: the claim's and the finish's may come from two pool connections
    // at different times. Wait for all of them, so that the one vacuum below sees them all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut sql = db.sql().await;
    while dead_rows(&mut sql).await < 4_000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dead rows were never reported"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while !store.vacuum().await.expect("vacuum") {
        assert!(tokio::time::Instant::now() < deadline, "the vacuum never became due");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(vacuum_count(&mut sql).await, 1);
    assert!(
        !store.vacuum().await.expect("vacuum"),
        "right after a vacuum none is due"
    );
}
