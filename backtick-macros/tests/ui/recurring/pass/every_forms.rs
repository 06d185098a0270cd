#![deny(warnings)]

use backtick_core::schedule::CatchUp;
use backtick_core::{JobContext, JobError};

#[backtick_core::recurring(every = "5m")]
async fn heartbeat() {}

#[backtick_core::recurring(every = 300000)]
async fn heartbeat_in_milliseconds() {}

#[backtick_core::recurring(every = "1h 30m", catch_up = "skip", queue = "maintenance", timeout = "10m")]
async fn with_context(ctx: JobContext) -> Result<(), JobError> {
    let _ = ctx.attempt();
    Ok(())
}

#[backtick_core::recurring(every = "250ms", name = "fast", catch_up = "once", codec = "json")]
async fn fast(_ctx: &JobContext) {}

async fn run_now(store: &dyn backtick_core::QueueStore) -> Result<(), backtick_core::Error> {
    heartbeat::schedule(store).await?;
    Ok(())
}

fn main() -> Result<(), backtick_core::Error> {
    assert_eq!(heartbeat::periodic()?.spec, "every 5m");
    assert_eq!(heartbeat_in_milliseconds::periodic()?.spec, "every 5m");
    let hourly = with_context::periodic()?;
    assert_eq!((hourly.spec.as_str(), hourly.catch_up), ("every 1h 30m", CatchUp::Skip));
    assert_eq!(fast::periodic()?.name, "fast");
    // Recurring functions are workers too, and can be scheduled by hand.
    let _job = heartbeat::job();
    let _ = run_now;
    Ok(())
}
