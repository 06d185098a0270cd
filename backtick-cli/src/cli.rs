//! The command line as clap types: every command, argument and flag, and nothing else. The
//! commands' logic lives in [`crate::commands`].

use backtick_core::JobState;
use clap::{Args, Parser, Subcommand};

/// Inspect and steer a backtick job queue on PostgreSQL.
///
/// The database is `--database-url`, else `BT_DATABASE_URL`, else `DATABASE_URL`. Exit codes:
/// 0 ok, 1 error (nothing changed unless the message says so), 2 usage.
#[derive(Debug, Parser)]
#[command(name = "backtick", version, about, long_about = None)]
pub struct Cli {
    /// The database url (postgres://user:password@host:port/database); default
    /// BT_DATABASE_URL, else DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing the large variants would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Apply, revert or show the database schema's migrations.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// List, show, retry, cancel, delete, run now or enqueue jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// List, pause or resume queues.
    #[command(subcommand)]
    Queues(QueuesCommand),
    /// List, pause, resume or run recurring and cron schedules; preview a cron spec.
    #[command(subcommand)]
    Cron(CronCommand),
    /// List the registered runners.
    #[command(subcommand)]
    Runners(RunnersCommand),
    /// Delete finished (done, dead, cancelled) jobs that finished before a given age.
    Prune(PruneArgs),
    /// Job counts, recent throughput and the oldest waiting job's age.
    Stats(StatsArgs),
    /// Check the queue's health: each check OK, WARN or FAIL with the fix.
    Doctor,
    /// Serve the web dashboard (loopback only unless --auth is given).
    Serve(crate::commands::serve::ServeArgs),
}

/// `backtick migrate ...`
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply every pending migration (safe from many processes at once).
    Up,
    /// Revert the last applied migration.
    Down {
        /// Confirm: reverting drops tables and the data in them.
        #[arg(long)]
        yes: bool,
    },
    /// Show each migration and whether it is applied.
    Status,
}

/// `backtick jobs ...`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first, a page at a time.
    List(ListArgs),
    /// Show one job with its arguments and attempt history.
    Show {
        /// The job's id.
        id: i64,
    },
    /// Put dead or cancelled jobs back on the queue.
    Retry(ActionArgs),
    /// Cancel queued jobs, or ask running jobs' runners to stop them.
    Cancel {
        /// The selection.
        #[command(flatten)]
        action: ActionArgs,
        /// Recorded as the jobs' last error.
        #[arg(long, default_value = "cancelled by an operator")]
        reason: String,
    },
    /// Delete jobs that are not running.
    Delete(ActionArgs),
    /// Make queued jobs that are due later due now.
    RunNow(ActionArgs),
    /// Put a new job on the queue.
    Enqueue(EnqueueArgs),
}

/// Which jobs: the filters shared by listings and bulk actions.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Only jobs in this state (repeat for several): queued, running, done, dead, cancelled.
    #[arg(long = "state", value_name = "STATE")]
    pub states: Vec<JobState>,
    /// Only jobs on this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Only jobs of this worker.
    #[arg(long)]
    pub worker: Option<String>,
    /// Only running jobs held by this runner.
    #[arg(long)]
    pub runner: Option<String>,
    /// Only jobs whose arguments contain this JSON value (as jsonb's @>), e.g. '{"user_id": 42}'.
    #[arg(long, value_name = "JSON")]
    pub args_contain: Option<String>,
    /// Only jobs whose last error contains this text (ignoring case).
    #[arg(long, value_name = "TEXT")]
    pub error: Option<String>,
    /// Only jobs created at or after this time: RFC 3339, or an age such as 2h (that long ago).
    #[arg(long, value_name = "TIME")]
    pub created_after: Option<String>,
    /// Only jobs created before this time (RFC 3339 or an age).
    #[arg(long, value_name = "TIME")]
    pub created_before: Option<String>,
    /// Only jobs finished at or after this time (RFC 3339 or an age).
    #[arg(long, value_name = "TIME")]
    pub finished_after: Option<String>,
    /// Only jobs finished before this time (RFC 3339 or an age).
    #[arg(long, value_name = "TIME")]
    pub finished_before: Option<String>,
}

