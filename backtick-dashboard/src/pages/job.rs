//! Job: its fields, arguments as JSON, a timeline, every attempt, and the actions that apply
//! to its state.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use backtick_core::admin::{Attempt, JobAction, JobDetail, payload_to_json};
use backtick_core::{JobId, Timestamp};

use crate::context::Layout;
use crate::error::DashboardError;
use crate::format::When;
use crate::pages::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    layout: Layout,
    page_title: String,
    job: JobView,
    actions: Vec<ActionButton>,
    timeline: Vec<Event>,
    attempts: Vec<AttemptRow>,
}

struct JobView {
    id: i64,
    state: &'static str,
    worker: String,
    queue: String,
    attempt: i32,
    max_attempts: i32,
    priority: i16,
    codec: String,
    unique_key: Option<String>,
    lease_owner: Option<String>,
    lease_expires: Option<When>,
    cancel_request: Option<String>,
    last_error: Option<String>,
    args: String,
}

/// A button of an action that applies to the job's state.
pub(crate) struct ActionButton {
    pub(crate) op: &'static str,
    pub(crate) label: &'static str,
    pub(crate) confirm: bool,
}

struct Event {
    kind: &'static str,
    at: When,
    text: String,
}

struct AttemptRow {
    number: i32,
    outcome: &'static str,
    runner: String,
    started: Option<When>,
    finished: Option<When>,
    error: String,
}

/// `GET /jobs/{id}`
pub(crate) async fn page(
    State(state): State<AppState>,
    layout: Layout,
    Path(id): Path<i64>,
) -> Result<Html<String>, DashboardError> {
    let detail = state.ask(state.admin().job_detail(JobId(id))).await?;
    let now = layout.now;
    let page = JobPage {
        page_title: format!("Job {id}"),
        actions: actions(&detail),
        timeline: timeline(&detail, now),
        attempts: detail.attempts.iter().map(|a| attempt_row(a, now)).collect(),
        job: job_view(&detail, now),
        layout: layout.section("jobs"),
    };
    render(&page)
}

fn job_view(detail: &JobDetail, now: Timestamp) -> JobView {
    let job = &detail.job;
    let args = payload_to_json(job.codec, &job.args)
        .map(|value| serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string()))
        .unwrap_or_else(|error| format!("(the stored arguments do not decode: {error})"));
    JobView {
        id: job.id.0,
        state: job.state.as_str(),
        worker: job.worker.clone(),
        queue: job.queue.clone(),
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        priority: job.priority,
        codec: format!("{:?}", job.codec).to_lowercase(),
        unique_key: job.unique_key.clone(),
        lease_owner: job.lease_owner.as_ref().map(ToString::to_string),
        lease_expires: When::maybe(job.lease_expires_at, now),
        cancel_request: detail
            .cancel_request
            .as_ref()
            .map(|c| format!("{} ({})", c.reason, When::new(c.requested_at, now).relative)),
        last_error: job.last_error.clone(),
        args,
    }
}

/// The actions that apply to the job's state, in a fixed order.
fn actions(detail: &JobDetail) -> Vec<ActionButton> {
    let state = detail.job.state;
    let all = [
        (JobAction::Retry, "retry", "Retry", false),
        (JobAction::RunNow, "run-now", "Run now", false),
        (JobAction::cancel(""), "cancel", "Cancel", false),
        (JobAction::Delete, "delete", "Delete", true),
    ];
    all.into_iter()
        .filter(|(action, ..)| action.applies_to(state))
        .filter(|(action, ..)| !(matches!(action, JobAction::Cancel { .. }) && detail.cancel_request.is_some()))
        .map(|(_, op, label, confirm)| ActionButton { op, label, confirm })
        .collect()
}

fn timeline(detail: &JobDetail, now: Timestamp) -> Vec<Event> {
    let job = &detail.job;
    let mut events = vec![Event {
        kind: "created",
        at: When::new(job.created_at, now),
        text: format!("enqueued on {}", job.queue),
    }];
    for attempt in &detail.attempts {
        if let Some(started) = attempt.started_at {
            let by = attempt.runner.as_ref().map_or_else(String::new, |r| format!(" by {r}"));
            events.push(Event {
                kind: "started",
                at: When::new(started, now),
                text: format!("attempt {} started{by}", attempt.attempt),
            });
        }
        if let Some(finished) = attempt.finished_at {
            events.push(Event {
                kind: attempt.outcome.as_str(),
                at: When::new(finished, now),
                text: format!(
                    "attempt {} {}",
                    attempt.attempt,
                    attempt.outcome.as_str().replace('_', " ")
                ),
            });
        }
    }
    if job.state == backtick_core::JobState::Queued {
        events.push(Event {
            kind: "due",
            at: When::new(job.run_at, now),
            text: "due".to_owned(),
        });
    }
    if let Some(finished) = job.finished_at
        && !detail.attempts.iter().any(|a| a.finished_at == Some(finished))
    {
        events.push(Event {
            kind: job.state.as_str(),
            at: When::new(finished, now),
            text: job.state.as_str().to_owned(),
        });
    }
    events
}

fn attempt_row(attempt: &Attempt, now: Timestamp) -> AttemptRow {
    AttemptRow {
        number: attempt.attempt,
        outcome: attempt.outcome.as_str(),
        runner: attempt.runner.as_ref().map(ToString::to_string).unwrap_or_default(),
        started: When::maybe(attempt.started_at, now),
        finished: When::maybe(attempt.finished_at, now),
        error: attempt.error.clone().unwrap_or_default(),
    }
}
