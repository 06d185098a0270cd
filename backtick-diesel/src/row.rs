//! The rows the statements of [`crate::sql`] return, and reading a `backtick_jobs` row into a
//! [`Job`].

use backtick_core::{Job, JobId, RunnerId, StoreError, Timestamp};
use backtick_pg_common::decode;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bytea, Integer, Nullable, SmallInt, Text, Timestamptz};

/// One `backtick_jobs` row as stored; [`JobRow::into_job`] checks the names in it.
#[derive(Debug, QueryableByName)]
pub(crate) struct JobRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    worker: String,
    #[diesel(sql_type = Text)]
    queue: String,
    #[diesel(sql_type = Bytea)]
    args: Vec<u8>,
    #[diesel(sql_type = Text)]
    codec: String,
    #[diesel(sql_type = SmallInt)]
    priority: i16,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Integer)]
    attempt: i32,
    #[diesel(sql_type = Integer)]
    max_attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    run_at: Timestamp,
    #[diesel(sql_type = Nullable<Text>)]
    lease_owner: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    lease_expires_at: Option<Timestamp>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    unique_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    trace_context: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: Timestamp,
    #[diesel(sql_type = Timestamptz)]
    updated_at: Timestamp,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    finished_at: Option<Timestamp>,
}

impl JobRow {
    /// The job. An unknown state or codec name is [`StoreError::Corrupt`] naming the job.
    pub(crate) fn into_job(self) -> Result<Job, StoreError> {
        let id = JobId(self.id);
        Ok(Job {
            id,
            worker: self.worker,
            queue: self.queue,
            args: self.args,
            codec: decode::codec(id, &self.codec)?,
            priority: self.priority,
            state: decode::state(id, &self.state)?,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            run_at: self.run_at,
            lease_owner: self.lease_owner.map(RunnerId::new),
            lease_expires_at: self.lease_expires_at,
            last_error: self.last_error,
            unique_key: self.unique_key,
            trace_context: self.trace_context,
            created_at: self.created_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
        })
    }
}

/// Every row as a job, failing on the first corrupt one.
pub(crate) fn into_jobs(rows: Vec<JobRow>) -> Result<Vec<Job>, StoreError> {
    rows.into_iter().map(JobRow::into_job).collect()
}

/// An id that may be missing (see [`crate::sql::ENQUEUE`]).
#[derive(Debug, QueryableByName)]
pub(crate) struct MaybeId {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) id: Option<i64>,
}

/// A row of [`crate::sql::ENQUEUE`]: an id that may be missing, whether it was inserted, and
/// the key as held.
#[derive(Debug, QueryableByName)]
pub(crate) struct EnqueuedRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) inserted: bool,
    #[diesel(sql_type = Nullable<diesel::sql_types::Text>)]
    pub(crate) key: Option<String>,
}

/// A job id and the unique key it holds.
#[derive(Debug, QueryableByName)]
pub(crate) struct KeyedId {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
    #[diesel(sql_type = Text)]
    pub(crate) unique_key: String,
}

/// A 1-based input position that took effect.
#[derive(Debug, QueryableByName)]
pub(crate) struct Ord {
    #[diesel(sql_type = BigInt)]
    pub(crate) ord: i64,
}

/// A job whose lease was extended.
#[derive(Debug, QueryableByName)]
pub(crate) struct HeartbeatRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) job_id: i64,
}

/// One line of [`crate::sql::COUNT_BY_STATE`].
#[derive(Debug, QueryableByName)]
pub(crate) struct StateCount {
    #[diesel(sql_type = Text)]
    pub(crate) state: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

/// Whether the jobs table is due for a vacuum (see [`crate::sql::VACUUM_DUE`]).
#[derive(Debug, QueryableByName)]
pub(crate) struct Due {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) due: bool,
}

/// The database clock.
#[derive(Debug, QueryableByName)]
pub(crate) struct Now {
    #[diesel(sql_type = Timestamptz)]
    pub(crate) now: Timestamp,
}

/// An applied migration's version.
#[derive(Debug, QueryableByName)]
pub(crate) struct Version {
    #[diesel(sql_type = BigInt)]
    pub(crate) version: i64,
}

/// One line of an `EXPLAIN`.
#[derive(Debug, QueryableByName)]
pub(crate) struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    pub(crate) line: String,
}

/// The source text of a function (`pg_proc.prosrc`).
#[derive(Debug, QueryableByName)]
pub(crate) struct FunctionSource {
    #[diesel(sql_type = Text)]
    pub(crate) prosrc: String,
}

/// The answer of `NEXT_DUE`: microseconds until the next due job, if any.
#[derive(Debug, QueryableByName)]
pub(crate) struct DueIn {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) due_in_us: Option<i64>,
}

/// A row of [`backtick_pg_common::admin_sql::UNSERVED_JOBS`].
#[derive(Debug, QueryableByName)]
pub(crate) struct UnservedRow {
    #[diesel(sql_type = Text)]
    pub(crate) worker: String,
    #[diesel(sql_type = Text)]
    pub(crate) queue: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) jobs: i64,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) oldest_due: Timestamp,
    #[diesel(sql_type = BigInt)]
    pub(crate) oldest_job: i64,
}
