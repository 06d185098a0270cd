//! Reading a `backtick_jobs` row into a [`Job`].

use backtick_core::{Codec, Job, JobId, JobState, RunnerId, StoreError, Timestamp};
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

/// Decode one job. A value that does not decode, or an unknown state or codec name, is
/// [`StoreError::Corrupt`] naming the job.
pub(crate) fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    let id: i64 = column(row, -1, "id")?;
    let state: String = column(row, id, "state")?;
    let codec: String = column(row, id, "codec")?;
    let lease_owner: Option<String> = column(row, id, "lease_owner")?;
    Ok(Job {
        id: JobId(id),
        worker: column(row, id, "worker")?,
        queue: column(row, id, "queue")?,
        args: column(row, id, "args")?,
        codec: codec.parse::<Codec>().map_err(|e| corrupt(id, e.to_string()))?,
        priority: column(row, id, "priority")?,
        state: state.parse::<JobState>().map_err(|e| corrupt(id, e.to_string()))?,
        attempt: column(row, id, "attempt")?,
        max_attempts: column(row, id, "max_attempts")?,
        run_at: column::<Timestamp>(row, id, "run_at")?,
        lease_owner: lease_owner.map(RunnerId::new),
        lease_expires_at: column(row, id, "lease_expires_at")?,
        last_error: column(row, id, "last_error")?,
        unique_key: column(row, id, "unique_key")?,
        created_at: column(row, id, "created_at")?,
        updated_at: column(row, id, "updated_at")?,
        finished_at: column(row, id, "finished_at")?,
    })
}

/// Decode every row, failing on the first corrupt one.
pub(crate) fn jobs_from_rows(rows: &[PgRow]) -> Result<Vec<Job>, StoreError> {
    rows.iter().map(job_from_row).collect()
}

fn column<'r, T: Decode<'r, Postgres> + Type<Postgres>>(row: &'r PgRow, id: i64, name: &str) -> Result<T, StoreError> {
    row.try_get(name)
        .map_err(|e| corrupt(id, format!("column {name}: {e}")))
}

fn corrupt(job_id: i64, message: String) -> StoreError {
    StoreError::Corrupt { job_id, message }
}
