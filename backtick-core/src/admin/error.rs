//! What an admin call reports when it cannot do what was asked.

use crate::error::StoreError;
use crate::job::{JobId, JobState};

/// Why an admin call failed. Each variant but [`AdminError::Store`] is bad input: nothing
/// was changed, and the message says what to do instead.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobId, JobState, admin::AdminError};
/// let err = AdminError::NotApplicable { id: JobId(7), action: "retry", state: JobState::Running };
/// assert_eq!(
///     err.to_string(),
///     "job 7 is running: retry applies only to dead or cancelled jobs"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No job has this id (it never existed, or was deleted or pruned).
    #[error("no job has id {id}; list jobs to find the id (finished jobs are pruned after retention)")]
    UnknownJob {
        /// The id asked for.
        id: JobId,
    },
    /// The action does not apply to a job in this state.
    #[error("job {id} is {state}: {action} applies only to {} jobs", allowed_states(action))]
    NotApplicable {
        /// The job.
        id: JobId,
        /// The action's name ([`crate::admin::JobAction::name`]).
        action: &'static str,
        /// The job's state.
        state: JobState,
    },
    /// A bulk action was given an empty filter.
    #[error(
        "a bulk {action} needs a filter (state, queue, worker, ...); use JobSelection::All to {action} every job it applies to"
    )]
    EmptySelection {
        /// The action's name.
        action: &'static str,
    },
    /// No queue of this name is known.
    #[error(
        "unknown queue {name:?}: no job waits on it, runs on it or failed on it, no live runner serves it and it was never paused; check the name"
    )]
    UnknownQueue {
        /// The name asked for.
        name: String,
    },
    /// No schedule of this name is stored.
    #[error("unknown schedule {name:?}; list schedules to see their names")]
    UnknownSchedule {
        /// The name asked for.
        name: String,
    },
    /// The schedule cannot be removed: live runners still declare it and would store it again.
    #[error(
        "schedule {name:?} is declared by {} live runner(s) ({}); remove it from the code and redeploy first",
        runners.len(),
        runners.join(", ")
    )]
    ScheduleInUse {
        /// The schedule.
        name: String,
        /// The live runners declaring it.
        runners: Vec<String>,
    },
    /// A request is malformed (a page size of 0, a cursor of another order, ...).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// The states `action` applies to, as words.
fn allowed_states(action: &str) -> &'static str {
    match action {
        "retry" => "dead or cancelled",
        "cancel" => "queued or running",
        "delete" => "queued, done, dead or cancelled (cancel a running job first)",
        "run-now" => "queued",
        _ => "some",
    }
}

impl AdminError {
    /// An [`AdminError::InvalidRequest`].
    pub fn invalid(message: impl Into<String>) -> Self {
        AdminError::InvalidRequest {
            message: message.into(),
        }
    }
}