/// `backtick jobs list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many jobs (1 to 1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue after this cursor (the `next` a previous page printed).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Oldest first instead of newest first.
    #[arg(long)]
    pub oldest_first: bool,
}

/// What a job action (`retry`, `cancel`, `delete`, `run-now`) is applied to: ids, a filter, or
/// `--all`.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The jobs' ids. Without ids, the action applies to every job matching the filters.
    pub ids: Vec<i64>,
    /// The filters of a bulk action.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Apply to every job the action applies to (a bulk action without a filter).
    #[arg(long)]
    pub all: bool,
    /// Confirm a bulk action.
    #[arg(long)]
    pub yes: bool,
    /// Only count what a bulk action would touch.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
}

/// `backtick jobs enqueue`
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The worker that runs the job.
    pub worker: String,
    /// The job's arguments as JSON, e.g. '{"user_id": 42}'.
    #[arg(long, value_name = "JSON")]
    pub args: String,
    /// The queue (default: the worker's default queue, `default`).
    #[arg(long)]
    pub queue: Option<String>,
    /// When it is due: RFC 3339, or a delay such as 10m (default: now).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Lower runs first (default 0).
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i16>,
    /// How many attempts before the job is dead (default 20).
    #[arg(long)]
    pub max_attempts: Option<i32>,
    /// Enqueue even though no live runner has this worker.
    #[arg(long)]
    pub force: bool,
}

/// `backtick queues ...`
#[derive(Debug, Subcommand)]
pub enum QueuesCommand {
    /// Every queue with its depth per state, oldest due job's age and pause.
    List,
    /// Stop runners from claiming the queue's jobs (enqueueing still works).
    Pause {
        /// The queue.
        name: String,
    },
    /// Let runners claim the queue's jobs again.
    Resume {
        /// The queue.
        name: String,
    },
    /// Set the queue's limits, held by all runners together: `--concurrency 5 --rate 100/m`.
    /// Each replaces what the queue had (an option left out is no limit); `--clear` removes
    /// both. Takes effect at every runner's next claim.
    Limit {
        /// The queue.
        name: String,
        /// At most this many of its jobs running at once, across every runner.
        #[arg(long, value_name = "JOBS")]
        concurrency: Option<u32>,
        /// At most this many job starts per period: JOBS/PERIOD, such as 100/m, 10/s, 5/30s.
        #[arg(long, value_name = "JOBS/PERIOD")]
        rate: Option<String>,
        /// Remove the queue's limits.
        #[arg(long, conflicts_with_all = ["concurrency", "rate"])]
        clear: bool,
    },
}

/// `backtick cron ...`
#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// The stored recurring and cron schedules.
    List,
    /// The next fire times of a cron spec (no database needed).
    Next {
        /// Six fields (sec min hour day-of-month month day-of-week) or a macro such as @daily.
        spec: String,
        /// How many fire times.
        #[arg(short = 'n', default_value_t = 5)]
        count: usize,
        /// The IANA time zone the spec's wall times are in.
        #[arg(long, default_value = "UTC")]
        tz: String,
    },
    /// Pause a schedule: its fire times pass without enqueueing.
    Pause {
        /// The schedule's name.
        name: String,
    },
    /// Resume a paused schedule from its next fire time.
    Resume {
        /// The schedule's name.
        name: String,
    },
    /// Ask for one extra run of a schedule now.
    Run {
        /// The schedule's name.
        name: String,
    },
    /// Remove a stale schedule (one no live runner declares).
    Remove {
        /// The schedule's name.
        name: String,
    },
}

/// `backtick runners ...`
#[derive(Debug, Subcommand)]
pub enum RunnersCommand {
    /// Every registered runner, live ones first.
    List,
}

/// `backtick prune`
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete finished jobs that finished longer ago than this, e.g. 7d or 12h.
    #[arg(long, value_name = "AGE")]
    pub older_than: String,
    /// Confirm.
    #[arg(long)]
    pub yes: bool,
    /// Only count what would be deleted.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
}

/// `backtick stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Throughput over this many last minutes.
    #[arg(long, default_value_t = 5)]
    pub minutes: u32,
    /// Refresh in place until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2)]
    pub interval: u64,
    /// With --watch, stop after this many refreshes (default: until interrupted).
    #[arg(long, requires = "watch", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
}
