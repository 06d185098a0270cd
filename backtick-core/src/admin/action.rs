//! Operator actions on jobs (retry, cancel, delete, run now), on one job or in bulk, and the
//! bulk loop every store shares: pages of [`BULK_BATCH_SIZE`] jobs, oldest first, each page
//! acted on with one store call.

use crate::admin::QueueAdmin;
use crate::admin::error::AdminError;
use crate::admin::page::{Order, PageRequest};
use crate::admin::query::{JobQuery, JobSelection};
use crate::job::{Job, JobId, JobState, Timestamp};

/// A bulk action examines and acts on at most this many jobs per store call (one page of the
/// selection, then one write), so it never holds many row locks or runs one long statement.
pub const BULK_BATCH_SIZE: u32 = 1_000;

/// What an operator does to a job.
///
/// | action | applies to | effect |
/// |---|---|---|
/// | `Retry` | dead, cancelled | queued, due now, one more attempt if all were used (as [`crate::QueueStore::retry`]) |
/// | `Cancel` | queued | cancelled at once, `reason` as `last_error` |
/// | `Cancel` | running | a cancellation request: its runner stops the work and the job ends `cancelled` (see [`crate::admin::QueueAdmin`]) |
/// | `Delete` | queued, done, dead, cancelled | the row is deleted (a running job must be cancelled first) |
/// | `RunNow` | queued | due now if it was due later; a job already due is left as it is |
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobState;
/// use backtick_postgres::admin::JobAction;
/// assert!(JobAction::Retry.applies_to(JobState::Dead));
/// assert!(!JobAction::Retry.applies_to(JobState::Running));
/// assert_eq!(JobAction::cancel("duplicate").name(), "cancel");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobAction {
    /// Put a dead or cancelled job back on the queue.
    Retry,
    /// Cancel a queued job, or ask for a running one to be cancelled.
    Cancel {
        /// Recorded as the job's `last_error`.
        reason: String,
    },
    /// Delete a job that is not running.
    Delete,
    /// Make a queued job due now.
    RunNow,
}

impl JobAction {
    /// A [`JobAction::Cancel`] with `reason`.
    pub fn cancel(reason: impl Into<String>) -> Self {
        JobAction::Cancel { reason: reason.into() }
    }

    /// The action's name in messages and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            JobAction::Retry => "retry",
            JobAction::Cancel { .. } => "cancel",
            JobAction::Delete => "delete",
            JobAction::RunNow => "run-now",
        }
    }

    /// The states the action applies to.
    pub fn states(&self) -> &'static [JobState] {
        match self {
            JobAction::Retry => &[JobState::Dead, JobState::Cancelled],
            JobAction::Cancel { .. } => &[JobState::Queued, JobState::Running],
            JobAction::Delete => &[JobState::Queued, JobState::Done, JobState::Dead, JobState::Cancelled],
            JobAction::RunNow => &[JobState::Queued],
        }
    }

    /// True when the action applies to a job in `state`.
    pub fn applies_to(&self, state: JobState) -> bool {
        self.states().contains(&state)
    }
}

/// What [`QueueAdmin::apply_to_jobs`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionReport {
    /// The jobs the action changed, in the order given (for a cancel, the queued jobs it
    /// cancelled).
    pub applied: Vec<JobId>,
    /// The running jobs whose cancellation it requested (a cancel only).
    pub cancel_requested: Vec<JobId>,
}

impl ActionReport {
    /// How many jobs the action touched: changed, or asked to cancel.
    pub fn touched(&self) -> u64 {
        (self.applied.len() + self.cancel_requested.len()) as u64
    }
}

/// What [`QueueAdmin::apply_to_job`] did to the one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionOutcome {
    /// The action took effect.
    Applied,
    /// The job is running: its cancellation was requested (now, or earlier and still
    /// pending). It ends `cancelled` once its runner stops it.
    CancelRequested,
    /// Nothing to do: a run-now of a job already due.
    Unchanged,
}

/// What a bulk action ([`QueueAdmin::apply_bulk`]) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// Jobs touched (or, in a dry run, that would have been): changed or asked to cancel.
    pub touched: u64,
    /// Of those, running jobs whose cancellation was requested.
    pub cancel_requested: u64,
    /// Store calls that acted on a page of jobs.
    pub batches: u32,
    /// True when nothing was changed: only counted.
    pub dry_run: bool,
}

/// How often [`apply_one`] acts again on a job that changed state under it.
const RACE_RETRIES: usize = 3;

