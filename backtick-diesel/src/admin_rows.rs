//! The rows the statements of [`backtick_pg_common::admin_sql`] return, as diesel reads them;
//! each becomes the plain value or type of [`backtick_pg_common::admin`].

use backtick_core::Timestamp;
use backtick_pg_common::admin::{RunnerRow, ScheduleRow};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};

use crate::row::JobRow;

/// A listing page's scan: the page's ids, how many jobs it examined, the last one.
#[derive(Debug, QueryableByName)]
pub(crate) struct Scan {
    #[diesel(sql_type = Array<BigInt>)]
    pub(crate) ids: Vec<i64>,
    #[diesel(sql_type = BigInt)]
    pub(crate) scanned: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) last_scanned: Option<i64>,
}

/// A job with its admin columns (`JOB_DETAIL`).
#[derive(Debug, QueryableByName)]
pub(crate) struct DetailRow {
    #[diesel(embed)]
    pub(crate) job: JobRow,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(crate) attempted_at: Option<Timestamp>,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) attempted_by: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) attempts: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(crate) cancel_requested_at: Option<Timestamp>,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) cancel_reason: Option<String>,
}

/// One line of `COUNT_JOBS`.
#[derive(Debug, QueryableByName)]
pub(crate) struct CountRow {
    #[diesel(sql_type = Text)]
    pub(crate) key: String,
    #[diesel(sql_type = Text)]
    pub(crate) state: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
    #[diesel(sql_type = Bool)]
    pub(crate) capped: bool,
}

/// An action's row: the job, and for a cancel whether a request was stored.
#[derive(Debug, QueryableByName)]
pub(crate) struct ActedRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
}

/// A `CANCEL_JOBS` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct CancelledRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
    #[diesel(sql_type = Bool)]
    pub(crate) requested: bool,
}

/// `QUEUE_KNOWN`.
#[derive(Debug, QueryableByName)]
pub(crate) struct Known {
    #[diesel(sql_type = Bool)]
    pub(crate) known: bool,
}

/// The name a write returned.
#[derive(Debug, QueryableByName)]
pub(crate) struct Named {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)] // read by diesel; only its presence matters
    pub(crate) name: String,
}

/// `SCHEDULE_STATUS`.
#[derive(Debug, QueryableByName)]
pub(crate) struct ScheduleStatus {
    #[diesel(sql_type = Bool)]
    pub(crate) exists: bool,
    #[diesel(sql_type = Array<Text>)]
    pub(crate) declared_by: Vec<String>,
}

/// An `OLDEST_DUE` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct OldestDue {
    #[diesel(sql_type = Text)]
    pub(crate) queue: String,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) oldest: Timestamp,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) now: Timestamp,
}

/// A `QUEUE_ROWS` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct QueueRow {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(crate) paused_at: Option<Timestamp>,
}

/// A `LIST_SCHEDULES` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct ScheduleLine {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    worker: String,
    #[diesel(sql_type = Text)]
    spec: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    next_run_at: Option<Timestamp>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_fired_at: Option<Timestamp>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    paused_at: Option<Timestamp>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    run_requested_at: Option<Timestamp>,
    #[diesel(sql_type = Array<Text>)]
    declared_by: Vec<String>,
}

impl From<ScheduleLine> for ScheduleRow {
    fn from(r: ScheduleLine) -> Self {
        ScheduleRow {
            name: r.name,
            worker: r.worker,
            spec: r.spec,
            next_run_at: r.next_run_at,
            last_fired_at: r.last_fired_at,
            paused_at: r.paused_at,
            run_requested_at: r.run_requested_at,
            declared_by: r.declared_by,
        }
    }
}

/// A `LIST_RUNNERS` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct RunnerLine {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    host: String,
    #[diesel(sql_type = BigInt)]
    pid: i64,
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    queues: Option<Vec<String>>,
    #[diesel(sql_type = Array<Text>)]
    workers: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    schedules: Vec<String>,
    #[diesel(sql_type = Integer)]
    concurrency: i32,
    #[diesel(sql_type = Timestamptz)]
    started_at: Timestamp,
    #[diesel(sql_type = Timestamptz)]
    heartbeat_at: Timestamp,
    #[diesel(sql_type = Timestamptz)]
    expires_at: Timestamp,
    #[diesel(sql_type = Bool)]
    stale: bool,
    #[diesel(sql_type = BigInt)]
    running_jobs: i64,
}

impl From<RunnerLine> for RunnerRow {
    fn from(r: RunnerLine) -> Self {
        RunnerRow {
            id: r.id,
            host: r.host,
            pid: r.pid,
            version: r.version,
            queues: r.queues,
            workers: r.workers,
            schedules: r.schedules,
            concurrency: r.concurrency,
            started_at: r.started_at,
            heartbeat_at: r.heartbeat_at,
            expires_at: r.expires_at,
            stale: r.stale,
            running_jobs: r.running_jobs,
        }
    }
}

/// A `CANCEL_REQUESTS` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct CancelRequestRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) cancel_reason: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) cancel_requested_at: Timestamp,
}

/// A `SCHEDULE_RUN_REQUESTS` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct RunRequestRow {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
    #[diesel(sql_type = Timestamptz)]
    pub(crate) run_requested_at: Timestamp,
}

/// The one row of `DATABASE_DIAGNOSTICS`: a JSON object as text.
#[derive(Debug, QueryableByName)]
pub(crate) struct DiagnosticsRow {
    #[diesel(sql_type = Text)]
    pub(crate) diagnostics: String,
}
