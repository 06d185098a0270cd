//! Overview: counts per state, runners alive, throughput over the last hour, queue depth
//! and lag.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use backtick_core::JobState;
use backtick_core::admin::QueueInfo;

use crate::chart::Throughput;
use crate::context::Layout;
use crate::error::DashboardError;
use crate::format::short;
use crate::pages::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    page_title: &'static str,
    states: Vec<StateCard>,
    runners_alive: usize,
    runners_stale: usize,
    chart: String,
    done_total: u64,
    dead_total: u64,
    capped: bool,
    queues: Vec<QueueLine>,
}

struct StateCard {
    state: &'static str,
    count: String,
}

/// A queue's depth and lag, as the overview and the queues page show it.
pub(crate) struct QueueLine {
    pub(crate) name: String,
    pub(crate) queued: String,
    pub(crate) running: String,
    pub(crate) done: String,
    pub(crate) dead: String,
    pub(crate) cancelled: String,
    pub(crate) lag: String,
    pub(crate) paused: bool,
    pub(crate) paused_at: String,
}

impl QueueLine {
    pub(crate) fn new(queue: &QueueInfo) -> Self {
        QueueLine {
            name: queue.name.clone(),
            queued: queue.count(JobState::Queued).to_string(),
            running: queue.count(JobState::Running).to_string(),
            done: queue.count(JobState::Done).to_string(),
            dead: queue.count(JobState::Dead).to_string(),
            cancelled: queue.count(JobState::Cancelled).to_string(),
            lag: queue.oldest_due_age.map_or_else(|| "—".to_owned(), short),
            paused: queue.is_paused(),
            paused_at: queue
                .paused_at
                .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
        }
    }
}

/// `GET /`
pub(crate) async fn page(State(state): State<AppState>, layout: Layout) -> Result<Html<String>, DashboardError> {
    let now = state.now().await?;
    let counts = state.state_counts().await?;
    let queues = state.queues().await?;
    let runners = state.ask(state.admin().list_runners(None)).await?;
    let throughput = Throughput::last_hour(&state, now).await?;
    let page = OverviewPage {
        layout: layout.section("overview"),
        page_title: "Overview",
        states: JobState::ALL
            .iter()
            .map(|s| StateCard {
                state: s.as_str(),
                count: counts.total(*s).to_string(),
            })
            .collect(),
        runners_alive: runners.iter().filter(|r| !r.stale).count(),
        runners_stale: runners.iter().filter(|r| r.stale).count(),
        chart: throughput.svg(),
        done_total: throughput.total_done(),
        dead_total: throughput.total_dead(),
        capped: throughput.capped,
        queues: queues.iter().map(QueueLine::new).collect(),
    };
    render(&page)
}
