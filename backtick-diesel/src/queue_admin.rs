//! [`QueueAdmin`] for [`DieselStore`]: the statements of [`backtick_pg_common::admin_sql`]
//! bound and decoded with diesel; the parameters and results come from
//! [`backtick_pg_common::admin`].

use async_trait::async_trait;
use backtick_core::admin::{
    ActionReport, AdminError, CountQuery, DatabaseDiagnostics, GroupBy, JobAction, JobCounts, JobDetail, JobPage,
    JobQuery, PageRequest, QueueAdmin, QueueInfo, RunnerStatus, ScheduleAction, ScheduleInfo, TimeRange,
};
use backtick_core::{JobId, StoreError, Timestamp};
use backtick_pg_common::admin::{
    CountParams, FinishedParams, ListParams, RunnerRow, Scanned, ScheduleRow, action_report, check_batch, diagnostics,
    diagnostics_claim, expected_indexes, job_detail, list_page, queue_infos, schedule_not_written, unknown_queue,
};
use backtick_pg_common::admin_sql as sql;
use diesel::OptionalExtension;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::admin_rows::{
    ActedRow, CancelledRow, CountRow, DetailRow, DiagnosticsRow, Known, Named, OldestDue, QueueRow, RunnerLine, Scan,
    ScheduleLine, ScheduleStatus,
};
use crate::error::store_error;
use crate::row::{JobRow, into_jobs};
use crate::store::DieselStore;

type Tz = Nullable<Timestamptz>;

/// `$store`'s admin read: `|$conn| $body` (a `Result<_, diesel::result::Error>`) in a
/// read-only transaction, after the store's `admin_read_settings` (the statement timeout) and
/// any extra settings, in one batch;
/// the result as a `Result<_, StoreError>`. A macro, not a function: the transaction's
/// closure must be `Send` for any body, which a generic async closure cannot promise.
macro_rules! read {
    ($store:expr, |$conn:ident| $body:expr) => {
        read!($store, None::<&str>, |$conn| $body)
    };
    // `$extra`: more settings (one statement), sent in the same batch.
    ($store:expr, $extra:expr, |$conn:ident| $body:expr) => {{
        use diesel_async::SimpleAsyncConnection as _;
        let settings = match ($store.inner.admin_read_settings.as_deref(), $extra) {
            (Some(timeout), Some(extra)) => Some(format!("{timeout}; {extra}")),
            (Some(timeout), None) => Some(timeout.to_owned()),
            (None, extra) => extra.map(str::to_owned),
        };
        let mut pooled = $store.conn().await?;
        pooled
            .build_transaction()
            .read_only()
            .run::<_, diesel::result::Error, _>(async |$conn| {
                if let Some(settings) = &settings {
                    $conn.batch_execute(settings).await?;
                }
                $body
            })
            .await
            .map_err(store_error)
    }};
}

impl DieselStore {
    /// One listing statement ([`ListParams::statement`]) and the jobs of its ids
    /// ([`sql::GET_JOBS`]).
    async fn scan(&self, p: ListParams) -> Result<Scanned, StoreError> {
        let (scan, rows): (Scan, Vec<JobRow>) = read!(self, |conn| {
            let scan: Scan = diesel::sql_query(p.statement)
                .bind::<Nullable<Array<Text>>, _>(p.states)
                .bind::<Nullable<Array<BigInt>>, _>(p.ids)
                .bind::<BigInt, _>(p.after)
                .bind::<BigInt, _>(p.up_to)
                .bind::<BigInt, _>(p.scan_limit)
                .bind::<Nullable<Text>, _>(p.queue)
                .bind::<Nullable<Text>, _>(p.worker)
                .bind::<Nullable<Text>, _>(p.runner)
                .bind::<Nullable<Text>, _>(p.error_pattern)
                .bind::<Tz, _>(p.created_from)
                .bind::<Tz, _>(p.created_until)
                .bind::<Tz, _>(p.finished_from)
                .bind::<Tz, _>(p.finished_until)
                .bind::<BigInt, _>(p.limit)
                .get_result(conn)
                .await?;
            let rows = diesel::sql_query(sql::GET_JOBS)
                .bind::<Array<BigInt>, _>(&scan.ids)
                .load(conn)
                .await?;
            Ok((scan, rows))
        })?;
        Ok(Scanned {
            jobs: into_jobs(rows)?,
            scanned: scan.scanned,
            last_scanned: scan.last_scanned,
        })
    }

