//! The commands' logic, one file per command group. Every function takes the admin API as
//! `&dyn QueueAdmin` and an [`Output`], so tests run it in-process against a `MemoryStore`.

pub mod cron;
pub mod doctor;
pub mod filter;
pub mod jobs;
pub mod metrics;
pub mod migrate;
pub mod prune;
pub mod queues;
pub mod runners;
pub mod serve;
pub mod stats;

use std::time::Duration;

use backtick_core::admin::ScheduleAction;
use backtick_core::{QueueAdmin, Timestamp};

use crate::cli::{Command, CronCommand, JobsCommand, QueuesCommand, RunnersCommand};
use crate::error::CliError;
use crate::output::Output;

/// Run `command` (any but `migrate` and `cron next`, which need no admin API) against `admin`.
///
/// # Errors
/// The command's [`CliError`]: bad input (nothing changed), a refused bulk action, a store
/// failure.
pub async fn run_admin(admin: &dyn QueueAdmin, command: &Command, out: &mut Output<'_>) -> Result<(), CliError> {
    match command {
        Command::Jobs(jobs) => run_jobs(admin, jobs, out).await,
        Command::Queues(QueuesCommand::List) => queues::list(admin, out).await,
        Command::Queues(QueuesCommand::Pause { name }) => queues::pause(admin, name, out).await,
        Command::Queues(QueuesCommand::Resume { name }) => queues::resume(admin, name, out).await,
        Command::Queues(QueuesCommand::Limit {
            name,
            concurrency,
            rate,
            clear,
        }) => queues::limit(admin, name, *concurrency, rate.as_deref(), *clear, out).await,
        Command::Cron(cron) => run_cron(admin, cron, out).await,
        Command::Runners(RunnersCommand::List) => runners::list(admin, out).await,
        Command::Prune(args) => prune::prune(admin, args, out).await,
        Command::Stats(args) => stats::stats(admin, args, out).await,
        Command::Doctor => doctor::doctor(Ok(admin), None, out).await,
        Command::Migrate(_) => Err(CliError::usage("`backtick migrate` runs on a database connection")),
        Command::Serve(_) => Err(CliError::usage("`backtick serve` runs on a database connection")),
    }
}

async fn run_jobs(admin: &dyn QueueAdmin, command: &JobsCommand, out: &mut Output<'_>) -> Result<(), CliError> {
    use backtick_core::admin::JobAction;
    match command {
        JobsCommand::List(args) => jobs::list(admin, args, out).await,
        JobsCommand::Show { id } => jobs::show(admin, *id, out).await,
        JobsCommand::Retry(args) => jobs::act(admin, args, JobAction::Retry, out).await,
        JobsCommand::Cancel { action, reason } => jobs::act(admin, action, JobAction::cancel(reason), out).await,
        JobsCommand::Delete(args) => jobs::act(admin, args, JobAction::Delete, out).await,
        JobsCommand::RunNow(args) => jobs::act(admin, args, JobAction::RunNow, out).await,
        JobsCommand::Enqueue(args) => jobs::enqueue(admin, args, out).await,
    }
}

async fn run_cron(admin: &dyn QueueAdmin, command: &CronCommand, out: &mut Output<'_>) -> Result<(), CliError> {
    match command {
        CronCommand::List => cron::list(admin, out).await,
        CronCommand::Next { spec, count, tz } => cron::next(spec, *count, tz, admin.now().await?, out),
        CronCommand::Pause { name } => cron::apply(admin, name, ScheduleAction::Pause, out).await,
        CronCommand::Resume { name } => cron::apply(admin, name, ScheduleAction::Resume, out).await,
        CronCommand::Run { name } => cron::apply(admin, name, ScheduleAction::RunNow, out).await,
        CronCommand::Remove { name } => cron::apply(admin, name, ScheduleAction::Remove, out).await,
    }
}

/// A point in time given on the command line: an RFC 3339 time, or a duration (`10m`, `2h
/// 30m`) that `resolve` turns into a time relative to now.
///
/// # Errors
/// [`CliError::BadInput`] naming `flag` when `text` is neither.
pub fn parse_time(
    flag: &str,
    text: &str,
    now: Timestamp,
    resolve: impl Fn(Timestamp, chrono::Duration) -> Timestamp,
) -> Result<Timestamp, CliError> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.to_utc());
    }
    let duration = humantime::parse_duration(text.trim()).map_err(|error| {
        CliError::bad_input(format!(
            "{flag} {text:?} is neither an RFC 3339 time (2030-01-31T09:00:00Z) nor a duration (30s, 10m, 7d): {error}"
        ))
    })?;
    let duration = chrono::Duration::from_std(duration)
        .map_err(|_| CliError::bad_input(format!("{flag} {text:?} is too long a duration")))?;
    Ok(resolve(now, duration))
}

/// A duration given on the command line (`30s`, `10m`, `7d`, `2h 30m`).
///
/// # Errors
/// [`CliError::BadInput`] naming `flag` when `text` is not one.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration, CliError> {
    humantime::parse_duration(text.trim()).map_err(|error| {
        CliError::bad_input(format!(
            "{flag} {text:?} is not a duration such as 30s, 10m or 7d: {error}"
        ))
    })
}
