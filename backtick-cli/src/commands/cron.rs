//! `backtick cron list|next|pause|resume|run|remove`.

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
    action: &'static str,
    changed: bool,
}

/// `cron pause NAME`.
///
/// # Errors
/// An unknown schedule; a store failure.
pub async fn pause(admin: &dyn QueueAdmin, name: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let changed = admin.pause_schedule(name, None).await?;
    let text = match changed {
        true => format!("paused schedule {name}: its fire times pass without enqueueing"),
        false => format!("schedule {name} was already paused"),
    };
    out.either(
        &ScheduleChange {
            schedule: name,
            action: "pause",
            changed,
        },
        text,
    )
}

/// `cron resume NAME`.
///
/// # Errors
/// An unknown schedule; a store failure.
pub async fn resume(admin: &dyn QueueAdmin, name: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let changed = admin.resume_schedule(name, None).await?;
    let text = match changed {
        true => format!("resumed schedule {name} from its next fire time"),
        false => format!("schedule {name} was not paused"),
    };
    out.either(
        &ScheduleChange {
            schedule: name,
            action: "resume",
            changed,
        },
        text,
    )
}

/// `cron run NAME`: one extra run now, enqueued by a runner that declares the schedule.
///
/// # Errors
/// An unknown schedule; a store failure.
pub async fn run(admin: &dyn QueueAdmin, name: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let changed = admin.run_schedule_now(name, None).await?;
    let text = match changed {
        true => format!("requested a run of schedule {name}: a runner that declares it enqueues one job"),
        false => format!("a run of schedule {name} was already requested and not served yet"),
    };
    out.either(
        &ScheduleChange {
            schedule: name,
            action: "run",
            changed,
        },
        text,
    )
}

/// `cron remove NAME`: forget a stale schedule.
///
/// # Errors
/// An unknown schedule, one a live runner still declares; a store failure.
pub async fn remove(admin: &dyn QueueAdmin, name: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    admin.remove_schedule(name, None).await?;
    let view = ScheduleChange {
        schedule: name,
        action: "remove",
        changed: true,
    };
    out.either(&view, format!("removed schedule {name}"))
}
