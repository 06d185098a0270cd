//! Runners registering themselves, and as an operator sees them.

use std::time::Duration;

use crate::job::{RunnerId, Timestamp};

/// A stale runner's registration is forgotten this long after it went stale (checked when
/// any runner registers or heartbeats). A runner that shuts down gracefully deregisters at
/// once.
pub const RUNNER_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// What a runner tells the store about itself ([`crate::QueueStore::register_runner`]).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::RunnerId;
/// use backtick_postgres::admin::RunnerInfo;
/// let info = RunnerInfo::this_process(RunnerId::new("web-1"), chrono::Utc::now());
/// assert_eq!(info.pid, std::process::id());
/// assert!(!info.host.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerInfo {
    /// The runner's id (its claims' lease owner).
    pub id: RunnerId,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The backtick version it runs.
    pub version: String,
    /// The queues it serves; `None` for every queue.
    pub queues: Option<Vec<String>>,
    /// The workers it has.
    pub workers: Vec<String>,
    /// The recurring and cron schedules it declares, by name.
    pub schedules: Vec<String>,
    /// How many jobs it runs at once.
    pub concurrency: u32,
    /// When it started.
    pub started_at: Timestamp,
}

impl RunnerInfo {
    /// A registration for this process: its host name (`HOSTNAME`, else the kernel's, else
    /// `unknown`), pid and backtick version; no queues restriction, workers, schedules or
    /// concurrency yet (set the fields).
    pub fn this_process(id: RunnerId, started_at: Timestamp) -> Self {
        RunnerInfo {
            id,
            host: host_name(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            queues: None,
            workers: Vec::new(),
            schedules: Vec::new(),
            concurrency: 0,
            started_at,
        }
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A registered runner as listed by [`crate::admin::QueueAdmin::list_runners`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerStatus {
    /// What it registered.
    pub info: RunnerInfo,
    /// Its last heartbeat (registration included).
    pub heartbeat_at: Timestamp,
    /// When it goes stale without another heartbeat.
    pub expires_at: Timestamp,
    /// True once `expires_at` has passed: the runner is presumed dead.
    pub stale: bool,
    /// How many running jobs it holds the claim of (list them with
    /// [`crate::admin::JobQuery::runner`]).
    pub running_jobs: u64,
}
