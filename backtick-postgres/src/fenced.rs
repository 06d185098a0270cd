//! The fenced writes to running jobs: finish, revive and heartbeat, each one statement for a
//! whole batch, applied only where `state = 'running' AND attempt = $token.attempt AND
//! lease_owner = $token.runner_id`. The columns and the report come from
//! [`backtick_pg_common::fenced`]; this file binds and decodes them with sqlx.

use std::collections::HashSet;
use std::time::Duration;

use backtick_core::{ClaimToken, Finish, FinishReport, JobId, StoreError, Timestamp};
use backtick_pg_common::fenced::{FinishColumns, TokenColumns, finish_report};
use backtick_pg_common::micros;
use sqlx::{PgConnection, Row};

use crate::error::store_error;
use crate::sql;

/// Apply `finishes` with `statement` ([`sql::FINISH`] or [`sql::REVIVE`]); the statement
/// returns the 1-based input positions that took effect, every other one is stale.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    statement: &'static str,
    finishes: &[Finish],
    now: Option<Timestamp>,
) -> Result<FinishReport, StoreError> {
    if finishes.is_empty() {
        return Ok(FinishReport::default());
    }
    let c = FinishColumns::from(finishes);
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
        .fetch_all(conn)
        .await
        .map_err(store_error)?;
    let applied: HashSet<i64> = rows
        .iter()
        .map(|row| row.try_get::<i64, _>("ord"))
        .collect::<Result<_, _>>()
        .map_err(store_error)?;
    Ok(finish_report(finishes, &applied))
}

/// Extend the lease of each live token; returns their job ids in input order.
pub(crate) async fn heartbeat(
    conn: &mut PgConnection,
    tokens: &[ClaimToken],
    lease_ttl: Duration,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let c = TokenColumns::from(tokens);
    let rows = sqlx::query(sql::HEARTBEAT)
        .bind(now)
        .bind(c.id)
        .bind(c.attempt)
        .bind(c.owner)
        .bind(micros(lease_ttl))
        .fetch_all(conn)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|row| row.try_get::<i64, _>("job_id").map(JobId).map_err(store_error))
        .collect()
}
