//! The JSON shapes of `--json`: serializable views of the core's admin types, which do not
//! implement `Serialize` themselves. Field names are the stable contract for scripts.

use std::collections::BTreeMap;

use backtick_core::admin::{
    Attempt, BulkReport, Count, JobDetail, QueueInfo, RunnerStatus, ScheduleInfo, payload_to_json,
};
use backtick_core::{Job, Timestamp};
use serde::Serialize;
use serde_json::Value;

/// A job as listed and shown.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    /// The job's id.
    pub id: i64,
    /// Its worker.
    pub worker: String,
    /// Its queue.
    pub queue: String,
    /// Its state: queued, running, done, dead, cancelled.
    pub state: &'static str,
    /// Its priority (lower runs first).
    pub priority: i16,
    /// Attempts made so far.
    pub attempt: i32,
    /// The most attempts it gets.
    pub max_attempts: i32,
    /// Its arguments as JSON; `null` when they do not decode (see `args_error`).
    pub args: Value,
    /// Why the arguments do not decode, if they do not.
    pub args_error: Option<String>,
    /// When it is due.
    pub run_at: Timestamp,
    /// The runner holding its claim while running.
    pub lease_owner: Option<String>,
    /// When its lease runs out while running.
    pub lease_expires_at: Option<Timestamp>,
    /// The last error or cancel reason.
    pub last_error: Option<String>,
    /// Its unique key, if any.
    pub unique_key: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> Self {
        let (args, args_error) = match payload_to_json(job.codec, &job.args) {
            Ok(args) => (args, None),
            Err(error) => (Value::Null, Some(error.to_string())),
        };
        JobView {
            id: job.id.0,
            worker: job.worker.clone(),
            queue: job.queue.clone(),
            state: job.state.as_str(),
            priority: job.priority,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            args,
            args_error,
            run_at: job.run_at,
            lease_owner: job.lease_owner.as_ref().map(|r| r.as_str().to_owned()),
            lease_expires_at: job.lease_expires_at,
            last_error: job.last_error.clone(),
            unique_key: job.unique_key.clone(),
            created_at: job.created_at,
            finished_at: job.finished_at,
        }
    }
}

/// One page of `jobs list`.
#[derive(Debug, Clone, Serialize)]
pub struct JobPageView {
    /// The jobs.
    pub jobs: Vec<JobView>,
    /// The cursor of the next page (`--cursor`), `null` at the end.
    pub next: Option<String>,
}

/// `jobs show`: the job, its attempts and a pending cancellation request.
#[derive(Debug, Clone, Serialize)]
pub struct JobDetailView {
    /// The job.
    pub job: JobView,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// When a cancellation of the running job was asked for, if it was.
    pub cancel_requested_at: Option<Timestamp>,
    /// The reason given for it.
    pub cancel_reason: Option<String>,
}

impl From<&JobDetail> for JobDetailView {
    fn from(detail: &JobDetail) -> Self {
        JobDetailView {
            job: JobView::from(&detail.job),
            attempts: detail.attempts.clone(),
            cancel_requested_at: detail.cancel_request.as_ref().map(|c| c.requested_at),
            cancel_reason: detail.cancel_request.as_ref().map(|c| c.reason.clone()),
        }
    }
}

/// A count that may have stopped at its cap.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CountView {
    /// The count, a lower bound when `capped`.
    pub value: u64,
    /// True when counting stopped at the cap.
    pub capped: bool,
}

impl From<Count> for CountView {
    fn from(count: Count) -> Self {
        CountView {
            value: count.value,
            capped: count.capped,
        }
    }
}

/// A queue as listed.
#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    /// Its name.
    pub name: String,
    /// Its jobs per state.
    pub counts: BTreeMap<&'static str, CountView>,
    /// Seconds its oldest due job has waited; `null` when none is due.
    pub oldest_due_age_secs: Option<u64>,
    /// True while paused.
    pub paused: bool,
    /// When it was paused.
    pub paused_at: Option<Timestamp>,
    /// At most this many of its jobs running at once across the cluster; `null`: no limit.
    pub concurrency_limit: Option<u32>,
    /// At most this many starts per period (`JOBS/PERIOD`, such as `100/1m`); `null`: no limit.
    pub rate_limit: Option<String>,
}

