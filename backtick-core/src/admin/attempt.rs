//! A job's attempt history, and how a store keeps it cheaply.
//!
//! A job row carries its *latest* attempt in three columns: `attempt` (its number),
//! `attempted_at` (set by the claim) and `attempted_by` (the runner, kept when the lease is
//! cleared). Only an attempt after which the job went back to the queue (a failure with
//! attempts left, a snooze, a revive, an operator's retry of a dead job) is appended as a
//! record to the row's history (`attempts`, a JSON array), by the same fenced write that
//! requeues it. The final attempt of a finished job and the attempt of a running job are read
//! from the columns. So a job that succeeds at its first attempt, nearly every job, never
//! writes a history record: see `docs/design.md`.

use serde::{Deserialize, Serialize};

use crate::job::{Job, JobId, JobState, RunnerId, Timestamp};

/// A job's history keeps at most this many records, the newest; older ones are dropped.
/// Bounds the row of a job that snoozes forever.
pub const ATTEMPT_HISTORY_LIMIT: usize = 25;

/// An error recorded in the history is cut to this many characters (`last_error` is not).
pub const ATTEMPT_ERROR_LIMIT: usize = 2_048;

/// How one attempt ended.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::AttemptOutcome;
/// assert_eq!(AttemptOutcome::LeaseExpired.as_str(), "lease_expired");
/// assert_eq!(AttemptOutcome::for_requeue(true), AttemptOutcome::Snoozed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// Still running (the current attempt of a running job; never stored).
    Running,
    /// The worker succeeded: the job is done.
    Completed,
    /// The worker failed and the job was queued for another attempt.
    Failed,
    /// The job went back to the queue without using up the attempt: the worker snoozed, or
    /// its runner gave it back at shutdown.
    Snoozed,
    /// The runner stopped heartbeating; the reviver queued the job again.
    LeaseExpired,
    /// The job went dead in this attempt (no attempts left, discarded, undecodable, or
    /// revived with no attempts left).
    Dead,
    /// The job was cancelled during this attempt (by its worker or an operator).
    Cancelled,
}

impl AttemptOutcome {
    /// The name stored in a history record.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Completed => "completed",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Snoozed => "snoozed",
            AttemptOutcome::LeaseExpired => "lease_expired",
            AttemptOutcome::Dead => "dead",
            AttemptOutcome::Cancelled => "cancelled",
        }
    }

    /// The outcome recorded when a fenced finish sends a job back to the queue: `Snoozed`
    /// when the attempt is refunded, else `Failed`.
    pub fn for_requeue(refund_attempt: bool) -> Self {
        if refund_attempt {
            AttemptOutcome::Snoozed
        } else {
            AttemptOutcome::Failed
        }
    }
}

/// One attempt of a job: a history record as stored (JSON, the field names below), or the
/// latest attempt read from the job's columns.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::{Attempt, AttemptOutcome};
/// let stored = r#"[{"attempt":1,"runner":"r1","started_at":"2030-01-01T00:00:00+00:00",
///     "finished_at":"2030-01-01T00:00:02+00:00","outcome":"failed","error":"boom"}]"#;
/// let history: Vec<Attempt> = serde_json::from_str(stored)?;
/// assert_eq!((history[0].attempt, history[0].outcome), (1, AttemptOutcome::Failed));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The attempt number (1 for the first claim).
    pub attempt: i32,
    /// The runner that held the claim, when known.
    pub runner: Option<RunnerId>,
    /// When the claim was made, when known.
    pub started_at: Option<Timestamp>,
    /// When the attempt ended; `None` while it runs.
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The error or reason it ended with, cut to [`ATTEMPT_ERROR_LIMIT`] characters.
    pub error: Option<String>,
}

/// Append `attempt` to a stored history the way every store does: its error cut to
/// [`ATTEMPT_ERROR_LIMIT`] characters, and the oldest record dropped beyond
/// [`ATTEMPT_HISTORY_LIMIT`].
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::{ATTEMPT_ERROR_LIMIT, Attempt, AttemptOutcome, record_attempt};
/// let mut history = Vec::new();
/// let failed = Attempt {
///     attempt: 1,
///     runner: None,
///     started_at: None,
///     finished_at: None,
///     outcome: AttemptOutcome::Failed,
///     error: Some("x".repeat(5_000)),
/// };
/// record_attempt(&mut history, failed);
/// assert_eq!(history[0].error.as_ref().map(|e| e.len()), Some(ATTEMPT_ERROR_LIMIT));
/// ```
pub fn record_attempt(history: &mut Vec<Attempt>, mut attempt: Attempt) {
    if let Some(error) = &mut attempt.error
        && let Some((cut, _)) = error.char_indices().nth(ATTEMPT_ERROR_LIMIT)
    {
        error.truncate(cut);
    }
    if history.len() >= ATTEMPT_HISTORY_LIMIT {
        history.drain(..=history.len() - ATTEMPT_HISTORY_LIMIT);
    }
    history.push(attempt);
}