    /// [`sql::COUNT_JOBS`].
    async fn counts(&self, query: &CountQuery) -> Result<JobCounts, StoreError> {
        let p = CountParams::new(query);
        let rows: Vec<CountRow> = read!(self, |conn| {
            diesel::sql_query(sql::COUNT_JOBS)
                .bind::<BigInt, _>(p.cap)
                .bind::<Text, _>(p.group_by)
                .bind::<Nullable<Array<Text>>, _>(p.states)
                .load(conn)
                .await
        })?;
        CountParams::counts(rows.into_iter().map(|r| (r.key, r.state, r.n, r.capped)))
    }

    /// [`sql::QUEUE_KNOWN`], as an error when it is not.
    async fn check_queue_known(&self, queue: &str, now: Option<Timestamp>) -> Result<(), AdminError> {
        let row: Known = diesel::sql_query(sql::QUEUE_KNOWN)
            .bind::<Text, _>(queue)
            .bind::<Tz, _>(now)
            .get_result(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        unknown_queue(queue, row.known)
    }

    /// A statement of `$1` name (queue or schedule), `$2` now that returns a row when it
    /// wrote: true when it did.
    async fn named_write(
        &self,
        statement: &'static str,
        name: &str,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let wrote: Option<Named> = diesel::sql_query(statement)
            .bind::<Text, _>(name)
            .bind::<Tz, _>(now)
            .get_result(&mut *self.conn().await?)
            .await
            .optional()
            .map_err(store_error)?;
        Ok(wrote.is_some())
    }

    /// Run a schedule write; when it returned no row, tell why with [`sql::SCHEDULE_STATUS`].
    async fn schedule_write(
        &self,
        action: ScheduleAction,
        name: &str,
        now: Option<Timestamp>,
    ) -> Result<bool, AdminError> {
        let statement = sql::schedule_statement(action);
        if self.named_write(statement, name, now).await? {
            return Ok(true);
        }
        let status: ScheduleStatus = diesel::sql_query(sql::SCHEDULE_STATUS)
            .bind::<Text, _>(name)
            .bind::<Tz, _>(now)
            .get_result(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        schedule_not_written(name, status.exists, status.declared_by, action)
    }
}

#[async_trait]
impl QueueAdmin for DieselStore {
    async fn list_jobs(&self, query: &JobQuery, page: &PageRequest) -> Result<JobPage, AdminError> {
        page.validate()?;
        Ok(list_page(query, page, |p| self.scan(p)).await?)
    }

    async fn job_detail(&self, id: JobId) -> Result<JobDetail, AdminError> {
        let row: Option<DetailRow> = read!(self, |conn| {
            diesel::sql_query(sql::JOB_DETAIL)
                .bind::<BigInt, _>(id.0)
                .get_result(conn)
                .await
                .optional()
        })?;
        let row = row.ok_or(AdminError::UnknownJob { id })?;
        Ok(job_detail(
            row.job.into_job()?,
            row.attempts.as_deref(),
            row.attempted_at,
            row.attempted_by,
            row.cancel_requested_at,
            row.cancel_reason,
        )?)
    }

    async fn count_jobs(&self, query: &CountQuery) -> Result<JobCounts, AdminError> {
        Ok(self.counts(query).await?)
    }

    async fn count_finished(&self, finished: TimeRange, cap: u64) -> Result<JobCounts, AdminError> {
        let p = FinishedParams::new(finished, cap);
        let rows: Vec<CountRow> = read!(self, Some(sql::COUNT_FINISHED_SETTINGS), |conn| {
            diesel::sql_query(sql::COUNT_FINISHED)
                .bind::<Tz, _>(p.from)
                .bind::<Tz, _>(p.until)
                .bind::<BigInt, _>(p.cap)
                .load(conn)
                .await
        })?;
        Ok(CountParams::counts(
            rows.into_iter().map(|r| (r.key, r.state, r.n, r.capped)),
        )?)
    }

    async fn database_diagnostics(&self) -> Result<Option<DatabaseDiagnostics>, AdminError> {
        let plan = self.explain_claim(&diagnostics_claim()).await?;
        let row: DiagnosticsRow = diesel::sql_query(sql::DATABASE_DIAGNOSTICS)
            .bind::<Array<Text>, _>(expected_indexes())
            .get_result(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(Some(diagnostics(plan, &row.diagnostics)?))
    }

    async fn apply_to_jobs(
        &self,
        ids: &[JobId],
        action: &JobAction,
        now: Option<Timestamp>,
    ) -> Result<ActionReport, AdminError> {
        let column = check_batch(ids)?;
        let mut conn = self.conn().await?;
        let rows: Vec<(i64, bool)> = match action {
            JobAction::Cancel { reason } => {
                let rows: Vec<CancelledRow> = diesel::sql_query(sql::CANCEL_JOBS)
                    .bind::<Array<BigInt>, _>(column)
                    .bind::<Text, _>(reason)
                    .bind::<Tz, _>(now)
                    .load(&mut *conn)
                    .await
                    .map_err(store_error)?;
                rows.into_iter().map(|r| (r.id, r.requested)).collect()
            }
            JobAction::Delete => {
                let rows: Vec<ActedRow> = diesel::sql_query(sql::DELETE_JOBS)
                    .bind::<Array<BigInt>, _>(column)
                    .load(&mut *conn)
                    .await
                    .map_err(store_error)?;
                rows.into_iter().map(|r| (r.id, false)).collect()
            }
            JobAction::Retry | JobAction::RunNow => {
                let statement = if *action == JobAction::Retry {
                    sql::RETRY_JOBS
                } else {
                    sql::RUN_JOBS_NOW
                };
                let rows: Vec<ActedRow> = diesel::sql_query(statement)
                    .bind::<Array<BigInt>, _>(column)
                    .bind::<Tz, _>(now)
                    .load(&mut *conn)
                    .await
                    .map_err(store_error)?;
                rows.into_iter().map(|r| (r.id, false)).collect()
            }
        };
        Ok(action_report(ids, rows))
    }

    async fn list_queues(&self, now: Option<Timestamp>) -> Result<Vec<QueueInfo>, AdminError> {
        let counts = self.counts(&CountQuery::by(GroupBy::Queue)).await?;
        let (oldest, paused): (Vec<OldestDue>, Vec<QueueRow>) = read!(self, |conn| {
            let oldest = diesel::sql_query(sql::OLDEST_DUE).bind::<Tz, _>(now).load(conn).await?;
            let paused = diesel::sql_query(sql::QUEUE_ROWS).load(conn).await?;
            Ok((oldest, paused))
        })?;
        let oldest = oldest.into_iter().map(|r| (r.queue, r.oldest, r.now)).collect();
        let paused: Vec<_> = paused.into_iter().map(|r| (r.name, r.paused_at)).collect();
        Ok(queue_infos(&counts, oldest, &paused, now))
    }

    async fn pause_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        self.check_queue_known(queue, now).await?;
        Ok(self.named_write(sql::PAUSE_QUEUE, queue, now).await?)
    }

    async fn resume_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        let resumed = self.named_write(sql::RESUME_QUEUE, queue, now).await?;
        if !resumed {
            self.check_queue_known(queue, now).await?;
        }
        Ok(resumed)
    }

    async fn list_schedules(&self, now: Option<Timestamp>) -> Result<Vec<ScheduleInfo>, AdminError> {
        let rows: Vec<ScheduleLine> = read!(self, |conn| {
            diesel::sql_query(sql::LIST_SCHEDULES)
                .bind::<Tz, _>(now)
                .load(conn)
                .await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| ScheduleInfo::from(ScheduleRow::from(r)))
            .collect())
    }

    async fn apply_to_schedule(
        &self,
        name: &str,
        action: ScheduleAction,
        now: Option<Timestamp>,
    ) -> Result<bool, AdminError> {
        self.schedule_write(action, name, now).await
    }

    async fn list_runners(&self, now: Option<Timestamp>) -> Result<Vec<RunnerStatus>, AdminError> {
        let rows: Vec<RunnerLine> = read!(self, |conn| {
            diesel::sql_query(sql::LIST_RUNNERS).bind::<Tz, _>(now).load(conn).await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| RunnerStatus::from(RunnerRow::from(r)))
            .collect())
    }
}
