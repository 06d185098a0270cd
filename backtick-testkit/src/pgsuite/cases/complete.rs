//! Completion inside the caller's transaction (`complete_in`): the job's `done` commits with
//! the worker's writes or not at all, a stale claim writes nothing and its transaction rolls
//! back, and a runner whose worker completed in its own transaction writes no second
//! completion. The same for a failure recorded inside the caller's transaction (`fail_in`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backtick_core::{
    ClaimParams, CompletionError, Job, JobContext, JobError, JobFilter, JobState, NewJob, Outcome, QueueStore, Runner,
    RunnerConfig, RunnerId, Transition, Worker,
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
        pg_case!(
            B,
            "complete",
            a_job_failed_in_a_transaction_is_retried_or_dead_only_when_the_transaction_commits
        ),
        pg_case!(B, "complete", a_stale_failure_in_a_transaction_writes_nothing),
        pg_case!(
            B,
            "complete",
            a_runner_writes_no_second_finish_for_a_job_failed_in_its_workers_transaction
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

async fn a_job_failed_in_a_transaction_is_retried_or_dead_only_when_the_transaction_commits<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    counters_table(&schema).await;
    let id = store
        .enqueue(NewJob::new(WORKER, &1).expect("encodes").max_attempts(2), None)
        .await
        .expect("enqueue");
    let job = claim_one(&store, "r1").await;
    let ctx = JobContext::new(job.clone(), Default::default());

    // Rolled back: the claim stays the runner's, nothing of the failure is written.
    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&job)).await;
    B::fail_in(&mut tx, &ctx, "declined").await.expect("a live claim fails");
    assert_eq!(
        store.get(id).await.expect("get").expect("stored").state,
        JobState::Running,
        "other sessions see the job running until the commit"
    );
    B::rollback(tx).await;
    let held = store.get(id).await.expect("get").expect("stored");
    assert_eq!(
        (held.state, held.lease_owner.clone(), held.last_error.as_deref()),
        (JobState::Running, Some(RunnerId::new("r1")), None),
        "the rollback leaves the claim to its runner: {held:?}"
    );
    assert_eq!(schema.sql().await.integer("SELECT count(*) FROM counters").await, 0);

    // Committed, attempts left: queued again after a backoff, with the reason.
    let before = chrono::Utc::now();
    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&job)).await;
    B::fail_in(&mut tx, &ctx, "declined")
        .await
        .expect("still live after the rollback");
    B::commit(tx).await;
    let retried = store.get(id).await.expect("get").expect("stored");
    assert_eq!(retried.state, JobState::Queued, "{retried:?}");
    assert_eq!(retried.last_error.as_deref(), Some("declined"));
    assert!(retried.lease_owner.is_none(), "{retried:?}");
    assert!(retried.run_at > before, "retried after a backoff: {retried:?}");
    assert_eq!(schema.sql().await.integer("SELECT sum(n) FROM counters").await, 1);
    let (recorded, transition) = ctx.recorded_failure().expect("the context records the failure");
    assert!(matches!(recorded, Outcome::Failed { ref error } if error == "declined"));
    assert!(matches!(transition, Transition::Queued { .. }), "{transition:?}");

    // Committed on the last attempt: dead.
    let last_id = store
        .enqueue(NewJob::new(WORKER, &2).expect("encodes").max_attempts(1), None)
        .await
        .expect("enqueue");
    let last = claim_one(&store, "r2").await;
    assert_eq!(last.id, last_id, "the retried job waits out its backoff");
    let last_ctx = JobContext::new(last.clone(), Default::default());
    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&last)).await;
    B::fail_in(&mut tx, &last_ctx, "declined again").await.expect("fails");
    B::commit(tx).await;
    let dead = store.get(last_id).await.expect("get").expect("stored");
    assert_eq!(dead.state, JobState::Dead, "no attempts left: {dead:?}");
    assert!(
        dead.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("declined again")),
        "{dead:?}"
    );
    assert_eq!(schema.sql().await.integer("SELECT sum(n) FROM counters").await, 2);
}

async fn a_stale_failure_in_a_transaction_writes_nothing<B: CallerTransactions>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    counters_table(&schema).await;
    let id = store
        .enqueue(NewJob::new(WORKER, &1).expect("encodes"), None)
        .await
        .expect("enqueue");
    let first = claim_one(&store, "r1").await;
    assert!(store.cancel(id, "operator", None).await.expect("cancel"));
    assert!(store.retry(id, None).await.expect("retry"));
    let second = claim_one(&store, "r2").await;

    let stale_ctx = JobContext::new(first.clone(), Default::default());
    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, &count_sql(&first)).await;
    let stale = B::fail_in(&mut tx, &stale_ctx, "declined").await;
    assert!(
        matches!(stale, Err(CompletionError::Stale(ref token)) if token.attempt == 1),
        "{stale:?}"
    );
    assert!(stale_ctx.recorded_failure().is_none());
    B::rollback(tx).await;
    assert_eq!(schema.sql().await.integer("SELECT count(*) FROM counters").await, 0);
    let job = store.get(id).await.expect("get").expect("stored");
    assert_eq!(
        (job.state, job.attempt, job.lease_owner.clone()),
        (JobState::Running, second.attempt, Some(RunnerId::new("r2"))),
        "the live claim is untouched: {job:?}"
    );
    assert_ne!(job.last_error.as_deref(), Some("declined"));
}

/// Counts its job in `counters` and records its failure in the same transaction.
struct FailedInTx<B: CallerTransactions> {
    store: B::Store,
}

#[async_trait]
impl<B: CallerTransactions> Worker for FailedInTx<B> {
    fn name(&self) -> &str {
        WORKER
    }

    async fn perform(&self, ctx: JobContext) -> Result<(), JobError> {
        let mut tx = B::begin(&self.store).await;
        B::execute(&mut tx, &count_sql(ctx.job())).await;
        B::fail_in(&mut tx, &ctx, "declined").await?;
        B::commit(tx).await;
        Ok(())
    }
}

async fn a_runner_writes_no_second_finish_for_a_job_failed_in_its_workers_transaction<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    const JOBS: usize = 30;
    let schema = db.schema().await;
    let store = schema.store().await;
    counters_table(&schema).await;
    let jobs = (0..JOBS)
        .map(|n| NewJob::new(WORKER, &n).expect("encodes").max_attempts(1))
        .collect();
    store.enqueue_many(jobs, None).await.expect("enqueue_many");
    let shared: Arc<dyn QueueStore> = Arc::new(store.clone());
    let config = RunnerConfig {
        poll_interval: Duration::from_millis(50),
        ..RunnerConfig::default()
    };
    let runner = Runner::builder(shared)
        .config(config)
        .worker(FailedInTx::<B> { store: store.clone() })
        .build()
        .expect("a valid runner")
        .start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.count_by_state(None).await.expect("count").get(JobState::Dead) < JOBS as u64 {
        assert!(tokio::time::Instant::now() < deadline, "the jobs did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = runner.shutdown().await;
    assert_eq!((stats.dead, stats.completed), (JOBS as u64, 0), "{stats:?}");
    assert_eq!(stats.stale, 0, "no finish was written twice: {stats:?}");
    let total = schema.sql().await.integer("SELECT sum(n) FROM counters").await;
    assert_eq!(total, JOBS as i64, "each job counted once");
    for job in store.list(&JobFilter::default()).await.expect("list") {
        assert!(
            job.last_error.as_deref().is_some_and(|e| e.starts_with("declined")),
            "the worker's reason, not a runner's second write: {job:?}"
        );
    }
}
