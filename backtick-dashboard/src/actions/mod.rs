//! The actions: every one a POST (the guard has checked access and origin), answered with a
//! redirect (303) to the page it came from carrying a notice, or with a confirmation page
//! for bulk actions. Each action that changes something writes one audit line (`tracing`,
//! target `backtick_dashboard::audit`).

pub(crate) mod bulk;
pub(crate) mod errors;
pub(crate) mod job;
pub(crate) mod schedules;

use askama::Template;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use backtick_core::JobId;
use backtick_core::admin::{BULK_BATCH_SIZE, JobAction};

use crate::context::Layout;
use crate::error::DashboardError;
use crate::notice::Notice;
use crate::state::AppState;

/// A POSTed form as its (name, value) pairs, repeated names kept in order.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of `name` in `pairs`, or `""`.
pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

/// A 303 redirect to `path` (under the dashboard's mount point) with `query` and the notice.
pub(crate) fn redirect(layout: &Layout, path: &str, query: &str, notice: Option<Notice>) -> Response {
    let mut target = format!("{}{path}", layout.base);
    if target.is_empty() {
        target.push('/');
    }
    let mut parts: Vec<String> = Vec::new();
    if !query.is_empty() {
        parts.push(query.to_owned());
    }
    if let Some(notice) = notice {
        parts.push(notice.to_query());
    }
    if !parts.is_empty() {
        target.push('?');
        target.push_str(&parts.join("&"));
    }
    match HeaderValue::from_str(&target) {
        Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
        Err(_) => DashboardError::bad_request("cannot redirect to the page").into_response(),
    }
}

/// The job action named by a form's `op`.
///
/// # Errors
/// [`DashboardError::BadRequest`] for an unknown name.
pub(crate) fn job_action(op: &str) -> Result<JobAction, DashboardError> {
    match op {
        "retry" => Ok(JobAction::Retry),
        "cancel" => Ok(JobAction::cancel("cancelled from the dashboard")),
        "delete" => Ok(JobAction::Delete),
        "run-now" => Ok(JobAction::RunNow),
        other => Err(DashboardError::bad_request(format!(
            "unknown action {other:?}: retry, cancel, delete or run-now"
        ))),
    }
}

/// The audit line of an action that changed something.
pub(crate) fn audit(action: &str, target: &str, touched: u64) {
    tracing::info!(target: "backtick_dashboard::audit", action, on = target, touched, "dashboard action");
}

/// Apply `action` to `ids` in store calls of at most [`BULK_BATCH_SIZE`]; how many it touched.
pub(crate) async fn apply_in_batches(
    state: &AppState,
    ids: &[JobId],
    action: &JobAction,
) -> Result<u64, DashboardError> {
    let mut touched = 0;
    for batch in ids.chunks(BULK_BATCH_SIZE as usize) {
        let report = state.ask(state.admin().apply_to_jobs(batch, action, None)).await?;
        touched += report.touched();
    }
    Ok(touched)
}

/// The page that shows what a bulk action would touch and asks to confirm it.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub(crate) layout: Layout,
    pub(crate) page_title: String,
    /// The action, as a verb: `retry`.
    pub(crate) verb: String,
    /// What it applies to, in words.
    pub(crate) scope: String,
    /// How many jobs it would touch (a dry run).
    pub(crate) count: u64,
    pub(crate) cap: u64,
    pub(crate) over_cap: bool,
    /// Where the confirmed form goes.
    pub(crate) action: String,
    /// The form's fields, re-sent with `confirm=yes`.
    pub(crate) fields: Vec<(String, String)>,
    /// The page to go back to.
    pub(crate) back: String,
}
