//! `POST /errors/action`: retry or discard a whole error group (see [`crate::grouping`]).
//! Retry puts the group's dead jobs back on the queue and makes its retrying jobs due now;
//! discard cancels its retrying jobs and deletes its dead ones. Confirmed like a bulk action.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use backtick_core::admin::JobAction;

use crate::actions::{ConfirmPage, apply_in_batches, audit, field, form_pairs, redirect};
use crate::context::Layout;
use crate::error::DashboardError;
use crate::grouping::ErrorGroups;
use crate::notice::Notice;
use crate::pages::render;
use crate::state::AppState;

/// Count, confirm, or apply the group action of the form.
pub(crate) async fn submit(
    State(state): State<AppState>,
    layout: Layout,
    body: Bytes,
) -> Result<Response, DashboardError> {
    let pairs = form_pairs(&body);
    let (worker, message, op) = (field(&pairs, "worker"), field(&pairs, "message"), field(&pairs, "op"));
    let (for_dead, for_retrying) = match op {
        "retry" => (JobAction::Retry, JobAction::RunNow),
        "discard" => (JobAction::Delete, JobAction::cancel("discarded from the dashboard")),
        other => {
            return Err(DashboardError::bad_request(format!(
                "unknown group action {other:?}: retry or discard"
            )));
        }
    };
    let groups = ErrorGroups::collect(&state).await?;
    let Some(group) = groups.find(worker, message) else {
        return Ok(redirect(
            &layout,
            "/errors",
            "",
            Notice::new("unchanged").map(|n| Notice {
                subject: Some(format!("{worker}: {message} (the group is gone)")),
                ..n
            }),
        ));
    };
    let count = (group.dead.len() + group.retrying.len()) as u64;
    let cap = state.config().bulk_cap;
    let scope = format!("the {worker} jobs failing with “{message}”");
    if field(&pairs, "confirm") != "yes" || count > cap {
        let page = ConfirmPage {
            page_title: format!("Confirm {op}"),
            verb: op.to_owned(),
            scope,
            count,
            cap,
            over_cap: count > cap,
            action: format!("{}/errors/action", layout.base),
            fields: pairs.iter().filter(|(key, _)| key != "confirm").cloned().collect(),
            back: format!("{}/errors", layout.base),
            layout: layout.section("errors"),
        };
        return Ok(render(&page)?.into_response());
    }
    let touched = apply_in_batches(&state, &group.dead, &for_dead).await?
        + apply_in_batches(&state, &group.retrying, &for_retrying).await?;
    state.invalidate();
    audit(op, &scope, touched);
    let notice = Notice::new(op).map(|n| Notice {
        jobs: Some(touched),
        ..n
    });
    Ok(redirect(&layout, "/errors", "", notice))
}
