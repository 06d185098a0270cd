//! The fenced writes to running jobs (finish, revive, heartbeat), less the driver: each batch
//! as the columns [`crate::admin_sql::FINISH`], [`crate::admin_sql::REVIVE`] and [`crate::sql::HEARTBEAT`]
//! take, and the [`FinishReport`] from the rows a finish or revive returned. A backend binds
//! the columns with its driver's types and decodes the rows.

use std::collections::HashSet;

use backtick_core::{ClaimToken, Finish, FinishReport, RunAt, Timestamp, Transition};

use crate::interval::micros;

/// A batch of finishes (or revivals) as one array per column, in input order, for `unnest`.
/// Borrows the strings of the finishes, so building it copies no text.
#[derive(Debug, Default)]
pub struct FinishColumns<'a> {
    /// `$2` job ids.
    pub id: Vec<i64>,
    /// `$3` the claim tokens' attempts.
    pub attempt: Vec<i32>,
    /// `$4` the claim tokens' runner ids.
    pub owner: Vec<&'a str>,
    /// `$5` target states.
    pub target: Vec<&'static str>,
    /// `$6` the next run of a requeued job given as a time, else NULL.
    pub run_at: Vec<Option<Timestamp>>,
    /// `$7` the next run of a requeued job given as a delay in microseconds, else NULL.
    pub delay_us: Vec<Option<i64>>,
    /// `$8` the error or reason to record; NULL keeps the stored one.
    pub error: Vec<Option<&'a str>>,
    /// `$9` whether the attempt is given back (snooze, release).
    pub refund: Vec<bool>,
}

impl<'a> From<&'a [Finish]> for FinishColumns<'a> {
    fn from(finishes: &'a [Finish]) -> Self {
        let mut c = FinishColumns::default();
        for Finish { token, transition } in finishes {
            let (target, run_at, error, refund) = match transition {
                Transition::Done => ("done", None, None, false),
                Transition::Queued {
                    run_at,
                    error,
                    refund_attempt,
                } => ("queued", Some(*run_at), error.as_deref(), *refund_attempt),
                Transition::Dead { error } => ("dead", None, Some(error.as_str()), false),
                Transition::Cancelled { reason } => ("cancelled", None, Some(reason.as_str()), false),
            };
            let (at, delay) = match run_at {
                Some(RunAt::At(at)) => (Some(at), None),
                Some(RunAt::After(after)) => (None, Some(micros(after))),
                None => (None, None),
            };
            c.id.push(token.job_id.0);
            c.attempt.push(token.attempt);
            c.owner.push(token.runner_id.as_str());
            c.target.push(target);
            c.run_at.push(at);
            c.delay_us.push(delay);
            c.error.push(error);
            c.refund.push(refund);
        }
        c
    }
}

/// Claim tokens as one array per column, in input order, for [`crate::sql::HEARTBEAT`].
#[derive(Debug)]
pub struct TokenColumns<'a> {
    /// `$2` job ids.
    pub id: Vec<i64>,
    /// `$3` attempts.
    pub attempt: Vec<i32>,
    /// `$4` runner ids.
    pub owner: Vec<&'a str>,
}

impl<'a> From<&'a [ClaimToken]> for TokenColumns<'a> {
    fn from(tokens: &'a [ClaimToken]) -> Self {
        TokenColumns {
            id: tokens.iter().map(|t| t.job_id.0).collect(),
            attempt: tokens.iter().map(|t| t.attempt).collect(),
            owner: tokens.iter().map(|t| t.runner_id.as_str()).collect(),
        }
    }
}

/// The report of a finish or revive: `applied` holds the 1-based input positions the
/// statement returned (`RETURNING i.ord`); every other finish's token was stale.
///
/// # Examples
/// ```
/// use std::collections::HashSet;
/// use backtick_core::{ClaimToken, Finish, JobId, RunnerId, Transition};
/// use backtick_pg_common::finish_report;
///
/// let token = |id| ClaimToken { job_id: JobId(id), attempt: 1, runner_id: RunnerId::new("r") };
/// let finishes = [Finish { token: token(7), transition: Transition::Done }, Finish { token: token(8), transition: Transition::Done }];
/// let report = finish_report(&finishes, &HashSet::from([2]));
/// assert_eq!(report.applied, vec![JobId(8)]);
/// assert_eq!(report.stale, vec![token(7)]);
/// ```
pub fn finish_report(finishes: &[Finish], applied: &HashSet<i64>) -> FinishReport {
    let mut report = FinishReport::default();
    for (ord, finish) in (1_i64..).zip(finishes) {
        if applied.contains(&ord) {
            report.applied.push(finish.token.job_id);
        } else {
            report.stale.push(finish.token.clone());
        }
    }
    report
}
