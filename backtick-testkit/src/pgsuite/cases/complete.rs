//! Completion inside the caller's transaction (`complete_in`): the job's `done` commits with
//! the worker's writes or not at all, a stale claim writes nothing and its transaction rolls
//! back, and a runner whose worker completed in its own transaction writes no second
//! completion.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backtick_core::{
    ClaimParams, CompletionError, Job, JobContext, JobError, JobState, NewJob, QueueStore, Runner, RunnerConfig,
    RunnerId, Worker,
};

use super::PgCase;
use crate::pgsuite::{CallerTransactions, TestDatabase};

pub(super) fn cases<B: CallerTransactions>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(
            B,
            "complete",
            a_job_completed_in_a_transaction_is_done_only_when_the_transaction_commits
        ),
        pg_case!(
            B,
            "complete",
            a_stale_completion_in_a_transaction_writes_nothing_and_the_writes_roll_back
        ),
        pg_case!(
            B,
            "complete",
            a_runner_writes_no_second_completion_for_a_job_completed_in_its_workers_transaction
        ),
    ]
}

const WORKER: &str = "counted";

async fn claim_one(store: &dyn QueueStore, runner: &str) -> Job {
    let params = ClaimParams {
        runner_id: RunnerId::new(runner),
        workers: vec![WORKER.to_owned()],
        queues: None,
        limit: 1,
        lease_ttl: Duration::from_secs(30),
        now: None,
    };
    let mut jobs = store.claim(&params).await.expect("claim");
    assert_eq!(jobs.len(), 1, "one job to claim");
    jobs.remove(0)
}

async fn counters_table<B: CallerTransactions>(schema: &crate::pgsuite::TestSchema<B>) {
    schema
        .sql()
        .await
        .execute("CREATE TABLE counters (job_id int8 PRIMARY KEY, n int NOT NULL)")
        .await;
}

fn count_sql(job: &Job) -> String {
    format!(
        "INSERT INTO counters VALUES ({}, 1) ON CONFLICT (job_id) DO UPDATE SET n = counters.n + 1",
        job.id
    )
}

async fn a_job_completed_in_a_transaction_is_done_only_when_the_transaction_commits<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    counters_table(&schema).await;
    let id = store
        .enqueue(NewJob::new(WORKER, &1).expect("encodes"), None)
        .await
        .expect("enqueue");
    let job = claim_one(&store, "r1").await;
    let ctx = JobContext::new(job.clone(), Default::default());

    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&job)).await;
    B::complete_in(&mut tx, &ctx).await.expect("a live claim completes");
    assert!(ctx.is_completed(), "the context tells the runner not to complete again");
    assert_eq!(
        store.get(id).await.expect("get").expect("stored").state,
        JobState::Running,
        "other sessions see the job running until the commit"
    );
    B::rollback(tx).await;
    assert_eq!(
        store.get(id).await.expect("get").expect("stored").state,
        JobState::Running
    );
    assert_eq!(schema.sql().await.integer("SELECT count(*) FROM counters").await, 0);

    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&job)).await;
    B::complete_in(&mut tx, &ctx)
        .await
        .expect("still live after the rollback");
    B::commit(tx).await;
    let done = store.get(id).await.expect("get").expect("stored");
    assert_eq!(done.state, JobState::Done);
    assert!(done.finished_at.is_some() && done.lease_owner.is_none(), "{done:?}");
    assert_eq!(schema.sql().await.integer("SELECT sum(n) FROM counters").await, 1);
}

async fn a_stale_completion_in_a_transaction_writes_nothing_and_the_writes_roll_back<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    counters_table(&schema).await;
    let job = NewJob::new(WORKER, &1).expect("encodes");
    let id = store.enqueue(job, None).await.expect("enqueue");
    let first = claim_one(&store, "r1").await;
    // The first claim is lost: an operator cancels, then retries the job, and another runner
    // claims it again.
    assert!(store.cancel(id, "operator", None).await.expect("cancel"));
    assert!(store.retry(id, None).await.expect("retry"));
    let second = claim_one(&store, "r2").await;
    assert_eq!(second.attempt, 2);

    let stale_ctx = JobContext::new(first.clone(), Default::default());
    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&first)).await;
    let stale = B::complete_in(&mut tx, &stale_ctx).await;
    assert!(
        matches!(stale, Err(CompletionError::Stale(ref token)) if token.attempt == 1),
        "{stale:?}"
    );
    assert!(!stale_ctx.is_completed());
    B::rollback(tx).await;
    assert_eq!(schema.sql().await.integer("SELECT count(*) FROM counters").await, 0);
    let job = store.get(id).await.expect("get").expect("stored");
    assert_eq!(
        (job.state, job.attempt),
        (JobState::Running, 2),
        "the live claim is untouched"
    );

    let live_ctx = JobContext::new(second.clone(), Default::default());
    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&second)).await;
    B::complete_in(&mut tx, &live_ctx)
        .await
        .expect("the live claim completes");
    B::commit(tx).await;
    assert_eq!(schema.sql().await.integer("SELECT sum(n) FROM counters").await, 1);
    assert_eq!(store.get(id).await.expect("get").expect("stored").state, JobState::Done);
}

/// Counts its job in `counters` and completes it in the same transaction.
struct Counted<B: CallerTransactions> {
    store: B::Store,
}

#[async_trait]
impl<B: CallerTransactions> Worker for Counted<B> {
    fn name(&self) -> &str {
        WORKER
    }

    async fn perform(&self, ctx: JobContext) -> Result<(), JobError> {
        let mut tx = B::begin(&self.store).await;
        B::execute(&mut tx, &count_sql(ctx.job())).await;
        B::complete_in(&mut tx, &ctx).await?;
        B::commit(tx).await;
        Ok(())
    }
}

async fn a_runner_writes_no_second_completion_for_a_job_completed_in_its_workers_transaction<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    const JOBS: usize = 50;
    let schema = db.schema().await;
    let store = schema.store().await;
    counters_table(&schema).await;
    let jobs = (0..JOBS).map(|n| NewJob::new(WORKER, &n).expect("encodes")).collect();
    store.enqueue_many(jobs, None).await.expect("enqueue_many");
    let shared: Arc<dyn QueueStore> = Arc::new(store.clone());
    let config = RunnerConfig {
        poll_interval: Duration::from_millis(50),
        ..RunnerConfig::default()
    };
    let runner = Runner::builder(shared)
        .config(config)
        .worker(Counted::<B> { store: store.clone() })
        .build()
        .expect("a valid runner")
        .start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.count_by_state(None).await.expect("count").get(JobState::Done) < JOBS as u64 {
        assert!(tokio::time::Instant::now() < deadline, "the jobs did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = runner.shutdown().await;
    assert_eq!(stats.completed, JOBS as u64, "{stats:?}");
    assert_eq!(stats.stale, 0, "no completion was written twice: {stats:?}");
    let total = schema.sql().await.integer("SELECT sum(n) FROM counters").await;
    assert_eq!(total, JOBS as i64, "each job counted once");
}
