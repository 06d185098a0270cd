//! The claim statement: its plan, and many claimers at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use backtick_postgres::sqlx::{self, Executor};
use backtick_postgres::{ClaimParams, Codec, JobId, NewJob, QueueStore, RunnerId};

use crate::common::TestDb;

fn params(runner: &str, limit: u32) -> ClaimParams {
    ClaimParams {
        runner_id: RunnerId::new(runner),
        workers: vec!["w".to_owned()],
        queues: Some(vec!["default".to_owned(), "mail".to_owned()]),
        limit,
        lease_ttl: Duration::from_secs(30),
        now: None,
    }
}

fn job() -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor)
}

/// A burst enqueued into a fresh table that was never analyzed: the planner's estimates are
/// a handful of rows, and a plain claim statement would sort the whole backlog. The claim
/// function is planned without sorting, so its plan is still the ordered index scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_plan_is_the_index_scan_on_a_never_analyzed_burst() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    for _ in 0..20 {
        store.enqueue_many(vec![job(); 1000], None).await.unwrap();
    }
    let mut conn = db.connection().await;
    let (analyzed, config): (bool, Vec<String>) = sqlx::query_as(
        "SELECT (SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL
                 FROM pg_stat_user_tables WHERE relid = 'backtick_jobs'::regclass),
                (SELECT proconfig FROM pg_proc WHERE proname = 'backtick_claim')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        config.contains(&"enable_sort=off".to_owned()),
        "the claim function is planned without sorting: {config:?}"
    );
    let plan = store.explain_claim(&params("r1", 10)).await.unwrap();
    let text = plan.join("\n");
    println!("EXPLAIN claim (never analyzed: {}):\n{text}", !analyzed);
    assert!(
        text.contains("Index Scan using backtick_jobs_claim_idx"),
        "the claim walks the claim index in order:\n{text}"
    );
    assert!(!text.contains("Sort"), "no sort of the backlog:\n{text}");
    let claimed = store.claim(&params("r1", 10)).await.unwrap();
    assert_eq!(claimed.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_uses_the_partial_claim_index_on_a_busy_table() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    // A realistic shape: many finished jobs, fewer queued ones, some of them due later.
    let mut conn = db.connection().await;
    conn.execute(
        "INSERT INTO backtick_jobs (worker, queue, args, codec, state, attempt, finished_at)
         SELECT 'w', 'default', '\\x80', 'cbor', 'done', 1, now() FROM generate_series(1, 50000)",
    )
    .await
    .unwrap();
    conn.execute(
        "INSERT INTO backtick_jobs (worker, queue, args, codec, priority, run_at)
         SELECT 'w', CASE WHEN g % 3 = 0 THEN 'mail' ELSE 'default' END, '\\x80', 'cbor', (g % 5)::int2,
                now() + (g % 7 - 3) * interval '1 minute'
         FROM generate_series(1, 5000) g",
    )
    .await
    .unwrap();
    conn.execute("ANALYZE backtick_jobs").await.unwrap();
    let plan = store.explain_claim(&params("r1", 10)).await.unwrap();
    println!("EXPLAIN claim:\n{}", plan.join("\n"));
    let text = plan.join("\n");
    assert!(
        text.contains("backtick_jobs_claim_idx"),
        "the claim must scan the partial claim index:\n{text}"
    );
    assert!(
        text.contains("LockRows"),
        "the claim must lock the rows it picks:\n{text}"
    );
    assert!(
        !text.contains("Seq Scan on backtick_jobs"),
        "no sequential scan of the jobs table:\n{text}"
    );
    let claimed = store.claim(&params("r1", 10)).await.unwrap();
    assert_eq!(claimed.len(), 10);
    let keys: Vec<_> = claimed.iter().map(|j| (j.priority, j.run_at, j.id)).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "jobs come back in claim order: {keys:?}"
    );
    assert!(
        claimed.iter().all(|j| j.priority == 0),
        "lowest priority number first: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_receive_the_same_job() {
    let db = TestDb::migrated().await;
    let store = Arc::new(db.store().await);
    let ids = store.enqueue_many(vec![job(); 300], None).await.unwrap();
    let claimers = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim(&params(&format!("r{n}"), 7)).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|j| j.id));
            }
        })
    });
    let mut all: Vec<JobId> = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<JobId> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a job was claimed twice");
    assert_eq!(
        distinct,
        ids.into_iter().collect::<HashSet<_>>(),
        "every job was claimed exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_of_one_unique_key_store_one_job_and_return_its_id() {
    let db = TestDb::migrated().await;
    let store = Arc::new(db.store().await);
    let writers = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for key in 0..40 {
                let batch = vec![job().unique_key(format!("k{key}")), job()];
                let got = loop {
                    match store.enqueue_many(batch.clone(), None).await {
                        Ok(got) => break got,
                        // A key taken and pruned in between is a documented transient conflict.
                        Err(e) if e.is_transient() => continue,
                        Err(e) => panic!("enqueue failed: {e}"),
                    }
                };
                ids.push(got[0]);
            }
            ids
        })
    });
    let mut per_writer = Vec::new();
    for writer in writers {
        per_writer.push(writer.await.unwrap());
    }
    for key in 0..40 {
        let ids: HashSet<JobId> = per_writer.iter().map(|ids| ids[key]).collect();
        assert_eq!(
            ids.len(),
            1,
            "every enqueue of key k{key} must return the same job: {ids:?}"
        );
    }
    let keyed: i64 = sqlx::query_scalar("SELECT count(*) FROM backtick_jobs WHERE unique_key IS NOT NULL")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(keyed, 40, "one job per key");
}
