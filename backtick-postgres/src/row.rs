//! Reading a `backtick_jobs` row into a [`Job`].

use backtick_core::{Job, JobId, RunnerId, StoreError, Timestamp};
use backtick_pg_common::decode;
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

/// Decode one job. A value that does not decode, or an unknown state or codec name, is
/// [`StoreError::Corrupt`] naming the job (when its id decodes).
pub(crate) fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    let id = JobId(column(row, None, "id")?);
    let known = Some(id);
    let state: String = column(row, known, "state")?;
    let codec: String = column(row, known, "codec")?;
    let lease_owner: Option<String> = column(row, known, "lease_owner")?;
    Ok(Job {
        id,
        worker: column(row, known, "worker")?,
        queue: column(row, known, "queue")?,
        args: column(row, known, "args")?,
        codec: decode::codec(id, &codec)?,
        priority: column(row, known, "priority")?,
        state: decode::state(id, &state)?,
        attempt: column(row, known, "attempt")?,
        max_attempts: column(row, known, "max_attempts")?,
        run_at: column::<Timestamp>(row, known, "run_at")?,
        lease_owner: lease_owner.map(RunnerId::new),
        lease_expires_at: column(row, known, "lease_expires_at")?,
        last_error: column(row, known, "last_error")?,
        unique_key: column(row, known, "unique_key")?,
        trace_context: column(row, known, "trace_context")?,
        created_at: column(row, known, "created_at")?,
        updated_at: column(row, known, "updated_at")?,
        finished_at: column(row, known, "finished_at")?,
    })
}

/// Decode every row, failing on the first corrupt one.
pub(crate) fn jobs_from_rows(rows: &[PgRow]) -> Result<Vec<Job>, StoreError> {
    rows.iter().map(job_from_row).collect()
}

fn column<'r, T: Decode<'r, Postgres> + Type<Postgres>>(
    row: &'r PgRow,
    job_id: Option<JobId>,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get(name)
        .map_err(|e| decode::corrupt(job_id, format!("column {name}: {e}")))
}
