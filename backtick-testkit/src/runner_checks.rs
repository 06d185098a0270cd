//! Runner checks that every store must pass with a real [`Runner`] on it (the conformance
//! suite drives stores directly): a backend's tests call each with a fresh store.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::admin::{ActionOutcome, JobAction, QueueAdmin};
use backtick_core::{JobContext, JobError, JobState, NewJob, Runner, RunnerConfig, RunnerId, worker_fn};

/// Poll `check` every 10 ms until it holds; panics with `what` after `limit`.
async fn wait_for<F, Fut>(limit: Duration, what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A worker that loops until its job is cancelled is cancelled through [`QueueAdmin`] while
/// it runs and the job ends `cancelled` with the operator's reason within one second; the
/// runner is listed (live) by [`QueueAdmin::list_runners`] while it runs and is gone after
/// its shutdown.
///
/// # Panics
/// When the store does not behave so.
pub async fn cancel_a_running_job_through_the_admin(admin: Arc<dyn QueueAdmin>) {
    let id = admin
        .enqueue(NewJob::new("loop_until_cancelled", &()).expect("encode"), None)
        .await
        .expect("enqueue");
    let runner_id = RunnerId::new(format!("cancel-check-{}", id.0));
    let config = RunnerConfig {
        runner_id: runner_id.clone(),
        poll_interval: Duration::from_millis(20),
        // Slower than the one second allowed: the cancellation must come through the hint.
        heartbeat_interval: Duration::from_secs(2),
        lease_ttl: Duration::from_secs(10),
        ..RunnerConfig::default()
    };
    let store: Arc<dyn backtick_core::QueueStore> = admin.clone();
    let runner = Runner::builder(store)
        .config(config)
        .worker(worker_fn(
            "loop_until_cancelled",
            |ctx: JobContext, (): ()| async move {
                while ctx.cancel_requested().is_none() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(JobError::retry("stopped on request"))
            },
        ))
        .build()
        .expect("build the runner")
        .start();
    let running = || async { admin.get(id).await.ok().flatten().map(|job| job.state) == Some(JobState::Running) };
    wait_for(Duration::from_secs(10), "the job to run", running).await;
    let listed = || async {
        let runners = admin.list_runners(None).await.expect("list runners");
        runners.iter().any(|r| r.info.id == runner_id && !r.stale)
    };
    wait_for(Duration::from_secs(5), "the runner to be listed", listed).await;

    let asked = tokio::time::Instant::now();
    let outcome = admin
        .apply_to_job(id, &JobAction::cancel("not needed"), None)
        .await
        .expect("cancel");
    assert_eq!(outcome, ActionOutcome::CancelRequested);
    let cancelled = || async { admin.get(id).await.ok().flatten().map(|job| job.state) == Some(JobState::Cancelled) };
    wait_for(Duration::from_secs(1), "the job to end cancelled", cancelled).await;
    assert!(asked.elapsed() <= Duration::from_secs(1));
    let job = admin.get(id).await.expect("get").expect("the job");
    assert_eq!(job.last_error.as_deref(), Some("not needed"));

    runner.shutdown().await;
    let runners = admin.list_runners(None).await.expect("list runners");
    assert!(
        runners.iter().all(|r| r.info.id != runner_id),
        "deregistered at shutdown: {runners:?}"
    );
}
