//! `backtick jobs list|show|retry|cancel|delete|run-now|enqueue`.

use backtick_core::admin::{ActionOutcome, AdminError, JobAction, JobCursor, JobQuery, JobSelection, PageRequest};
use backtick_core::{Job, JobId, NewJob, QueueAdmin};
use serde::Serialize;

use crate::cli::{ActionArgs, EnqueueArgs, ListArgs};
use crate::commands::filter::{self, parse_json};
use crate::commands::parse_time;
use crate::error::CliError;
use crate::output::{Output, Table, short, time};
use crate::views::{ActionView, JobDetailView, JobPageView, JobView};

/// How many of the jobs a bulk action would touch are listed before it asks for `--yes`.
const PREVIEW_ROWS: u32 = 10;

/// `jobs list`: one page of the jobs matching the filters.
///
/// # Errors
/// Bad filters or cursor, a page size outside 1 to 1000, a store failure.
pub async fn list(admin: &dyn QueueAdmin, args: &ListArgs, out: &mut Output<'_>) -> Result<(), CliError> {
    let query = filter::query(admin, &args.filter).await?;
    let mut page = match &args.cursor {
        Some(text) => PageRequest::after(text.parse::<JobCursor>()?, args.limit),
        None => PageRequest::first(args.limit),
    };
    if args.oldest_first && args.cursor.is_none() {
        page = page.oldest_first();
    }
    let found = admin.list_jobs(&query, &page).await?;
    let view = JobPageView {
        jobs: found.jobs.iter().map(JobView::from).collect(),
        next: found.next.map(|c| c.to_string()),
    };
    if out.json {
        return out.json(&view);
    }
    out.table(&job_table(&found.jobs), "no jobs match")?;
    if let Some(next) = &view.next {
        out.line(format!("more: --cursor {next}"))?;
    }
    Ok(())
}

fn job_table(jobs: &[Job]) -> Table {
    let mut table = Table::new(&[
        "ID", "STATE", "QUEUE", "WORKER", "ATTEMPT", "RUN AT", "FINISHED", "ARGS", "ERROR",
    ]);
    for job in jobs {
        let view = JobView::from(job);
        table.row(vec![
            job.id.to_string(),
            job.state.to_string(),
            job.queue.clone(),
            job.worker.clone(),
            format!("{}/{}", job.attempt, job.max_attempts),
            time(Some(job.run_at)),
            time(job.finished_at),
            short(Some(&view.args.to_string()), 40),
            short(job.last_error.as_deref(), 50),
        ]);
    }
    table
}

/// `jobs show ID`: the job, its arguments and its attempt history.
///
/// # Errors
/// [`AdminError::UnknownJob`] for an unknown id; a store failure.
pub async fn show(admin: &dyn QueueAdmin, id: i64, out: &mut Output<'_>) -> Result<(), CliError> {
    let detail = admin.job_detail(JobId(id)).await?;
    let view = JobDetailView::from(&detail);
    if out.json {
        return out.json(&view);
    }
    let job = &view.job;
    let args = serde_json::to_string_pretty(&job.args).unwrap_or_default();
    for (label, value) in [
        ("id", job.id.to_string()),
        ("state", job.state.to_owned()),
        ("worker", job.worker.clone()),
        ("queue", job.queue.clone()),
        ("priority", job.priority.to_string()),
        ("attempt", format!("{} of {}", job.attempt, job.max_attempts)),
        ("run at", time(Some(job.run_at))),
        ("created", time(Some(job.created_at))),
        ("finished", time(job.finished_at)),
        ("runner", job.lease_owner.clone().unwrap_or_else(|| "-".into())),
        ("unique key", job.unique_key.clone().unwrap_or_else(|| "-".into())),
        ("last error", job.last_error.clone().unwrap_or_else(|| "-".into())),
        ("args", job.args_error.clone().unwrap_or(args)),
    ] {
        out.line(format!("{label:<11} {value}"))?;
    }
    if let (Some(at), Some(reason)) = (view.cancel_requested_at, &view.cancel_reason) {
        out.line(format!("cancel      requested {} ({reason})", time(Some(at))))?;
    }
    let mut attempts = Table::new(&["ATTEMPT", "RUNNER", "STARTED", "FINISHED", "OUTCOME", "ERROR"]);
    for a in &view.attempts {
        attempts.row(vec![
            a.attempt.to_string(),
            a.runner.as_ref().map_or_else(|| "-".into(), |r| r.to_string()),
            time(a.started_at),
            time(a.finished_at),
            a.outcome.as_str().to_owned(),
            short(a.error.as_deref(), 60),
        ]);
    }
    out.line("")?;
    out.table(&attempts, "no attempts yet")
}

