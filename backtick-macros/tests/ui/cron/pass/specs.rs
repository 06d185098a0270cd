#![deny(warnings)]

use backtick_core::schedule::CatchUp;
use backtick_core::{JobContext, JobError};

#[backtick_core::cron("0 0 14,16 * * *")]
async fn twice_in_the_afternoon() {}

#[backtick_core::cron("@daily", tz = "Europe/London")]
async fn daily_in_london() {}

#[backtick_core::cron("0 30 9 * * MON-FRI", tz = "America/Los_Angeles", catch_up = "skip")]
async fn standup(ctx: &JobContext) -> Result<(), JobError> {
    let _ = ctx.attempt();
    Ok(())
}

#[backtick_core::cron("0 0 18 L * *", name = "month-end", queue = "reports", max_attempts = 1)]
async fn month_end() {}

#[backtick_core::cron("0 0 9 * * 5L")]
async fn last_friday() {}

#[backtick_core::cron("*/15   *  *  *  *  *")]
async fn every_fifteen_seconds() {}

fn main() -> Result<(), backtick_core::Error> {
    assert_eq!(twice_in_the_afternoon::periodic()?.spec, "cron 0 0 14,16 * * * UTC");
    assert_eq!(daily_in_london::periodic()?.spec, "cron @daily Europe/London");
    let standup = standup::periodic()?;
    assert_eq!(standup.spec, "cron 0 30 9 * * MON-FRI America/Los_Angeles");
    assert_eq!(standup.catch_up, CatchUp::Skip);
    assert_eq!(month_end::periodic()?.job.queue, "reports");
    assert_eq!(last_friday::periodic()?.spec, "cron 0 0 9 * * 5L UTC");
    assert_eq!(every_fifteen_seconds::periodic()?.spec, "cron */15 * * * * * UTC");
    Ok(())
}
