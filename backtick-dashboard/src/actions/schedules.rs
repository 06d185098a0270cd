//! `POST /queues/action` (pause, resume) and `POST /cron/action` (pause, resume, run now,
//! remove).

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use backtick_core::admin::ScheduleAction;

use crate::actions::{audit, field, form_pairs, redirect};
use crate::context::Layout;
use crate::error::DashboardError;
use crate::notice::Notice;
use crate::state::AppState;

/// Pause or resume the form's `queue`.
pub(crate) async fn queue(
    State(state): State<AppState>,
    layout: Layout,
    body: Bytes,
) -> Result<Response, DashboardError> {
    let pairs = form_pairs(&body);
    let (queue, op) = (field(&pairs, "queue"), field(&pairs, "op"));
    let changed = match op {
        "pause" => state.ask(state.admin().pause_queue(queue, None)).await?,
        "resume" => state.ask(state.admin().resume_queue(queue, None)).await?,
        other => {
            return Err(DashboardError::bad_request(format!(
                "unknown queue action {other:?}: pause or resume"
            )));
        }
    };
    state.invalidate();
    done(&layout, "/queues", op, queue, changed)
}

/// Pause, resume, run now or remove the form's schedule `name`.
pub(crate) async fn schedule(
    State(state): State<AppState>,
    layout: Layout,
    body: Bytes,
) -> Result<Response, DashboardError> {
    let pairs = form_pairs(&body);
    let (name, op) = (field(&pairs, "name"), field(&pairs, "op"));
    let action = ScheduleAction::ALL
        .into_iter()
        .find(|action| action.as_str() == op)
        .ok_or_else(|| {
            DashboardError::bad_request(format!(
                "unknown schedule action {op:?}: pause, resume, run-now or remove"
            ))
        })?;
    let changed = state.ask(state.admin().apply_to_schedule(name, action, None)).await?;
    done(&layout, "/cron", op, name, changed)
}

fn done(layout: &Layout, page: &str, op: &str, subject: &str, changed: bool) -> Result<Response, DashboardError> {
    if changed {
        audit(op, subject, 0);
    }
    let notice = Notice::new(if changed { op } else { "unchanged" }).map(|n| Notice {
        subject: Some(subject.to_owned()),
        ..n
    });
    Ok(redirect(layout, page, "", notice))
}