/// `jobs retry|cancel|delete|run-now`: on the given ids, or in bulk on the jobs matching the
/// filters (or `--all`), which needs `--yes` (or `--dry-run` to only count).
///
/// # Errors
/// Ids with filters (usage); an unknown id or one the action does not apply to (nothing
/// changed); a bulk action without `--yes`; a store failure.
pub async fn act(
    admin: &dyn QueueAdmin,
    args: &ActionArgs,
    action: JobAction,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    let name = action.name();
    if !args.ids.is_empty() {
        if args.all || !filter::is_empty(&args.filter) {
            return Err(CliError::usage(format!(
                "give `jobs {name}` job ids, or filters / --all, not both"
            )));
        }
        return act_on_ids(admin, &args.ids, &action, out).await;
    }
    let query = filter::query(admin, &args.filter).await?;
    let selection = match (args.all, query.is_empty()) {
        (true, true) => JobSelection::All,
        (true, false) => return Err(CliError::usage("--all takes no filters: drop one or the other")),
        (false, true) => {
            return Err(CliError::usage(format!(
                "`jobs {name}` needs job ids, filters (--state, --queue, --worker, ...) or --all"
            )));
        }
        (false, false) => JobSelection::Matching(query.clone()),
    };
    let preview = admin.apply_bulk(&selection, &action, true, None).await?;
    if args.dry_run || !args.yes {
        if out.json {
            out.json(&ActionView::bulk(name, &preview))?;
        } else {
            out.line(format!("{name} would touch {} job(s)", preview.touched))?;
            print_preview(admin, &query, &action, preview.touched, out).await?;
        }
        if args.dry_run || preview.touched == 0 {
            return Ok(());
        }
        return Err(CliError::NeedsConfirmation {
            action: name,
            count: preview.touched,
        });
    }
    let done = admin.apply_bulk(&selection, &action, false, None).await?;
    let view = ActionView::bulk(name, &done);
    let requested = match done.cancel_requested {
        0 => String::new(),
        n => format!(" ({n} running: cancellation requested)"),
    };
    out.either(&view, format!("{name}: {} job(s) touched{requested}", done.touched))
}

/// The first jobs of a bulk action's selection, oldest first.
async fn print_preview(
    admin: &dyn QueueAdmin,
    query: &JobQuery,
    action: &JobAction,
    touched: u64,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    if touched == 0 {
        return Ok(());
    }
    let mut query = query.clone();
    query.states = if query.states.is_empty() {
        action.states().to_vec()
    } else {
        query.states.into_iter().filter(|s| action.applies_to(*s)).collect()
    };
    let page = admin
        .list_jobs(&query, &PageRequest::first(PREVIEW_ROWS).oldest_first())
        .await?;
    out.table(&job_table(&page.jobs), "")?;
    if touched > page.jobs.len() as u64 {
        out.line(format!("... and {} more", touched - page.jobs.len() as u64))?;
    }
    Ok(())
}

