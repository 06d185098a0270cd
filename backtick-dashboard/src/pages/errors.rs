//! Errors: dead and retrying jobs grouped by worker and error (see [`crate::grouping`]), with
//! retry and discard of a whole group.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::context::Layout;
use crate::error::DashboardError;
use crate::format::When;
use crate::grouping::{ErrorGroup, ErrorGroups};
use crate::pages::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "errors.html")]
struct ErrorsPage {
    layout: Layout,
    page_title: &'static str,
    groups: Vec<GroupLine>,
    scanned: usize,
    capped: bool,
}

struct GroupLine {
    worker: String,
    message: String,
    dead: usize,
    retrying: usize,
    latest: When,
    sample: Vec<i64>,
    jobs_query: String,
}

impl GroupLine {
    fn new(group: &ErrorGroup, layout: &Layout) -> Self {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if group.retrying.is_empty() {
            query.append_pair("state", "dead");
        }
        query.append_pair("worker", &group.worker);
        query.append_pair("error", group.message.trim_end_matches('…'));
        GroupLine {
            worker: group.worker.clone(),
            message: group.message.clone(),
            dead: group.dead.len(),
            retrying: group.retrying.len(),
            latest: When::new(group.latest, layout.now),
            sample: group
                .dead
                .iter()
                .chain(&group.retrying)
                .take(5)
                .map(|id| id.0)
                .collect(),
            jobs_query: query.finish(),
        }
    }
}

/// `GET /errors`
pub(crate) async fn page(State(state): State<AppState>, layout: Layout) -> Result<Html<String>, DashboardError> {
    let groups = ErrorGroups::collect(&state).await?;
    let lines = groups.groups.iter().map(|g| GroupLine::new(g, &layout)).collect();
    render(&ErrorsPage {
        layout: layout.section("errors"),
        page_title: "Errors",
        groups: lines,
        scanned: groups.scanned,
        capped: groups.capped,
    })
}
