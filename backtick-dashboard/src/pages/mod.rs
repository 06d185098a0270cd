//! The pages: one file each, every one a GET handler that asks the admin API, builds a view
//! model and renders its template.

pub(crate) mod cron;
pub(crate) mod errors;
pub(crate) mod job;
pub(crate) mod jobs;
pub(crate) mod overview;
pub(crate) mod queues;
pub(crate) mod runners;

use askama::Template;
use axum::response::Html;
use backtick_core::{Job, JobState, Timestamp};

use crate::error::DashboardError;
use crate::format::{When, first_line};

/// Render `template` as the response body.
pub(crate) fn render(template: &impl Template) -> Result<Html<String>, DashboardError> {
    Ok(Html(template.render()?))
}

/// One job in a table.
#[derive(Debug, Clone)]
pub(crate) struct JobRow {
    pub(crate) id: i64,
    pub(crate) state: &'static str,
    pub(crate) worker: String,
    pub(crate) queue: String,
    pub(crate) attempt: i32,
    pub(crate) max_attempts: i32,
    /// What `when` is: `due`, `finished`, `started`.
    pub(crate) when_label: &'static str,
    pub(crate) when: When,
    pub(crate) error: String,
}

impl JobRow {
    pub(crate) fn new(job: &Job, now: Timestamp) -> Self {
        let (when_label, at) = match (job.state, job.finished_at) {
            (JobState::Queued, _) => ("due", job.run_at),
            (JobState::Running, _) => ("updated", job.updated_at),
            (_, Some(finished)) => ("finished", finished),
            (_, None) => ("updated", job.updated_at),
        };
        JobRow {
            id: job.id.0,
            state: job.state.as_str(),
            worker: job.worker.clone(),
            queue: job.queue.clone(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            when_label,
            when: When::new(at, now),
            error: job
                .last_error
                .as_deref()
                .map(|e| first_line(e, 120))
                .unwrap_or_default(),
        }
    }
}
