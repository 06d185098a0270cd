//! `backtick queues list|pause|resume|limit`.

use backtick_core::flow::{QueueLimits, RateLimit};
use backtick_core::{JobState, QueueAdmin};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Output, Table, age};
use crate::views::QueueView;

/// `queues list`: each queue's depth per state, oldest due job's age, pause and limits.
///
/// # Errors
/// A store failure.
pub async fn list(admin: &dyn QueueAdmin, out: &mut Output<'_>) -> Result<(), CliError> {
    let queues = admin.list_queues(None).await?;
    let limits = admin.queue_limits().await?;
    let limits_of = |name: &str| {
        limits
            .iter()
            .find(|(queue, _)| queue == name)
            .map_or_else(QueueLimits::new, |(_, l)| *l)
    };
    if out.json {
        let views: Vec<QueueView> = queues
            .iter()
            .map(|q| QueueView::from(q).with_limits(&limits_of(&q.name)))
            .collect();
        return out.json(&views);
    }
    let mut table = Table::new(&[
        "QUEUE",
        "PENDING",
        "QUEUED",
        "RUNNING",
        "DONE",
        "DEAD",
        "CANCELLED",
        "OLDEST DUE",
        "PAUSED",
        "LIMITS",
    ]);
    for queue in &queues {
        let mut row = vec![queue.name.clone()];
        row.extend(JobState::ALL.iter().map(|s| queue.count(*s).to_string()));
        row.push(age(queue.oldest_due_age));
        row.push(if queue.is_paused() { "yes".into() } else { "no".into() });
        row.push(limits_of(&queue.name).to_string());
        table.row(row);
    }
    out.table(&table, "no queues yet: no job was ever enqueued")
}

/// What `queues pause|resume` prints with `--json`.
#[derive(Debug, Serialize)]
struct Changed<'a> {
    queue: &'a str,
    paused: bool,
    changed: bool,
}

/// `queues pause NAME`.
///
/// # Errors
/// An unknown queue; a store failure.
pub async fn pause(admin: &dyn QueueAdmin, name: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let changed = admin.pause_queue(name, None).await?;
    let text = if changed {
        format!("paused queue {name}: runners claim none of its jobs until `backtick queues resume {name}`")
    } else {
        format!("queue {name} was already paused")
    };
    out.either(
        &Changed {
            queue: name,
            paused: true,
            changed,
        },
        text,
    )
}

/// `queues resume NAME`.
///
/// # Errors
/// An unknown queue; a store failure.
pub async fn resume(admin: &dyn QueueAdmin, name: &str, out: &mut Output<'_>) -> Result<(), CliError> {
    let changed = admin.resume_queue(name, None).await?;
    let text = if changed {
        format!("resumed queue {name}")
    } else {
        format!("queue {name} was not paused")
    };
    out.either(
        &Changed {
            queue: name,
            paused: false,
            changed,
        },
        text,
    )
}

/// What `queues limit` prints with `--json`.
#[derive(Debug, Serialize)]
struct Limited<'a> {
    queue: &'a str,
    concurrency: Option<u32>,
    rate: Option<String>,
}

/// `queues limit NAME [--concurrency N] [--rate JOBS/PERIOD] | --clear`.
///
/// # Errors
/// [`CliError::Usage`] for no option, [`CliError::BadInput`] for a bad rate or a zero limit; a
/// store failure.
pub async fn limit(
    admin: &dyn QueueAdmin,
    name: &str,
    concurrency: Option<u32>,
    rate: Option<&str>,
    clear: bool,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    if !clear && concurrency.is_none() && rate.is_none() {
        return Err(CliError::usage(format!(
            "say which limits queue {name} gets: --concurrency JOBS, --rate JOBS/PERIOD (such as 100/m), or --clear"
        )));
    }
    let rate = rate
        .map(str::parse::<RateLimit>)
        .transpose()
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    let limits = QueueLimits { concurrency, rate };
    limits.validate().map_err(|e| CliError::bad_input(e.to_string()))?;
    admin.set_queue_limits(name, &limits, None).await?;
    let text = if limits.is_limited() {
        format!("queue {name} limited: {limits}, across every runner")
    } else {
        format!("queue {name} has no limits")
    };
    out.either(
        &Limited {
            queue: name,
            concurrency: limits.concurrency,
            rate: limits.rate.map(|r| r.to_string()),
        },
        text,
    )
}
