//! Runners: every registered runner with its host, pid, version, queues, workers, last
//! heartbeat, stale flag and the jobs it holds.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use backtick_core::Timestamp;
use backtick_core::admin::RunnerStatus;

use crate::context::Layout;
use crate::error::DashboardError;
use crate::format::When;
use crate::pages::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "runners.html")]
struct RunnersPage {
    layout: Layout,
    page_title: &'static str,
    runners: Vec<RunnerLine>,
}

struct RunnerLine {
    id: String,
    host: String,
    pid: u32,
    version: String,
    queues: String,
    workers: String,
    worker_count: usize,
    concurrency: u32,
    started: When,
    heartbeat: When,
    stale: bool,
    running: u64,
}

impl RunnerLine {
    fn new(runner: &RunnerStatus, now: Timestamp) -> Self {
        let info = &runner.info;
        RunnerLine {
            id: info.id.to_string(),
            host: info.host.clone(),
            pid: info.pid,
            version: info.version.clone(),
            queues: info.queues.as_ref().map_or_else(|| "all".to_owned(), |q| q.join(", ")),
            workers: info.workers.join(", "),
            worker_count: info.workers.len(),
            concurrency: info.concurrency,
            started: When::new(info.started_at, now),
            heartbeat: When::new(runner.heartbeat_at, now),
            stale: runner.stale,
            running: runner.running_jobs,
        }
    }
}

/// `GET /runners`
pub(crate) async fn page(State(state): State<AppState>, layout: Layout) -> Result<Html<String>, DashboardError> {
    let runners = state.ask(state.admin().list_runners(None)).await?;
    let now = layout.now;
    render(&RunnersPage {
        layout: layout.section("runners"),
        page_title: "Runners",
        runners: runners.iter().map(|r| RunnerLine::new(r, now)).collect(),
    })
}