/// Apply `action` to each id, after checking all of them: an unknown id, or one the action
/// does not apply to, changes nothing at all.
async fn act_on_ids(
    admin: &dyn QueueAdmin,
    ids: &[i64],
    action: &JobAction,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    for &id in ids {
        let id = JobId(id);
        let job = admin.get(id).await?.ok_or(AdminError::UnknownJob { id })?;
        if !action.applies_to(job.state) {
            return Err(AdminError::NotApplicable {
                id,
                action: action.name(),
                state: job.state,
            }
            .into());
        }
    }
    let mut view = ActionView {
        action: action.name(),
        touched: 0,
        cancel_requested: 0,
        dry_run: false,
        ids: Vec::new(),
    };
    let mut lines = Vec::new();
    for &id in ids {
        let outcome = admin.apply_to_job(JobId(id), action, None).await?;
        lines.push(match outcome {
            ActionOutcome::CancelRequested => {
                view.cancel_requested += 1;
                format!("job {id}: cancellation requested; it ends cancelled once its runner stops it")
            }
            ActionOutcome::Unchanged => format!("job {id}: already due, unchanged"),
            _ => format!("job {id}: {}", done_word(action)),
        });
        if outcome != ActionOutcome::Unchanged {
            view.touched += 1;
            view.ids.push(id);
        }
    }
    out.either(&view, lines.join("\n"))
}

fn done_word(action: &JobAction) -> &'static str {
    match action {
        JobAction::Retry => "queued again",
        JobAction::Cancel { .. } => "cancelled",
        JobAction::Delete => "deleted",
        JobAction::RunNow => "due now",
    }
}

/// What `jobs enqueue` prints with `--json`.
#[derive(Debug, Serialize)]
struct Enqueued {
    id: i64,
    worker: String,
    queue: String,
}

/// `jobs enqueue WORKER --args JSON`: put a job on the queue. Refused (unless `--force`)
/// when no live runner has the worker: it would wait forever, often because of a typo.
///
/// # Errors
/// Malformed JSON, a bad time, an invalid job, an unknown worker; a store failure.
pub async fn enqueue(admin: &dyn QueueAdmin, args: &EnqueueArgs, out: &mut Output<'_>) -> Result<(), CliError> {
    let value = parse_json("--args", &args.args)?;
    let mut job = NewJob::new(args.worker.clone(), &value).map_err(|e| CliError::bad_input(e.to_string()))?;
    if let Some(queue) = &args.queue {
        job = job.queue(queue.clone());
    }
    if let Some(priority) = args.priority {
        job = job.priority(priority);
    }
    if let Some(max) = args.max_attempts {
        job = job.max_attempts(max);
    }
    if let Some(at) = &args.at {
        let later = |now, d| now + d;
        job = job.run_at(parse_time("--at", at, admin.now().await?, later)?);
    }
    job.validate().map_err(|e| CliError::bad_input(e.to_string()))?;
    if !args.force {
        check_worker(admin, &args.worker).await?;
    }
    let queue = job.queue.clone();
    let id = admin.enqueue(job, None).await?;
    let view = Enqueued {
        id: id.0,
        worker: args.worker.clone(),
        queue: queue.clone(),
    };
    out.either(&view, format!("enqueued job {id} ({} on {queue})", args.worker))
}

/// Refuse a worker no live runner has.
async fn check_worker(admin: &dyn QueueAdmin, worker: &str) -> Result<(), CliError> {
    let runners = admin.list_runners(None).await?;
    let mut known: Vec<&str> = runners
        .iter()
        .filter(|r| !r.stale)
        .flat_map(|r| r.info.workers.iter().map(String::as_str))
        .collect();
    if known.contains(&worker) {
        return Ok(());
    }
    known.sort_unstable();
    known.dedup();
    let have = if known.is_empty() {
        "no live runner is registered".to_owned()
    } else {
        format!("live runners have {}", known.join(", "))
    };
    Err(CliError::bad_input(format!(
        "no live runner has worker {worker:?} ({have}); check the name, or pass --force to enqueue it anyway"
    )))
}
