//! Completing a job inside the worker's own database transaction: the job's `done` commits
//! with the worker's writes, or neither does. The backend crates run the fenced write on the
//! worker's transaction (`backtick_postgres::complete_in`, `backtick_diesel::complete_in`);
//! what that write is, and what its report means, is decided here.

use crate::error::StoreError;
use crate::job::ClaimToken;
use crate::state::{Finish, Outcome, Transition, transition_for};
use crate::store::FinishReport;
use crate::worker::JobContext;

/// A completion inside the worker's transaction that must not commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompletionError {
    /// The claim is no longer live: the job was revived (its lease ran out), cancelled, or
    /// claimed again. Nothing was written; roll the transaction back (return the error from
    /// the worker with `?`), so that the writes are not done twice.
    #[error(
        "the claim {0} is stale (the job was revived, cancelled or claimed again): its completion was not \
         written; roll the transaction back so that its writes do not happen twice"
    )]
    Stale(ClaimToken),
    /// The context has no claim: the job is not running (a context built by hand, say).
    #[error(
        "job {0} is not running under a claim, so it cannot be completed in a transaction; complete_in works \
         inside a worker's run"
    )]
    NoClaim(crate::job::JobId),
    /// The store failed; the transaction is in an unknown state: roll it back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The fenced write completing the run of `ctx`: done, under its claim token.
///
/// # Errors
/// [`CompletionError::NoClaim`] when the job is not running under a claim.
pub fn completion_of(ctx: &JobContext) -> Result<Finish, CompletionError> {
    let token = ctx.claim_token().ok_or(CompletionError::NoClaim(ctx.job().id))?;
    Ok(Finish {
        token,
        transition: Transition::Done,
    })
}

/// What the fenced write `finish` reported: on success `ctx` is marked completed
/// ([`JobContext::mark_completed`]), so that the runner writes no second completion.
///
/// # Errors
/// [`CompletionError::Stale`] when the write was not applied.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{FinishReport, JobContext, completed, completion_of, worker_fn};
/// # let job = backtick_testkit::assert::test_job(&worker_fn("w", |_: JobContext, (): ()| async { Ok(()) }), &());
/// let ctx = JobContext::new(job, Default::default());
/// let finish = completion_of(&ctx)?;
/// let applied = FinishReport { applied: vec![finish.token.job_id], stale: Vec::new() };
/// completed(&ctx, &finish, &applied)?;
/// assert!(ctx.is_completed());
/// # Ok::<(), backtick_postgres::CompletionError>(())
/// ```
pub fn completed(ctx: &JobContext, finish: &Finish, report: &FinishReport) -> Result<(), CompletionError> {
    if report.applied.contains(&finish.token.job_id) {
        ctx.mark_completed();
        Ok(())
    } else {
        Err(CompletionError::Stale(finish.token.clone()))
    }
}

/// A failure of the run of `ctx` to record inside the worker's own transaction: the outcome
/// and the fenced write for it. The write is the state machine's transition for a failed
/// attempt ([`transition_for`] with [`Outcome::Failed`]), the same one the runner applies when
/// a worker returns an error: queued again after the context's backoff
/// ([`JobContext::retry_policy`]) while attempts remain, else dead.
///
/// # Errors
/// [`CompletionError::NoClaim`] when the job is not running under a claim.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, Transition, failure_of, worker_fn};
/// # let job = backtick_testkit::assert::test_job(&worker_fn("w", |_: JobContext, (): ()| async { Ok(()) }), &());
/// let ctx = JobContext::new(job, Default::default());
/// let (_outcome, finish) = failure_of(&ctx, "the upstream refused")?;
/// assert!(matches!(finish.transition, Transition::Queued { .. } | Transition::Dead { .. }));
/// # Ok::<(), backtick_postgres::CompletionError>(())
/// ```
pub fn failure_of(ctx: &JobContext, reason: impl Into<String>) -> Result<(Outcome, Finish), CompletionError> {
    let token = ctx.claim_token().ok_or(CompletionError::NoClaim(ctx.job().id))?;
    let outcome = Outcome::Failed { error: reason.into() };
    let transition = transition_for(
        &outcome,
        token.attempt,
        ctx.job().max_attempts,
        ctx.retry_policy(),
        rand::random::<f64>(),
    );
    Ok((outcome, Finish { token, transition }))
}

/// What the fenced write `finish` of the failure `outcome` reported: on success `ctx` records
/// the failure ([`JobContext::mark_failed`]), so that the runner writes no second finish once
/// the worker returns `Ok`.
///
/// # Errors
/// [`CompletionError::Stale`] when the write was not applied.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{FinishReport, JobContext, failed, failure_of, worker_fn};
/// # let job = backtick_testkit::assert::test_job(&worker_fn("w", |_: JobContext, (): ()| async { Ok(()) }), &());
/// let ctx = JobContext::new(job, Default::default());
/// let (outcome, finish) = failure_of(&ctx, "boom")?;
/// let applied = FinishReport { applied: vec![finish.token.job_id], stale: Vec::new() };
/// failed(&ctx, outcome, &finish, &applied)?;
/// assert!(ctx.recorded_failure().is_some());
/// # Ok::<(), backtick_postgres::CompletionError>(())
/// ```
pub fn failed(
    ctx: &JobContext,
    outcome: Outcome,
    finish: &Finish,
    report: &FinishReport,
) -> Result<(), CompletionError> {
    if report.applied.contains(&finish.token.job_id) {
        ctx.mark_failed(outcome, finish.transition.clone());
        Ok(())
    } else {
        Err(CompletionError::Stale(finish.token.clone()))
    }
}
