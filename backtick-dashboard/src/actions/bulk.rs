//! `POST /jobs/bulk`: an action on the selected jobs or on every job matching the current
//! filter. The first POST counts what the action would touch (a dry run) and shows it with a
//! confirmation; the confirmed POST counts again, refuses beyond the bulk cap, and applies.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use backtick_core::JobId;
use backtick_core::admin::{JobAction, JobQuery, JobSelection, MAX_PAGE_SIZE};

use crate::actions::{ConfirmPage, audit, field, form_pairs, job_action, redirect};
use crate::context::Layout;
use crate::error::DashboardError;
use crate::filter::JobsFilter;
use crate::notice::Notice;
use crate::pages::render;
use crate::state::AppState;

/// Count, confirm, or apply the bulk action of the form.
pub(crate) async fn submit(
    State(state): State<AppState>,
    layout: Layout,
    body: Bytes,
) -> Result<Response, DashboardError> {
    let pairs = form_pairs(&body);
    let (verb, scope) = field(&pairs, "op")
        .split_once(':')
        .ok_or_else(|| DashboardError::bad_request("a bulk action needs op=<action>:selected or op=<action>:filter"))?;
    let action = job_action(verb)?;
    let filter = JobsFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (selection, described) = match scope {
        "selected" => selected(&pairs)?,
        "filter" => filtered(&filter)?,
        other => return Err(DashboardError::bad_request(format!("unknown bulk scope {other:?}"))),
    };
    let preview = state
        .ask(state.admin().apply_bulk(&selection, &action, true, None))
        .await?;
    let cap = state.config().bulk_cap;
    if field(&pairs, "confirm") != "yes" || preview.touched > cap {
        let back = format!("{}/jobs{}", layout.base, query_suffix(&filter.to_query()));
        let page = ConfirmPage {
            page_title: format!("Confirm {verb}"),
            verb: verb.to_owned(),
            scope: described,
            count: preview.touched,
            cap,
            over_cap: preview.touched > cap,
            action: format!("{}/jobs/bulk", layout.base),
            fields: pairs.into_iter().filter(|(key, _)| key != "confirm").collect(),
            back,
            layout: layout.section("jobs"),
        };
        return Ok(render(&page)?.into_response());
    }
    let report = state
        .ask(state.admin().apply_bulk(&selection, &action, false, None))
        .await?;
    state.invalidate();
    audit(verb, &described, report.touched);
    let notice = Notice::new(notice_verb(&action, report.cancel_requested, report.touched)).map(|n| Notice {
        jobs: Some(report.touched),
        ..n
    });
    Ok(redirect(&layout, "/jobs", &filter.to_query(), notice))
}

/// The checked jobs (`job` fields), at most one page's worth.
fn selected(pairs: &[(String, String)]) -> Result<(JobSelection, String), DashboardError> {
    let ids = pairs
        .iter()
        .filter(|(key, _)| key == "job")
        .map(|(_, value)| value.parse::<i64>().map(JobId))
        .collect::<Result<Vec<JobId>, _>>()
        .map_err(|_| DashboardError::bad_request("a selected job id is not a number"))?;
    if ids.is_empty() {
        return Err(DashboardError::bad_request("select at least one job first"));
    }
    if ids.len() > MAX_PAGE_SIZE as usize {
        return Err(DashboardError::bad_request(format!(
            "at most {MAX_PAGE_SIZE} jobs can be selected; act on the filter instead"
        )));
    }
    let described = match ids.as_slice() {
        [one] => format!("job {one}"),
        many => format!("the {} selected jobs", many.len()),
    };
    let query = JobQuery {
        ids,
        ..JobQuery::default()
    };
    Ok((JobSelection::Matching(query), described))
}

/// Every job matching the filter; every job at all on the unfiltered "all" tab.
fn filtered(filter: &JobsFilter) -> Result<(JobSelection, String), DashboardError> {
    let query = filter.query()?;
    let described = format!("every job matching {}", filter.describe());
    if query.is_empty() {
        return Ok((JobSelection::All, described));
    }
    Ok((JobSelection::Matching(query), described))
}

/// The notice's verb: a cancel that only asked running jobs to stop says so.
fn notice_verb(action: &JobAction, cancel_requested: u64, touched: u64) -> &'static str {
    match action {
        JobAction::Cancel { .. } if cancel_requested > 0 && cancel_requested == touched => "cancel-requested",
        other => other.name(),
    }
}

fn query_suffix(query: &str) -> String {
    if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    }
}
