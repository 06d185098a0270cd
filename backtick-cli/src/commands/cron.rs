//! `backtick cron list|next|pause|resume|run|remove`.

use backtick_core::admin::ScheduleAction;
use backtick_core::{QueueAdmin, Timestamp};
use backtick_cron::CronSchedule;
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Output, Table, time};
use crate::views::ScheduleView;

/// `cron list`: the stored schedules with their next and last fire, pause and staleness.
///
/// # Errors
/// A store failure.
pub async fn list(admin: &dyn QueueAdmin, out: &mut Output<'_>) -> Result<(), CliError> {
    let schedules = admin.list_schedules(None).await?;
    if out.json {
        return out.json(&schedules.iter().map(ScheduleView::from).collect::<Vec<_>>());
    }
    let mut table = Table::new(&["NAME", "WORKER", "SPEC", "NEXT", "LAST", "STATUS", "DECLARED BY"]);
    for s in schedules.iter().map(ScheduleView::from) {
        let mut status = vec![];
        if s.paused_at.is_some() {
            status.push("paused");
        }
        if s.run_requested_at.is_some() {
            status.push("run requested");
        }
        if s.stale {
            status.push("stale");
        }
        table.row(vec![
            s.name,
            s.worker,
            s.spec,
            time(s.next_run_at),
            time(s.last_fired_at),
            if status.is_empty() {
                "active".into()
            } else {
                status.join(", ")
            },
            if s.declared_by.is_empty() {
                "-".into()
            } else {
                s.declared_by.join(",")
            },
        ]);
    }
    out.table(&table, "no schedules stored")
}

/// What `cron next` prints with `--json`.
#[derive(Debug, Serialize)]
struct NextFires {
    spec: String,
    time_zone: String,
    fires: Vec<Timestamp>,
}

/// `cron next SPEC`: the next `count` fire times after `now`, in UTC and in `tz`.
///
/// # Errors
/// [`CliError::BadInput`] with the cron crate's message for a bad spec or time zone.
pub fn next(spec: &str, count: usize, tz: &str, now: Timestamp, out: &mut Output<'_>) -> Result<(), CliError> {
    let schedule = CronSchedule::parse_in(spec, tz).map_err(|e| CliError::bad_input(e.to_string()))?;
    let mut fires = Vec::with_capacity(count);
    let mut after = now;
    while fires.len() < count {
        let Some(next) = schedule.next_after(after) else { break };
        fires.push(next);
        after = next;
    }
    let view = NextFires {
        spec: schedule.spec().to_owned(),
        time_zone: schedule.timezone().name().to_owned(),
        fires,
    };
    if out.json {
        return out.json(&view);
    }
    if view.fires.is_empty() {
        return out.line(format!("{spec:?} never fires"));
    }
    let zone = schedule.timezone();
    let mut table = Table::new(&["UTC", &format!("LOCAL ({})", zone.name())]);
    for at in &view.fires {
        let local = at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z").to_string();
        table.row(vec![time(Some(*at)), local]);
    }
    out.table(&table, "")
}

/// What `cron pause|resume|run|remove` print with `--json`.
#[derive(Debug, Serialize)]
struct ScheduleChange<'a> {
    schedule: &'a str,
    /// `pause`, `resume`, `run-now` or `remove`.
    action: &'static str,
    changed: bool,
}

/// `cron pause|resume|run|remove NAME`: apply `action` to the schedule
/// ([`QueueAdmin::apply_to_schedule`]) and say what happened.
///
/// # Errors
/// An unknown schedule; the removal of one a live runner still declares; a store failure.
pub async fn apply(
    admin: &dyn QueueAdmin,
    name: &str,
    action: ScheduleAction,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    let changed = admin.apply_to_schedule(name, action, None).await?;
    let text = match (action, changed) {
        (ScheduleAction::Pause, true) => format!("paused schedule {name}: its fire times pass without enqueueing"),
        (ScheduleAction::Pause, false) => format!("schedule {name} was already paused"),
        (ScheduleAction::Resume, true) => format!("resumed schedule {name} from its next fire time"),
        (ScheduleAction::Resume, false) => format!("schedule {name} was not paused"),
        (ScheduleAction::RunNow, true) => {
            format!("requested a run of schedule {name}: a runner that declares it enqueues one job")
        }
        (ScheduleAction::RunNow, false) => {
            format!("a run of schedule {name} was already requested and not served yet")
        }
        (ScheduleAction::Remove, _) => format!("removed schedule {name}"),
    };
    let view = ScheduleChange {
        schedule: name,
        action: action.as_str(),
        changed,
    };
    out.either(&view, text)
}