/// The latest attempt of `job` as its columns describe it, when the history does not hold it
/// yet: the running attempt of a running job, the final attempt of a finished one. `None` for a
/// job never claimed, a queued job (its attempts are all recorded), or when `last_recorded`
/// (the number of the newest history record, 0 for none) already is the job's attempt.
///
/// `attempted_at` and `attempted_by` are the job's columns of those names. Stores call this
/// for [`JobDetail`] and, to keep the history whole, when an operator retries a finished job.
pub fn latest_attempt(
    job: &Job,
    last_recorded: i32,
    attempted_at: Option<Timestamp>,
    attempted_by: Option<RunnerId>,
) -> Option<Attempt> {
    if job.attempt <= last_recorded || job.attempt == 0 {
        return None;
    }
    let (outcome, error) = match job.state {
        JobState::Pending | JobState::Queued => return None,
        JobState::Running => (AttemptOutcome::Running, None),
        JobState::Done => (AttemptOutcome::Completed, None),
        JobState::Dead => (AttemptOutcome::Dead, job.last_error.clone()),
        JobState::Cancelled => (AttemptOutcome::Cancelled, job.last_error.clone()),
    };
    let runner = match job.state {
        JobState::Running => job.lease_owner.clone(),
        _ => attempted_by,
    };
    let mut latest = vec![];
    record_attempt(
        &mut latest,
        Attempt {
            attempt: job.attempt,
            runner,
            started_at: attempted_at,
            finished_at: job.finished_at,
            outcome,
            error,
        },
    );
    latest.pop()
}

/// A pending operator request to cancel a running job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// The job.
    pub job_id: JobId,
    /// The operator's reason; becomes the job's `last_error` when it ends cancelled.
    pub reason: String,
    /// When it was asked for.
    pub requested_at: Timestamp,
}

/// One job with everything an operator asks about it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    /// The job as stored.
    pub job: Job,
    /// Its attempts, oldest first: the recorded history (at most [`ATTEMPT_HISTORY_LIMIT`]),
    /// then the running or final attempt.
    pub attempts: Vec<Attempt>,
    /// The pending cancellation request of a running job, if any.
    pub cancel_request: Option<CancelRequest>,
}

impl JobDetail {
    /// The detail of `job` from its stored parts: the recorded `history` and the columns
    /// `attempted_at` / `attempted_by` (see [`latest_attempt`]).
    /// A running job on its first attempt has no record yet: its one attempt, `Running`,
    /// comes from the columns.
    pub fn assemble(
        job: Job,
        mut history: Vec<Attempt>,
        attempted_at: Option<Timestamp>,
        attempted_by: Option<RunnerId>,
        cancel_request: Option<CancelRequest>,
    ) -> Self {
        let last_recorded = history.last().map_or(0, |a| a.attempt);
        history.extend(latest_attempt(&job, last_recorded, attempted_at, attempted_by));
        JobDetail {
            job,
            attempts: history,
            cancel_request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    fn job(state: JobState, attempt: i32) -> Job {
        let now = chrono::Utc::now();
        Job {
            id: JobId(1),
            worker: "w".into(),
            queue: "q".into(),
            args: vec![],
            codec: Codec::Json,
            priority: 0,
            state,
            attempt,
            max_attempts: 3,
            run_at: now,
            lease_owner: (state == JobState::Running).then(|| RunnerId::new("r2")),
            lease_expires_at: (state == JobState::Running).then_some(now),
            last_error: Some("boom".into()),
            unique_key: None,
            trace_context: None,
            created_at: now,
            updated_at: now,
            finished_at: state.is_finished().then_some(now),
        }
    }

    fn failed(attempt: i32) -> Attempt {
        Attempt {
            attempt,
            runner: Some(RunnerId::new("r1")),
            started_at: None,
            finished_at: None,
            outcome: AttemptOutcome::Failed,
            error: Some("boom".into()),
        }
    }

    #[test]
    fn the_latest_attempt_comes_from_the_columns_until_it_is_recorded() {
        let by = Some(RunnerId::new("r9"));
        let running = latest_attempt(&job(JobState::Running, 2), 1, None, by.clone()).unwrap();
        assert_eq!(
            (running.outcome, running.runner),
            (AttemptOutcome::Running, Some(RunnerId::new("r2")))
        );
        let dead = latest_attempt(&job(JobState::Dead, 2), 1, None, by.clone()).unwrap();
        assert_eq!(
            (dead.outcome, dead.error.as_deref()),
            (AttemptOutcome::Dead, Some("boom"))
        );
        let done = latest_attempt(&job(JobState::Done, 2), 1, None, by.clone()).unwrap();
        assert_eq!(
            (done.outcome, done.error, done.runner),
            (AttemptOutcome::Completed, None, by.clone())
        );
        assert_eq!(latest_attempt(&job(JobState::Queued, 2), 1, None, by.clone()), None);
        assert_eq!(
            latest_attempt(&job(JobState::Cancelled, 2), 2, None, by.clone()),
            None,
            "recorded"
        );
        assert_eq!(
            latest_attempt(&job(JobState::Cancelled, 0), 0, None, by),
            None,
            "never claimed"
        );
    }

    #[test]
    fn the_history_keeps_the_newest_records_and_cuts_long_errors() {
        let mut history = Vec::new();
        for n in 1..=(ATTEMPT_HISTORY_LIMIT as i32 + 3) {
            record_attempt(&mut history, failed(n));
        }
        assert_eq!(history.len(), ATTEMPT_HISTORY_LIMIT);
        assert_eq!(history[0].attempt, 4);
        let mut long = failed(99);
        long.error = Some("é".repeat(ATTEMPT_ERROR_LIMIT + 10));
        record_attempt(&mut history, long);
        let kept = history.last().unwrap().error.as_ref().unwrap();
        assert_eq!(kept.chars().count(), ATTEMPT_ERROR_LIMIT);
    }

    #[test]
    fn assemble_appends_the_latest_attempt_after_the_history() {
        let detail = JobDetail::assemble(job(JobState::Done, 2), vec![failed(1)], None, None, None);
        let outcomes: Vec<_> = detail.attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
        assert_eq!(
            outcomes,
            vec![(1, AttemptOutcome::Failed), (2, AttemptOutcome::Completed)]
        );
    }
}
