//! The claim statement on a real table: its plan, and many claimers and enqueuers at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use backtick_core::{ClaimParams, JobId, QueueStore, RunnerId};

use super::{PgCase, job};
use crate::pgsuite::{PgBackend, TestDatabase};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(B, "claim", claim_uses_the_partial_claim_index_on_a_busy_table),
        pg_case!(B, "claim", claim_plan_is_the_index_scan_on_a_never_analyzed_burst),
        pg_case!(B, "claim", concurrent_claimers_never_receive_the_same_job),
        pg_case!(
            B,
            "claim",
            concurrent_enqueues_of_one_unique_key_store_one_job_and_return_its_id
        ),
    ]
}

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

/// A burst enqueued into a fresh table that was never analyzed: the planner's estimates are
/// a handful of rows, and a plain claim statement would sort the whole backlog. The claim
/// function is planned without sorting, so its plan is still the ordered index scan.
async fn claim_plan_is_the_index_scan_on_a_never_analyzed_burst<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    for _ in 0..20 {
        store
            .enqueue_many(vec![job(); 1000], None)
            .await
            .expect("enqueue a burst");
    }
    let mut sql = schema.sql().await;
    let config = sql
        .texts("SELECT unnest(proconfig) FROM pg_proc WHERE proname = 'backtick_claim'")
        .await;
    assert!(
        config.contains(&"enable_sort=off".to_owned()),
        "the claim function is planned without sorting: {config:?}"
    );
    let plan = B::explain_claim(&store, &params("r1", 10)).await.expect("explain");
    let text = plan.join("\n");
    println!("EXPLAIN claim (never analyzed):\n{text}");
    assert!(
        text.contains("Index Scan using backtick_jobs_claim_idx"),
        "the claim walks the claim index in order:\n{text}"
    );
    assert!(!text.contains("Sort"), "no sort of the backlog:\n{text}");
    let claimed = store.claim(&params("r1", 10)).await.expect("claim");
    assert_eq!(claimed.len(), 10);
}

async fn claim_uses_the_partial_claim_index_on_a_busy_table<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    // A realistic shape: many finished jobs, fewer queued ones, some of them due later.
    let mut sql = schema.sql().await;
    sql.execute(
        "INSERT INTO backtick_jobs (worker, queue, args, codec, state, attempt, finished_at)
         SELECT 'w', 'default', '\\x80', 'cbor', 'done', 1, now() FROM generate_series(1, 50000)",
    )
    .await;
    sql.execute(
        "INSERT INTO backtick_jobs (worker, queue, args, codec, priority, run_at)
         SELECT 'w', CASE WHEN g % 3 = 0 THEN 'mail' ELSE 'default' END, '\\x80', 'cbor', (g % 5)::int2,
                now() + (g % 7 - 3) * interval '1 minute'
         FROM generate_series(1, 5000) g",
    )
    .await;
    sql.execute("ANALYZE backtick_jobs").await;
    let plan = B::explain_claim(&store, &params("r1", 10)).await.expect("explain");
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
    let claimed = store.claim(&params("r1", 10)).await.expect("claim");
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

async fn concurrent_claimers_never_receive_the_same_job<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = Arc::new(schema.store().await);
    let ids = store.enqueue_many(vec![job(); 300], None).await.expect("enqueue");
    let claimers = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim(&params(&format!("r{n}"), 7)).await.expect("claim");
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|j| j.id));
            }
        })
    });
    let mut all: Vec<JobId> = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.expect("a claimer"));
    }
    let distinct: HashSet<JobId> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a job was claimed twice");
    assert_eq!(
        distinct,
        ids.into_iter().collect::<HashSet<_>>(),
        "every job was claimed exactly once"
    );
}

async fn concurrent_enqueues_of_one_unique_key_store_one_job_and_return_its_id<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = Arc::new(schema.store().await);
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
        per_writer.push(writer.await.expect("a writer"));
    }
    for key in 0..40 {
        let ids: HashSet<JobId> = per_writer.iter().map(|ids| ids[key]).collect();
        assert_eq!(
            ids.len(),
            1,
            "every enqueue of key k{key} must return the same job: {ids:?}"
        );
    }
    let keyed = schema
        .sql()
        .await
        .integer("SELECT count(*) FROM backtick_jobs WHERE unique_key IS NOT NULL")
        .await;
    assert_eq!(keyed, 40, "one job per key");
}
