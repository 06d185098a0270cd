//! Runners, schedules, job details and cancellation requests: the parameters of
//! `REGISTER_RUNNER` and core's types from the values decoded from the other statements' rows.

use std::time::Duration;

use backtick_core::admin::{
    AdminError, Attempt, CancelRequest, JobDetail, RUNNER_RETENTION, RunnerInfo, RunnerStatus, ScheduleAction,
    ScheduleInfo, spec_time_zone,
};
use backtick_core::{Job, JobId, RunnerId, StoreError, Timestamp};

use crate::decode::corrupt;
use crate::interval::micros;

/// `$1` of [`crate::admin_sql::REGISTER_RUNNER`]: `runner`, live for `ttl`, as one JSON
/// object, so that both backends bind one value rather than twelve. `queues` is null when the
/// runner takes every queue; `retention_us` is core's [`RUNNER_RETENTION`].
///
/// # Examples
/// ```
/// use backtick_core::RunnerId;
/// use backtick_core::admin::RunnerInfo;
/// let runner = RunnerInfo::this_process(RunnerId::new("host-1:42"), chrono::Utc::now());
/// let record = backtick_pg_common::admin::runner_record(&runner, std::time::Duration::from_secs(30));
/// assert!(record.contains(r#""ttl_us":30000000"#));
/// ```
pub fn runner_record(runner: &RunnerInfo, ttl: Duration) -> String {
    serde_json::json!({
        "id": runner.id.as_str(),
        "host": runner.host,
        "pid": runner.pid,
        "version": runner.version,
        "queues": runner.queues,
        "workers": runner.workers,
        "schedules": runner.schedules,
        "concurrency": i32::try_from(runner.concurrency).unwrap_or(i32::MAX),
        "started_at": runner.started_at,
        "ttl_us": micros(ttl),
        "retention_us": micros(RUNNER_RETENTION),
    })
    .to_string()
}

/// One row of [`crate::admin_sql::LIST_RUNNERS`], decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerRow {
    /// `id`.
    pub id: String,
    /// `host`.
    pub host: String,
    /// `pid`.
    pub pid: i64,
    /// `version`.
    pub version: String,
    /// `queues`.
    pub queues: Option<Vec<String>>,
    /// `workers`.
    pub workers: Vec<String>,
    /// `schedules`.
    pub schedules: Vec<String>,
    /// `concurrency`.
    pub concurrency: i32,
    /// `started_at`.
    pub started_at: Timestamp,
    /// `heartbeat_at`.
    pub heartbeat_at: Timestamp,
    /// `expires_at`.
    pub expires_at: Timestamp,
    /// `stale`.
    pub stale: bool,
    /// `running_jobs`.
    pub running_jobs: i64,
}

impl From<RunnerRow> for RunnerStatus {
    fn from(row: RunnerRow) -> Self {
        RunnerStatus {
            info: RunnerInfo {
                id: RunnerId::new(row.id),
                host: row.host,
                pid: u32::try_from(row.pid).unwrap_or(0),
                version: row.version,
                queues: row.queues,
                workers: row.workers,
                schedules: row.schedules,
                concurrency: u32::try_from(row.concurrency).unwrap_or(0),
                started_at: row.started_at,
            },
            heartbeat_at: row.heartbeat_at,
            expires_at: row.expires_at,
            stale: row.stale,
            running_jobs: u64::try_from(row.running_jobs).unwrap_or(0),
        }
    }
}

/// One row of [`crate::admin_sql::LIST_SCHEDULES`], decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    /// `name`.
    pub name: String,
    /// `worker`.
    pub worker: String,
    /// `spec`.
    pub spec: String,
    /// `next_run_at`.
    pub next_run_at: Option<Timestamp>,
    /// `last_fired_at`.
    pub last_fired_at: Option<Timestamp>,
    /// `paused_at`.
    pub paused_at: Option<Timestamp>,
    /// `run_requested_at`.
    pub run_requested_at: Option<Timestamp>,
    /// `declared_by`.
    pub declared_by: Vec<String>,
}

