//! The fenced writes to running jobs: finish, revive and heartbeat, each one statement for a
//! whole batch, applied only where `state = 'running' AND attempt = $token.attempt AND
//! lease_owner = $token.runner_id`.

use std::collections::HashSet;
use std::time::Duration;

use backtick_core::{ClaimToken, Finish, FinishReport, JobId, RunAt, StoreError, Timestamp, Transition};
use sqlx::{PgPool, Row};

use crate::enqueue::micros;
use crate::error::store_error;
use crate::sql;

/// Apply `finishes` with `statement` ([`sql::FINISH`] or [`sql::REVIVE`]); the statement
/// returns the 1-based input positions that took effect, every other one is stale.
pub(crate) async fn apply(
    pool: &PgPool,
    statement: &'static str,
    finishes: &[Finish],
    now: Option<Timestamp>,
) -> Result<FinishReport, StoreError> {
    if finishes.is_empty() {
        return Ok(FinishReport::default());
    }
    let c = Columns::from(finishes);
    let rows = sqlx::query(statement)
        .bind(now)
        .bind(c.id)
        .bind(c.attempt)
        .bind(c.owner)
        .bind(c.target)
        .bind(c.run_at)
        .bind(c.delay_us)
        .bind(c.error)
        .bind(c.refund)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    let applied: HashSet<i64> = rows
        .iter()
        .map(|row| row.try_get::<i64, _>("ord"))
        .collect::<Result<_, _>>()
        .map_err(store_error)?;
    let mut report = FinishReport::default();
    for (ord, finish) in (1_i64..).zip(finishes) {
        if applied.contains(&ord) {
            report.applied.push(finish.token.job_id);
        } else {
            report.stale.push(finish.token.clone());
        }
    }
    Ok(report)
}

/// Extend the lease of each live token; returns their job ids in input order.
pub(crate) async fn heartbeat(
    pool: &PgPool,
    tokens: &[ClaimToken],
    lease_ttl: Duration,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = tokens.iter().map(|t| t.job_id.0).collect();
    let attempts: Vec<i32> = tokens.iter().map(|t| t.attempt).collect();
    let owners: Vec<&str> = tokens.iter().map(|t| t.runner_id.as_str()).collect();
    let rows = sqlx::query(sql::HEARTBEAT)
        .bind(now)
        .bind(ids)
        .bind(attempts)
        .bind(owners)
        .bind(micros(lease_ttl))
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|row| row.try_get::<i64, _>("job_id").map(JobId).map_err(store_error))
        .collect()
}

/// The finishes as one array per column, for `unnest`.
#[derive(Default)]
struct Columns<'a> {
    id: Vec<i64>,
    attempt: Vec<i32>,
    owner: Vec<&'a str>,
    target: Vec<&'static str>,
    run_at: Vec<Option<Timestamp>>,
    delay_us: Vec<Option<i64>>,
    error: Vec<Option<&'a str>>,
    refund: Vec<bool>,
}

impl<'a> From<&'a [Finish]> for Columns<'a> {
    fn from(finishes: &'a [Finish]) -> Self {
        let mut c = Columns::default();
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
