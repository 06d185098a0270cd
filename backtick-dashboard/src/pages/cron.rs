//! Cron: every stored recurring and cron schedule with its spec, time zone, next and last
//! fire, pause, pending run-now, and the live runners that declare it.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use backtick_core::Timestamp;
use backtick_core::admin::ScheduleInfo;

use crate::context::Layout;
use crate::error::DashboardError;
use crate::format::When;
use crate::pages::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "cron.html")]
struct CronPage {
    layout: Layout,
    page_title: &'static str,
    schedules: Vec<ScheduleLine>,
}

struct ScheduleLine {
    name: String,
    worker: String,
    spec: String,
    time_zone: String,
    next: Option<When>,
    last: Option<When>,
    paused: bool,
    run_requested: bool,
    stale: bool,
    declared_by: String,
}

impl ScheduleLine {
    fn new(schedule: &ScheduleInfo, now: Timestamp) -> Self {
        ScheduleLine {
            name: schedule.name.clone(),
            worker: schedule.worker.clone(),
            spec: schedule.spec.clone(),
            time_zone: schedule.time_zone.clone().unwrap_or_else(|| "UTC".to_owned()),
            next: When::maybe(schedule.next_run_at, now),
            last: When::maybe(schedule.last_fired_at, now),
            paused: schedule.paused_at.is_some(),
            run_requested: schedule.run_requested_at.is_some(),
            stale: schedule.is_stale(),
            declared_by: schedule
                .declared_by
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// `GET /cron`
pub(crate) async fn page(State(state): State<AppState>, layout: Layout) -> Result<Html<String>, DashboardError> {
    let schedules = state.ask(state.admin().list_schedules(None)).await?;
    let now = layout.now;
    render(&CronPage {
        layout: layout.section("cron"),
        page_title: "Cron",
        schedules: schedules.iter().map(|s| ScheduleLine::new(s, now)).collect(),
    })
}