impl From<ScheduleRow> for ScheduleInfo {
    fn from(row: ScheduleRow) -> Self {
        ScheduleInfo {
            time_zone: spec_time_zone(&row.spec).map(str::to_owned),
            name: row.name,
            worker: row.worker,
            spec: row.spec,
            next_run_at: row.next_run_at,
            last_fired_at: row.last_fired_at,
            paused_at: row.paused_at,
            run_requested_at: row.run_requested_at,
            declared_by: row.declared_by.into_iter().map(RunnerId::new).collect(),
        }
    }
}

/// The error or result of a schedule write that returned no row, from `SCHEDULE_STATUS`
/// (`exists`, `declared_by`): an unknown schedule, a schedule in use (for a removal), or
/// `Ok(false)` (nothing to change).
///
/// # Errors
/// [`AdminError::UnknownSchedule`], [`AdminError::ScheduleInUse`].
pub fn schedule_not_written(
    name: &str,
    exists: bool,
    declared_by: Vec<String>,
    action: ScheduleAction,
) -> Result<bool, AdminError> {
    if !exists {
        return Err(AdminError::UnknownSchedule { name: name.to_owned() });
    }
    if action == ScheduleAction::Remove {
        return Err(AdminError::ScheduleInUse {
            name: name.to_owned(),
            runners: declared_by,
        });
    }
    Ok(false)
}

/// `Ok(())` when `known` (`QUEUE_KNOWN`), else [`AdminError::UnknownQueue`].
///
/// # Errors
/// [`AdminError::UnknownQueue`] when the queue is not known.
pub fn unknown_queue(queue: &str, known: bool) -> Result<(), AdminError> {
    if known {
        Ok(())
    } else {
        Err(AdminError::UnknownQueue { name: queue.to_owned() })
    }
}

/// The detail of `job` from the admin columns of [`crate::admin_sql::JOB_DETAIL`]: the
/// history as the text of its jsonb, `attempted_at`, `attempted_by`, `cancel_requested_at`,
/// `cancel_reason`.
///
/// # Errors
/// [`StoreError::Corrupt`] naming the job when the history is not a list of attempts.
pub fn job_detail(
    job: Job,
    attempts: Option<&str>,
    attempted_at: Option<Timestamp>,
    attempted_by: Option<String>,
    cancel_requested_at: Option<Timestamp>,
    cancel_reason: Option<String>,
) -> Result<JobDetail, StoreError> {
    let history: Vec<Attempt> = match attempts {
        Some(text) => serde_json::from_str(text).map_err(|e| corrupt(Some(job.id), format!("column attempts: {e}")))?,
        None => Vec::new(),
    };
    let request = cancel_requested_at.map(|at| cancel_request(job.id, cancel_reason, at));
    Ok(JobDetail::assemble(
        job,
        history,
        attempted_at,
        attempted_by.map(RunnerId::new),
        request,
    ))
}

/// A cancellation request from a row of `CANCEL_REQUESTS` (`id`, `cancel_reason`,
/// `cancel_requested_at`).
pub fn cancel_request(job_id: JobId, reason: Option<String>, requested_at: Timestamp) -> CancelRequest {
    CancelRequest {
        job_id,
        reason: reason.unwrap_or_default(),
        requested_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_read_from_its_json_text() {
        let now = chrono::Utc::now();
        let job = Job {
            id: JobId(1),
            worker: "w".into(),
            queue: "q".into(),
            args: vec![],
            codec: backtick_core::Codec::Json,
            priority: 0,
            state: backtick_core::JobState::Queued,
            attempt: 1,
            max_attempts: 3,
            run_at: now,
            lease_owner: None,
            lease_expires_at: None,
            last_error: Some("boom".into()),
            unique_key: None,
            trace_context: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        let text = r#"[{"attempt": 1, "runner": "r1", "started_at": "2024-05-01T10:00:00.5+00:00",
                        "finished_at": "2024-05-01T10:00:01+00:00", "outcome": "failed", "error": "boom"}]"#;
        let detail = job_detail(job.clone(), Some(text), None, None, None, None).unwrap();
        assert_eq!(detail.attempts.len(), 1);
        assert_eq!(detail.attempts[0].runner, Some(RunnerId::new("r1")));
        assert!(matches!(
            job_detail(job, Some("{}"), None, None, None, None),
            Err(StoreError::Corrupt {
                job_id: Some(JobId(1)),
                ..
            })
        ));
    }
}
