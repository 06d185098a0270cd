//! `jobs cancel ID` of a running job: the runner stops the work and the job ends `cancelled`
//! within one second of the command's exit.

use std::time::Duration;

use backtick_postgres::{JobState, QueueStore};

use crate::support::{Db, wait_for};
use crate::workers::cli_wait;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_of_a_running_job_ends_it_cancelled_within_a_second() {
    let db = Db::migrated().await;
    let runner = db.runner("cli-cancel");
    let id = cli_wait::job().enqueue(&db.store).await.unwrap();
    let running = || async { db.store.get(id).await.unwrap().map(|j| j.state) == Some(JobState::Running) };
    wait_for(Duration::from_secs(10), "the job to run", running).await;

    let url = db.url.clone();
    let arg = id.0.to_string();
    let output = tokio::task::spawn_blocking(move || {
        crate::support::backtick(&["--database-url", &url, "jobs", "cancel", &arg, "--reason", "not needed"])
    })
    .await
    .unwrap();
    let exited = tokio::time::Instant::now();
    assert_eq!(output.status.code(), Some(0), "{}", crate::support::stderr(&output));
    assert!(
        crate::support::stdout(&output).contains(&format!("job {id}: cancellation requested")),
        "{}",
        crate::support::stdout(&output)
    );
    let cancelled = || async { db.store.get(id).await.unwrap().map(|j| j.state) == Some(JobState::Cancelled) };
    wait_for(Duration::from_secs(1), "the job to end cancelled", cancelled).await;
    assert!(exited.elapsed() <= Duration::from_secs(1));
    let job = db.store.get(id).await.unwrap().unwrap();
    assert_eq!(job.last_error.as_deref(), Some("not needed"));
    let shown = db.json(&["jobs", "show", &id.0.to_string()]);
    assert_eq!(shown["job"]["state"], "cancelled");
    assert_eq!(
        shown["cancel_requested_at"],
        serde_json::Value::Null,
        "the request is cleared"
    );
    runner.shutdown().await;
}
