//! The workers and schedules the runners of these tests run.

use backtick_postgres::{JobContext, JobError};

/// Succeeds.
#[backtick_postgres::worker(name = "cli_ok", queue = "mail")]
pub(crate) async fn cli_ok(n: i64) {
    let _ = n;
}

/// Gives up at once: the job goes dead.
#[backtick_postgres::worker(name = "cli_fails", queue = "mail", max_attempts = 1)]
pub(crate) async fn cli_fails(n: i64) -> Result<(), JobError> {
    Err(JobError::discard(format!("smtp: connection refused ({n})")))
}

/// Runs until its job's cancellation is requested.
#[backtick_postgres::worker(name = "cli_wait", queue = "slow")]
pub(crate) async fn cli_wait(ctx: &JobContext) -> Result<(), JobError> {
    while ctx.cancel_requested().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Err(JobError::retry("stopped on request"))
}

/// A recurring schedule.
#[backtick_postgres::recurring(name = "cli_hourly", every = "1h", queue = "reports")]
pub(crate) async fn cli_hourly() {}

/// A cron schedule.
#[backtick_postgres::cron("0 0 3 * * *", name = "cli_nightly", tz = "Europe/Paris", queue = "reports")]
pub(crate) async fn cli_nightly() {}
