//! Jobs: state tabs with (capped, cached) counts, filters kept in the URL, keyset paging, and
//! the bulk action bar.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Html;
use backtick_core::JobState;
use backtick_core::admin::PageRequest;

use crate::context::Layout;
use crate::error::DashboardError;
use crate::filter::JobsFilter;
use crate::pages::{JobRow, render};
use crate::state::AppState;

/// Jobs on one page.
pub(crate) const PAGE_SIZE: u32 = 50;

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    layout: Layout,
    page_title: &'static str,
    tabs: Vec<Tab>,
    filter: JobsFilter,
    filter_fields: Vec<(&'static str, String)>,
    rows: Vec<JobRow>,
    next: Option<String>,
    /// The page is short but not the last: its search stopped at the scan bound.
    scan_stopped: bool,
    /// How many jobs a page examines at most.
    scan_limit: u32,
    first_query: String,
}

struct Tab {
    label: &'static str,
    query: String,
    count: Option<String>,
    current: bool,
}

/// `GET /jobs?state=&queue=&worker=&id=&args=&error=&runner=&cursor=`
pub(crate) async fn page(
    State(state): State<AppState>,
    layout: Layout,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, DashboardError> {
    let query = query.unwrap_or_default();
    let filter = JobsFilter::from_pairs(
        form_urlencoded::parse(query.as_bytes())
            .collect::<Vec<_>>()
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref())),
    );
    let job_query = filter.query()?;
    let request = match filter.cursor()? {
        Some(cursor) => PageRequest::after(cursor, PAGE_SIZE),
        None => PageRequest::first(PAGE_SIZE),
    };
    let found = state.ask(state.admin().list_jobs(&job_query, &request)).await?;
    let counts = state.state_counts().await?;
    let current = filter.state()?;
    let unfiltered = filter.is_unfiltered();
    let mut tabs = vec![Tab {
        label: "all",
        query: filter.with_state(""),
        count: None,
        current: current.is_none(),
    }];
    tabs.extend(JobState::ALL.iter().map(|s| Tab {
        label: s.as_str(),
        query: filter.with_state(s.as_str()),
        // Counts per state are for the whole table: shown only when no other filter is set.
        count: unfiltered.then(|| counts.total(*s).to_string()),
        current: current == Some(*s),
    }));
    let page = JobsPage {
        tabs,
        filter_fields: filter.pairs().map(|(k, v)| (k, v.to_owned())).collect(),
        rows: found.jobs.iter().map(|job| JobRow::new(job, layout.now)).collect(),
        next: found.next.as_ref().map(|cursor| filter.at(cursor)),
        scan_stopped: found.jobs.len() < PAGE_SIZE as usize && found.next.is_some(),
        scan_limit: request.scan_limit,
        first_query: filter.to_query(),
        filter,
        layout: layout.section("jobs"),
        page_title: "Jobs",
    };
    render(&page)
}
