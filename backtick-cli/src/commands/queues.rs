//! `backtick queues list|pause|resume`.

use backtick_core::{JobState, QueueAdmin};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Output, Table, age};
use crate::views::QueueView;

/// `queues list`: each queue's depth per state, oldest due job's age and pause.
///
/// # Errors
/// A store failure.
pub async fn list(admin: &dyn QueueAdmin, out: &mut Output<'_>) -> Result<(), CliError> {
    let queues = admin.list_queues(None).await?;
    if out.json {
        return out.json(&queues.iter().map(QueueView::from).collect::<Vec<_>>());
    }
    let mut table = Table::new(&[
        "QUEUE",
        "QUEUED",
        "RUNNING",
        "DONE",
        "DEAD",
        "CANCELLED",
        "OLDEST DUE",
        "PAUSED",
    ]);
    for queue in &queues {
        let mut row = vec![queue.name.clone()];
        row.extend(JobState::ALL.iter().map(|s| queue.count(*s).to_string()));
        row.push(age(queue.oldest_due_age));
        row.push(if queue.is_paused() { "yes".into() } else { "no".into() });
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
