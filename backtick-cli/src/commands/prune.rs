//! `backtick prune --older-than AGE`: delete finished jobs in bounded batches.

use backtick_core::admin::{JobAction, JobQuery, JobSelection, TimeRange};
use backtick_core::{JobState, QueueAdmin, Timestamp};
use serde::Serialize;

use crate::cli::PruneArgs;
use crate::commands::parse_duration;
use crate::error::CliError;
use crate::output::{Output, time};

/// Each prune statement deletes at most this many jobs, so none holds many row locks.
const PRUNE_BATCH: u32 = 1_000;

/// What `prune` prints with `--json`.
#[derive(Debug, Serialize)]
struct Pruned {
    finished_before: Timestamp,
    deleted: u64,
    dry_run: bool,
}

/// `prune --older-than AGE`: count the finished jobs that finished before `now - AGE`;
/// with `--yes` delete them ([`backtick_core::QueueStore::prune_finished`], batch by batch).
///
/// # Errors
/// A bad age; no `--yes` while jobs would be deleted (nothing changed); a store failure.
pub async fn prune(admin: &dyn QueueAdmin, args: &PruneArgs, out: &mut Output<'_>) -> Result<(), CliError> {
    let age = parse_duration("--older-than", &args.older_than)?;
    let age = chrono::Duration::from_std(age)
        .map_err(|_| CliError::bad_input(format!("--older-than {:?} is too long", args.older_than)))?;
    let before = admin.now().await? - age;
    let finished = JobQuery {
        states: vec![JobState::Done, JobState::Dead, JobState::Cancelled],
        finished: TimeRange::before(before),
        ..JobQuery::default()
    };
    let preview = admin
        .apply_bulk(&JobSelection::Matching(finished), &JobAction::Delete, true, None)
        .await?;
    if args.dry_run || !args.yes {
        let view = Pruned {
            finished_before: before,
            deleted: preview.touched,
            dry_run: true,
        };
        let text = format!(
            "prune would delete {} job(s) finished before {}",
            preview.touched,
            time(Some(before))
        );
        out.either(&view, text)?;
        if args.dry_run || preview.touched == 0 {
            return Ok(());
        }
        return Err(CliError::NeedsConfirmation {
            action: "prune",
            count: preview.touched,
        });
    }
    let mut deleted = 0;
    loop {
        let batch = admin.prune_finished(before, PRUNE_BATCH).await?;
        deleted += batch;
        if batch < u64::from(PRUNE_BATCH) {
            break;
        }
    }
    let view = Pruned {
        finished_before: before,
        deleted,
        dry_run: false,
    };
    out.either(
        &view,
        format!("pruned {deleted} job(s) finished before {}", time(Some(before))),
    )
}
