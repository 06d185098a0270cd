//! The fenced writes to running jobs: finish, revive and heartbeat, each one statement for a
//! whole batch, applied only where `state = 'running' AND attempt = $token.attempt AND
//! lease_owner = $token.runner_id`. The columns and the report come from
//! [`backtick_pg_common::fenced`]; this file binds and decodes them with diesel.

use std::collections::HashSet;
use std::time::Duration;

use backtick_core::{ClaimToken, Finish, FinishReport, JobId, StoreError, Timestamp};
use backtick_pg_common::fenced::{FinishColumns, TokenColumns, finish_report};
use backtick_pg_common::micros;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::store_error;
use crate::row::{HeartbeatRow, Ord};
use crate::sql;
use crate::store::DieselStore;

/// Apply `finishes` with `statement` ([`sql::FINISH`] or [`sql::REVIVE`]); the statement
/// returns the 1-based input positions that took effect, every other one is stale.
pub(crate) async fn apply(
    store: &DieselStore,
    statement: &'static str,
    finishes: &[Finish],
    now: Option<Timestamp>,
) -> Result<FinishReport, StoreError> {
    if finishes.is_empty() {
        return Ok(FinishReport::default());
    }
    apply_on(&mut *store.lifeline_conn().await?, statement, finishes, now).await
}

/// [`apply`] on the caller's connection (inside its transaction, for `complete_in`).
pub(crate) async fn apply_on(
    conn: &mut AsyncPgConnection,
    statement: &'static str,
    finishes: &[Finish],
    now: Option<Timestamp>,
) -> Result<FinishReport, StoreError> {
    let c = FinishColumns::from(finishes);
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
    Ok(finish_report(finishes, &applied))
}

/// Extend the lease of each live token; returns their job ids in input order.
pub(crate) async fn heartbeat(
    store: &DieselStore,
    tokens: &[ClaimToken],
    lease_ttl: Duration,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let c = TokenColumns::from(tokens);
    let rows: Vec<HeartbeatRow> = diesel::sql_query(sql::HEARTBEAT)
        .bind::<Nullable<Timestamptz>, _>(now)
        .bind::<Array<BigInt>, _>(c.id)
        .bind::<Array<Integer>, _>(c.attempt)
        .bind::<Array<Text>, _>(c.owner)
        .bind::<BigInt, _>(micros(lease_ttl))
        .load(&mut *store.lifeline_conn().await?)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|row| JobId(row.job_id)).collect())
}
