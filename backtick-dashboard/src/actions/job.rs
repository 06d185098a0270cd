//! `POST /jobs/{id}/action`: retry, cancel, delete or run one job now.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use backtick_core::JobId;
use backtick_core::admin::ActionOutcome;

use crate::actions::{audit, field, form_pairs, job_action, redirect};
use crate::context::Layout;
use crate::error::DashboardError;
use crate::notice::Notice;
use crate::state::AppState;

/// Apply the form's `op` to job `id`, then back to the job (to the list after a delete).
pub(crate) async fn submit(
    State(state): State<AppState>,
    layout: Layout,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, DashboardError> {
    let pairs = form_pairs(&body);
    let op = field(&pairs, "op");
    let action = job_action(op)?;
    let outcome = state.ask(state.admin().apply_to_job(JobId(id), &action, None)).await?;
    state.invalidate();
    let did = match outcome {
        ActionOutcome::Applied => op,
        ActionOutcome::CancelRequested => "cancel-requested",
        _ => "unchanged",
    };
    if did != "unchanged" {
        audit(op, &format!("job {id}"), 1);
    }
    let notice = Notice::new(did).map(|n| Notice {
        subject: Some(format!("job {id}")),
        ..n
    });
    if op == "delete" {
        Ok(redirect(&layout, "/jobs", "", notice))
    } else {
        Ok(redirect(&layout, &format!("/jobs/{id}"), "", notice))
    }
}
