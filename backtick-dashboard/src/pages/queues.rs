//! Queues: depth per state, age of the oldest due job, pause and resume.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use backtick_core::admin::COUNT_CAP;

use crate::context::Layout;
use crate::error::DashboardError;
use crate::pages::overview::QueueLine;
use crate::pages::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "queues.html")]
struct QueuesPage {
    layout: Layout,
    page_title: &'static str,
    queues: Vec<QueueLine>,
    cap: u64,
}

/// `GET /queues`
pub(crate) async fn page(State(state): State<AppState>, layout: Layout) -> Result<Html<String>, DashboardError> {
    let queues = state.queues().await?;
    render(&QueuesPage {
        layout: layout.section("queues"),
        page_title: "Queues",
        queues: queues.iter().map(QueueLine::new).collect(),
        cap: COUNT_CAP,
    })
}