/// [`QueueAdmin::apply_to_job`]: read the job, refuse with a typed error, act on it alone.
/// A job that changed state between the read and the write (a queued job claimed meanwhile,
/// say) is read again and acted on again.
pub(crate) async fn apply_one<S: QueueAdmin + ?Sized>(
    store: &S,
    id: JobId,
    action: &JobAction,
    now: Option<Timestamp>,
) -> Result<ActionOutcome, AdminError> {
    applicable(store.get(id).await?, id, action)?;
    for _ in 0..RACE_RETRIES {
        let report = store.apply_to_jobs(&[id], action, now).await?;
        if report.cancel_requested.contains(&id) {
            return Ok(ActionOutcome::CancelRequested);
        }
        if report.applied.contains(&id) {
            return Ok(ActionOutcome::Applied);
        }
        // Untouched: nothing to do, or the job changed state since it was read.
        let job = applicable(store.get(id).await?, id, action)?;
        match (action, job.state) {
            (JobAction::Cancel { .. }, JobState::Running) => {
                if !store.cancel_requests(&[id]).await?.is_empty() {
                    return Ok(ActionOutcome::CancelRequested);
                }
            }
            (JobAction::Cancel { .. }, JobState::Queued) => {}
            _ => return Ok(ActionOutcome::Unchanged),
        }
    }
    Ok(ActionOutcome::Unchanged)
}

fn applicable(job: Option<Job>, id: JobId, action: &JobAction) -> Result<Job, AdminError> {
    let job = job.ok_or(AdminError::UnknownJob { id })?;
    if !action.applies_to(job.state) {
        return Err(AdminError::NotApplicable {
            id,
            action: action.name(),
            state: job.state,
        });
    }
    Ok(job)
}

/// [`QueueAdmin::apply_bulk`]: page through the selection, oldest first, [`BULK_BATCH_SIZE`]
/// jobs examined per page, among the jobs that existed when it began and are in a state the
/// action applies to; act on each page's jobs with one [`QueueAdmin::apply_to_jobs`].
pub(crate) async fn apply_bulk<S: QueueAdmin + ?Sized>(
    store: &S,
    selection: &JobSelection,
    action: &JobAction,
    dry_run: bool,
    now: Option<Timestamp>,
) -> Result<BulkReport, AdminError> {
    let mut report = BulkReport {
        dry_run,
        ..BulkReport::default()
    };
    let Some(query) = bulk_query(store, selection.query(action.name())?, action).await? else {
        return Ok(report);
    };
    // A dry run decides "due later" itself, so it needs a time; a real run leaves that to the
    // store (its clock when `now` is `None`).
    let dry_now = match (dry_run, now) {
        (false, _) => None,
        (true, Some(now)) => Some(now),
        (true, None) => Some(store.now().await?),
    };
    let mut page = PageRequest {
        order: Order::OldestFirst,
        limit: BULK_BATCH_SIZE,
        scan_limit: BULK_BATCH_SIZE,
        ..PageRequest::default()
    };
    loop {
        let found = store.list_jobs(&query, &page).await?;
        if !found.jobs.is_empty() {
            report.batches += 1;
            let (touched, requested) = match dry_now {
                Some(at) => would_touch(store, &found.jobs, action, at).await?,
                None => {
                    let ids: Vec<JobId> = found.jobs.iter().map(|job| job.id).collect();
                    let done = store.apply_to_jobs(&ids, action, now).await?;
                    (done.touched(), done.cancel_requested.len() as u64)
                }
            };
            report.touched += touched;
            report.cancel_requested += requested;
        }
        match found.next {
            Some(next) => page.cursor = Some(next),
            None => return Ok(report),
        }
    }
}

/// The selection's query narrowed to the action's states and to the jobs that exist now;
/// `None` when nothing can match.
async fn bulk_query<S: QueueAdmin + ?Sized>(
    store: &S,
    mut query: JobQuery,
    action: &JobAction,
) -> Result<Option<JobQuery>, AdminError> {
    query.states = if query.states.is_empty() {
        action.states().to_vec()
    } else {
        query.states.into_iter().filter(|s| action.applies_to(*s)).collect()
    };
    if query.states.is_empty() {
        return Ok(None);
    }
    let newest = store.list_jobs(&JobQuery::default(), &PageRequest::first(1)).await?;
    let Some(newest) = newest.jobs.first() else {
        return Ok(None);
    };
    query.up_to_id = Some(query.up_to_id.map_or(newest.id, |max| max.min(newest.id)));
    Ok(Some(query))
}

/// What a dry run counts in one page: (touched, cancellations requested).
async fn would_touch<S: QueueAdmin + ?Sized>(
    store: &S,
    jobs: &[Job],
    action: &JobAction,
    now: Timestamp,
) -> Result<(u64, u64), AdminError> {
    let touched = |job: &&Job| match action {
        JobAction::RunNow => job.run_at > now,
        _ => action.applies_to(job.state),
    };
    let jobs: Vec<&Job> = jobs.iter().filter(touched).collect();
    let JobAction::Cancel { .. } = action else {
        return Ok((jobs.len() as u64, 0));
    };
    let running: Vec<JobId> = jobs
        .iter()
        .filter(|job| job.state == JobState::Running)
        .map(|job| job.id)
        .collect();
    let already = store.cancel_requests(&running).await?.len();
    let requested = (running.len() - already.min(running.len())) as u64;
    Ok((jobs.len() as u64 - already as u64, requested))
}