impl QueueView {
    /// The view with the queue's `limits`.
    pub fn with_limits(mut self, limits: &backtick_core::flow::QueueLimits) -> Self {
        self.concurrency_limit = limits.concurrency;
        self.rate_limit = limits.rate.map(|r| r.to_string());
        self
    }
}

impl From<&QueueInfo> for QueueView {
    fn from(queue: &QueueInfo) -> Self {
        QueueView {
            name: queue.name.clone(),
            counts: queue
                .counts
                .iter()
                .map(|(s, c)| (s.as_str(), CountView::from(*c)))
                .collect(),
            oldest_due_age_secs: queue.oldest_due_age.map(|d| d.as_secs()),
            paused: queue.is_paused(),
            paused_at: queue.paused_at,
            concurrency_limit: None,
            rate_limit: None,
        }
    }
}

/// A schedule as listed.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    /// Its name.
    pub name: String,
    /// Its worker.
    pub worker: String,
    /// Its canonical spec.
    pub spec: String,
    /// A cron schedule's time zone.
    pub time_zone: Option<String>,
    /// Its next fire time.
    pub next_run_at: Option<Timestamp>,
    /// Its last fire that enqueued a job.
    pub last_fired_at: Option<Timestamp>,
    /// When it was paused.
    pub paused_at: Option<Timestamp>,
    /// A pending run-now request.
    pub run_requested_at: Option<Timestamp>,
    /// The live runners declaring it.
    pub declared_by: Vec<String>,
    /// True when no live runner declares it (it may be removed).
    pub stale: bool,
}

impl From<&ScheduleInfo> for ScheduleView {
    fn from(s: &ScheduleInfo) -> Self {
        ScheduleView {
            name: s.name.clone(),
            worker: s.worker.clone(),
            spec: s.spec.clone(),
            time_zone: s.time_zone.clone(),
            next_run_at: s.next_run_at,
            last_fired_at: s.last_fired_at,
            paused_at: s.paused_at,
            run_requested_at: s.run_requested_at,
            declared_by: s.declared_by.iter().map(|r| r.as_str().to_owned()).collect(),
            stale: s.is_stale(),
        }
    }
}

/// A runner as listed.
#[derive(Debug, Clone, Serialize)]
pub struct RunnerView {
    /// Its id.
    pub id: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its backtick version.
    pub version: String,
    /// The queues it serves; `null` for all.
    pub queues: Option<Vec<String>>,
    /// Its workers.
    pub workers: Vec<String>,
    /// The schedules it declares.
    pub schedules: Vec<String>,
    /// How many jobs it runs at once.
    pub concurrency: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// Its last heartbeat.
    pub heartbeat_at: Timestamp,
    /// When it goes stale without another heartbeat.
    pub expires_at: Timestamp,
    /// True once presumed dead.
    pub stale: bool,
    /// How many running jobs it holds.
    pub running_jobs: u64,
}

impl From<&RunnerStatus> for RunnerView {
    fn from(r: &RunnerStatus) -> Self {
        RunnerView {
            id: r.info.id.as_str().to_owned(),
            host: r.info.host.clone(),
            pid: r.info.pid,
            version: r.info.version.clone(),
            queues: r.info.queues.clone(),
            workers: r.info.workers.clone(),
            schedules: r.info.schedules.clone(),
            concurrency: r.info.concurrency,
            started_at: r.info.started_at,
            heartbeat_at: r.heartbeat_at,
            expires_at: r.expires_at,
            stale: r.stale,
            running_jobs: r.running_jobs,
        }
    }
}

/// What a job action did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    /// The action: retry, cancel, delete, run-now.
    pub action: &'static str,
    /// Jobs touched: changed, or asked to cancel.
    pub touched: u64,
    /// Of those, running jobs whose cancellation was requested.
    pub cancel_requested: u64,
    /// True when nothing changed: only counted.
    pub dry_run: bool,
    /// The ids acted on, when ids were given.
    pub ids: Vec<i64>,
}

impl ActionView {
    /// The view of a bulk report.
    pub fn bulk(action: &'static str, report: &BulkReport) -> Self {
        ActionView {
            action,
            touched: report.touched,
            cancel_requested: report.cancel_requested,
            dry_run: report.dry_run,
            ids: Vec::new(),
        }
    }
}
