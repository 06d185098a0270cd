//! The fenced writes to running jobs: finish, revive and heartbeat, each one statement for a
//! whole batch, applied only where `state = 'running' AND attempt = $token.attempt AND
//! lease_owner = $token.runner_id`.

use std::collections::HashSet;
use std::time::Duration;

use backtick_core::{ClaimToken, Finish, FinishReport, JobId, RunAt, StoreError, Timestamp, Transition};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::enqueue::micros;
use crate::error::store_error;
use crate::row::{HeartbeatRow, Ord};
use crate::sql;

/// Apply `finishes` with `statement` ([`sql::FINISH`] or [`sql::REVIVE`]); the statement
/// returns the 1-based input positions that took effect, every other one is stale.
pub(crate) async fn apply(
    conn: &mut AsyncPgConnection,
    statement: &'static str,
    finishes: &[Finish],
    now: Option<Timestamp>,
) -> Result<FinishReport, StoreError> {
    let c = Columns::from(finishes);
    let rows: Vec<Ord> = diesel::sql_query(statement)
        .bind::<Nullable<Timestamptz>, _>(now)
        .bind::<Array<BigInt>, _>(c.id)
        .bind::<Array<Integer>, _>(c.attempt)
        .bind::<Array<Text>, _>(c.owner)
        .bind::<Array<Text>, _>(c.target)
        .bind::<Array<Nullable<Timestamptz>>, _>(c.run_at)
        .bind::<Array<Nullable<BigInt>>, _>(c.delay_us)
        .bind::<Array<Nullable<Text>>, _>(c.error)
        .bind::<Array<Bool>, _>(c.refund)
        .load(conn)
        .await
        .map_err(store_error)?;
    let applied: HashSet<i64> = rows.into_iter().map(|row| row.ord).collect();
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
    conn: &mut AsyncPgConnection,
    tokens: &[ClaimToken],
    lease_ttl: Duration,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    let ids: Vec<i64> = tokens.iter().map(|t| t.job_id.0).collect();
    let attempts: Vec<i32> = tokens.iter().map(|t| t.attempt).collect();
    let owners: Vec<&str> = tokens.iter().map(|t| t.runner_id.as_str()).collect();
    let rows: Vec<HeartbeatRow> = diesel::sql_query(sql::HEARTBEAT)
        .bind::<Nullable<Timestamptz>, _>(now)
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Array<Integer>, _>(attempts)
        .bind::<Array<Text>, _>(owners)
        .bind::<BigInt, _>(micros(lease_ttl))
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|row| JobId(row.job_id)).collect())
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
