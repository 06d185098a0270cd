//! `backtick runners list`.

use backtick_core::QueueAdmin;

use crate::error::CliError;
use crate::output::{Output, Table, age_since, time};
use crate::views::RunnerView;

/// `runners list`: every registered runner, live ones first, with the jobs it holds.
///
/// # Errors
/// A store failure.
pub async fn list(admin: &dyn QueueAdmin, out: &mut Output<'_>) -> Result<(), CliError> {
    let runners = admin.list_runners(None).await?;
    if out.json {
        return out.json(&runners.iter().map(RunnerView::from).collect::<Vec<_>>());
    }
    let now = admin.now().await?;
    let mut table = Table::new(&[
        "RUNNER",
        "HOST",
        "PID",
        "VERSION",
        "QUEUES",
        "WORKERS",
        "CONC",
        "RUNNING",
        "STARTED",
        "HEARTBEAT",
        "STATUS",
    ]);
    for r in &runners {
        table.row(vec![
            r.info.id.to_string(),
            r.info.host.clone(),
            r.info.pid.to_string(),
            r.info.version.clone(),
            r.info.queues.as_ref().map_or_else(|| "*".into(), |q| q.join(",")),
            r.info.workers.join(","),
            r.info.concurrency.to_string(),
            r.running_jobs.to_string(),
            time(Some(r.info.started_at)),
            format!("{} ago", age_since(Some(r.heartbeat_at), now)),
            if r.stale { "stale".into() } else { "live".into() },
        ]);
    }
    out.table(&table, "no runners registered")
}
