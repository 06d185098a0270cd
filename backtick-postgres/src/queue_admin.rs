//! [`QueueAdmin`] for [`PgStore`]: the statements of [`backtick_pg_common::admin_sql`] bound
//! and decoded with sqlx; the parameters and results come from
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
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};

use crate::error::store_error;
use crate::row::{job_from_row, jobs_from_rows};
use crate::store::PgStore;

/// Decode column `name` of `row`.
fn get<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name).map_err(store_error)
}

/// Counts from rows `key`, `state`, `n`, `capped` ([`sql::COUNT_JOBS`], [`sql::COUNT_FINISHED`]).
fn count_rows(rows: &[PgRow]) -> Result<JobCounts, StoreError> {
    let decoded = rows
        .iter()
        .map(|r| Ok((get(r, "key")?, get(r, "state")?, get(r, "n")?, get(r, "capped")?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    CountParams::counts(decoded)
}

impl PgStore {
    fn admin_pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// A transaction for an admin read: read-only, its statements bounded by the configured
    /// `admin_statement_timeout` ([`sql::admin_read_begin`]).
    async fn read(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.read_with(None).await
    }

    /// [`PgStore::read`] that also runs `settings` (one statement) in the same round trip.
    async fn read_with(&self, settings: Option<&str>) -> Result<Transaction<'static, Postgres>, StoreError> {
        let begin = match settings {
            Some(settings) => format!("{}; {settings}", self.inner.admin_read_begin),
            None => self.inner.admin_read_begin.clone(),
        };
        self.admin_pool()
            .begin_with(AssertSqlSafe(begin))
            .await
            .map_err(store_error)
    }

    /// One listing statement ([`ListParams::statement`]) and the jobs of its ids
    /// ([`sql::GET_JOBS`]).
    async fn scan(&self, p: ListParams) -> Result<Scanned, StoreError> {
        let mut tx = self.read().await?;
        let scan = sqlx::query(p.statement)
            .bind(p.states)
            .bind(p.ids)
            .bind(p.after)
            .bind(p.up_to)
            .bind(p.scan_limit)
            .bind(p.queue)
            .bind(p.worker)
            .bind(p.runner)
            .bind(p.error_pattern)
            .bind(p.created_from)
            .bind(p.created_until)
            .bind(p.finished_from)
            .bind(p.finished_until)
            .bind(p.limit)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let ids: Vec<i64> = get(&scan, "ids")?;
        let rows = sqlx::query(sql::GET_JOBS)
            .bind(ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(Scanned {
            jobs: jobs_from_rows(&rows)?,
            scanned: get(&scan, "scanned")?,
            last_scanned: get(&scan, "last_scanned")?,
        })
    }

    /// The rows of an admin read `statement` of `$1` now.
    async fn read_all(&self, statement: &'static str, now: Option<Timestamp>) -> Result<Vec<PgRow>, StoreError> {
        let mut tx = self.read().await?;
        let rows = sqlx::query(statement)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(rows)
    }

    /// [`sql::COUNT_JOBS`].
    async fn counts(&self, query: &CountQuery) -> Result<JobCounts, StoreError> {
        let p = CountParams::new(query);
        let mut tx = self.read().await?;
        let rows = sqlx::query(sql::COUNT_JOBS)
            .bind(p.cap)
            .bind(p.group_by)
            .bind(p.states)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        count_rows(&rows)
    }

    /// [`sql::QUEUE_KNOWN`], as an error when it is not.
    async fn check_queue_known(&self, queue: &str, now: Option<Timestamp>) -> Result<(), AdminError> {
        let known: bool = sqlx::query_scalar(sql::QUEUE_KNOWN)
            .bind(queue)
            .bind(now)
            .fetch_one(self.admin_pool())
            .await
            .map_err(store_error)?;
        unknown_queue(queue, known)
    }

    /// Run a schedule write (`$1` name, `$2` now); when it returned no row, tell why with
    /// [`sql::SCHEDULE_STATUS`].
    async fn schedule_write(
        &self,
        action: ScheduleAction,
        name: &str,
        now: Option<Timestamp>,
    ) -> Result<bool, AdminError> {
        let statement = sql::schedule_statement(action);
        let wrote = sqlx::query(statement)
            .bind(name)
            .bind(now)
            .fetch_optional(self.admin_pool())
            .await
            .map_err(store_error)?;
        if wrote.is_some() {
            return Ok(true);
        }
        let status = sqlx::query(sql::SCHEDULE_STATUS)
            .bind(name)
            .bind(now)
            .fetch_one(self.admin_pool())
            .await
            .map_err(store_error)?;
        schedule_not_written(name, get(&status, "exists")?, get(&status, "declared_by")?, action)
    }
}

#[async_trait]
impl QueueAdmin for PgStore {
    async fn list_jobs(&self, query: &JobQuery, page: &PageRequest) -> Result<JobPage, AdminError> {
        page.validate()?;
        Ok(list_page(query, page, |p| self.scan(p)).await?)
    }

    async fn job_detail(&self, id: JobId) -> Result<JobDetail, AdminError> {
        let mut tx = self.read().await?;
        let row = sqlx::query(sql::JOB_DETAIL)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        let row = row.ok_or(AdminError::UnknownJob { id })?;
        let attempts: Option<String> = get(&row, "attempts")?;
        Ok(job_detail(
            job_from_row(&row)?,
            attempts.as_deref(),
            get(&row, "attempted_at")?,
            get(&row, "attempted_by")?,
            get(&row, "cancel_requested_at")?,
            get(&row, "cancel_reason")?,
        )?)
    }

    async fn count_jobs(&self, query: &CountQuery) -> Result<JobCounts, AdminError> {
        Ok(self.counts(query).await?)
    }

    async fn count_finished(&self, finished: TimeRange, cap: u64) -> Result<JobCounts, AdminError> {
        let p = FinishedParams::new(finished, cap);
        let mut tx = self.read_with(Some(sql::COUNT_FINISHED_SETTINGS)).await?;
        let rows = sqlx::query(sql::COUNT_FINISHED)
            .bind(p.from)
            .bind(p.until)
            .bind(p.cap)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(count_rows(&rows)?)
    }

    async fn database_diagnostics(&self) -> Result<Option<DatabaseDiagnostics>, AdminError> {
        let plan = self.explain_claim(&diagnostics_claim()).await?;
        let record: String = sqlx::query_scalar(sql::DATABASE_DIAGNOSTICS)
            .bind(expected_indexes())
            .fetch_one(self.admin_pool())
            .await
            .map_err(store_error)?;
        Ok(Some(diagnostics(plan, &record)?))
    }

    async fn apply_to_jobs(
        &self,
        ids: &[JobId],
        action: &JobAction,
        now: Option<Timestamp>,
    ) -> Result<ActionReport, AdminError> {
        let column = check_batch(ids)?;
        let query = match action {
            JobAction::Retry => sqlx::query(sql::RETRY_JOBS).bind(column).bind(now),
            JobAction::Cancel { reason } => sqlx::query(sql::CANCEL_JOBS).bind(column).bind(reason).bind(now),
            JobAction::Delete => sqlx::query(sql::DELETE_JOBS).bind(column),
            JobAction::RunNow => sqlx::query(sql::RUN_JOBS_NOW).bind(column).bind(now),
        };
        let rows = query.fetch_all(self.admin_pool()).await.map_err(store_error)?;
        let requested = matches!(action, JobAction::Cancel { .. });
        let decoded = rows
            .iter()
            .map(|r| Ok((get(r, "id")?, requested && get::<bool>(r, "requested")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(action_report(ids, decoded))
    }

    async fn list_queues(&self, now: Option<Timestamp>) -> Result<Vec<QueueInfo>, AdminError> {
        let counts = self.counts(&CountQuery::by(GroupBy::Queue)).await?;
        let mut tx = self.read().await?;
        let oldest = sqlx::query(sql::OLDEST_DUE)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?
            .iter()
            .map(|r| Ok((get(r, "queue")?, get(r, "oldest")?, get(r, "now")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let paused = sqlx::query(sql::QUEUE_ROWS)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?
            .iter()
            .map(|r| Ok((get(r, "name")?, get(r, "paused_at")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        tx.commit().await.map_err(store_error)?;
        Ok(queue_infos(&counts, oldest, &paused, now))
    }

    async fn pause_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        self.check_queue_known(queue, now).await?;
        let paused = sqlx::query(sql::PAUSE_QUEUE)
            .bind(queue)
            .bind(now)
            .fetch_optional(self.admin_pool())
            .await
            .map_err(store_error)?;
        Ok(paused.is_some())
    }

    async fn resume_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        let resumed = sqlx::query(sql::RESUME_QUEUE)
            .bind(queue)
            .bind(now)
            .fetch_optional(self.admin_pool())
            .await
            .map_err(store_error)?;
        if resumed.is_none() {
            self.check_queue_known(queue, now).await?;
        }
        Ok(resumed.is_some())
    }

    async fn list_schedules(&self, now: Option<Timestamp>) -> Result<Vec<ScheduleInfo>, AdminError> {
        let rows = self.read_all(sql::LIST_SCHEDULES, now).await?;
        let schedule = |r: &PgRow| -> Result<ScheduleInfo, StoreError> {
            Ok(ScheduleInfo::from(ScheduleRow {
                name: get(r, "name")?,
                worker: get(r, "worker")?,
                spec: get(r, "spec")?,
                next_run_at: get(r, "next_run_at")?,
                last_fired_at: get(r, "last_fired_at")?,
                paused_at: get(r, "paused_at")?,
                run_requested_at: get(r, "run_requested_at")?,
                declared_by: get(r, "declared_by")?,
            }))
        };
        Ok(rows.iter().map(schedule).collect::<Result<_, _>>()?)
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
        let rows = self.read_all(sql::LIST_RUNNERS, now).await?;
        let runner = |r: &PgRow| -> Result<RunnerStatus, StoreError> {
            Ok(RunnerStatus::from(RunnerRow {
                id: get(r, "id")?,
                host: get(r, "host")?,
                pid: get(r, "pid")?,
                version: get(r, "version")?,
                queues: get(r, "queues")?,
                workers: get(r, "workers")?,
                schedules: get(r, "schedules")?,
                concurrency: get(r, "concurrency")?,
                started_at: get(r, "started_at")?,
                heartbeat_at: get(r, "heartbeat_at")?,
                expires_at: get(r, "expires_at")?,
                stale: get(r, "stale")?,
                running_jobs: get(r, "running_jobs")?,
            }))
        };
        Ok(rows.iter().map(runner).collect::<Result<_, _>>()?)
    }
}
