//! `PgStore`: the [`QueueStore`] on a sqlx pool.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backtick_core::admin::{CancelReceiver, CancelRequest, RunnerInfo, ScheduleRunRequest};
use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::{
    ClaimParams, ClaimToken, Enqueued, Finish, FinishReport, Job, JobFilter, JobId, JobState, NewJob, QueueStore,
    RunnerId, StateCounts, StoreError, Timestamp, WakeReceiver,
};
use backtick_pg_common::admin::{cancel_request, runner_record};
use backtick_pg_common::admin_sql;
use backtick_pg_common::{Wake, decode, enqueue, micros};
use sqlx::postgres::PgArguments;
use sqlx::{PgPool, Row};

use crate::acquire::{acquire, close_if_broken};
use crate::enqueue::EnqueueStatements;
use crate::error::store_error;
use crate::listen::ListenPool;
use crate::row::{job_from_row, jobs_from_rows};
use crate::{fenced, runner_side, sql};

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, PgArguments>;

/// The PostgreSQL [`QueueStore`], on a sqlx connection pool. Cheap to clone: clones share
/// the pool and the wake-up listener.
///
/// Every method is one SQL statement (see the crate docs for the claim query), but for an
/// enqueue with unique keys, a schedule's fire and a vacuum (see each). Times come from the
/// database clock unless a `now` is injected.
///
/// # Examples
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use backtick_postgres::{NewJob, PgStore};
/// let store = PgStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
/// store.migrate().await?;
/// let id = store.enqueue(NewJob::new("send_mail", &"alice@example.com")?).await?;
/// println!("enqueued job {id}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    /// The runner's lifeline: completions, heartbeats and registrations, on a connection of
    /// their own (a pool of one, opened by [`PgStore::connect`]), so that finished work is
    /// recorded and leases kept while claims wait for the main pool or a full server. The
    /// main pool when the store was made from a pool.
    pub(crate) lifeline: PgPool,
    /// How admin reads begin: `backtick_pg_common::admin_sql::admin_read_begin`.
    pub(crate) admin_read_begin: String,
    wake: Wake,
    /// Set once a runner's start has warmed the pool for its claims
    /// ([`PgStore::warm_for_claims`]).
    pub(crate) claims_warmed: std::sync::atomic::AtomicBool,
    /// Set once the store has seen its schema in place (a warm-up's statements ran, a
    /// migration run or a schema check passed): from then on the pool of a store that opened
    /// it warms each new connection ([`crate::connect::warm_new_connection`]).
    pub(crate) schema_in_place: Arc<std::sync::atomic::AtomicBool>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("pool_size", &self.inner.pool.size())
            .field("listening", &self.inner.wake.is_listening())
            .finish()
    }
}

impl PgStore {
    /// A store on a pool the application already has. Nothing is checked until first use.
    /// Admin reads are bounded by the default `admin_statement_timeout` of [`crate::PgStoreConfig`]
    /// (see [`PgStore::from_pool_with`]).
    pub fn from_pool(pool: PgPool) -> Self {
        Self::from_pool_with(pool, crate::PgStoreConfig::default().admin_statement_timeout)
    }

    /// [`PgStore::from_pool`] whose admin reads the server cancels after
    /// `admin_statement_timeout` (`None`: no bound), as [`crate::PgStoreConfig`]'s option of that name.
    pub fn from_pool_with(pool: PgPool, admin_statement_timeout: Option<Duration>) -> Self {
        Self::from_pools(pool.clone(), pool, admin_statement_timeout, Arc::default())
    }

    /// A store on `pool` whose completions, heartbeats and registrations use `lifeline`;
    /// `schema_in_place` is the flag `pool`'s connect hook reads, if it has one.
    pub(crate) fn from_pools(
        pool: PgPool,
        lifeline: PgPool,
        admin_statement_timeout: Option<Duration>,
        schema_in_place: Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        PgStore {
            inner: Arc::new(Inner {
                pool,
                lifeline,
                admin_read_begin: backtick_pg_common::admin_sql::admin_read_begin(admin_statement_timeout),
                wake: Wake::new(),
                claims_warmed: std::sync::atomic::AtomicBool::new(false),
                schema_in_place,
            }),
        }
    }

    /// The pool, for the application's own queries and for [`crate::enqueue_in`].
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Wait until the wake-up listener is connected and listening (starting it if needed), at
    /// most `timeout`. True when it is. For readiness checks and tests: hints sent before the
    /// listener is up are not delivered.
    pub async fn wait_listening(&self, timeout: Duration) -> bool {
        self.start_listener();
        self.inner.wake.wait_listening(timeout).await
    }

    /// The plan Postgres picks for [`QueueStore::claim`] with `params` (`EXPLAIN`, nothing is
    /// claimed), one line per element. For checking that claims use the partial index
    /// `backtick_jobs_claim_idx` on a real table. The claim runs inside the function
    /// `backtick_claim`, whose plan `EXPLAIN` of the call does not show: this explains the
    /// function's statement, read from the database, under the function's setting
    /// (`enable_sort = off`), in a transaction that is rolled back.
    ///
    /// # Errors
    /// As for any store call; [`StoreError::Other`] when the installed function has no
    /// `RETURN QUERY` statement.
    pub async fn explain_claim(&self, params: &ClaimParams) -> Result<Vec<String>, StoreError> {
        let mut tx = self.inner.pool.begin().await.map_err(store_error)?;
        let source: String = sqlx::query_scalar(sql::CLAIM_FUNCTION_SOURCE)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let explain = sql::explain_claim(&source).ok_or_else(|| StoreError::Other {
            source: "backtick_claim has no RETURN QUERY statement".into(),
        })?;
        sqlx::query(sql::CLAIM_PLAN_SETTING)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let rows = bind_claim(sqlx::query(sqlx::AssertSqlSafe(explain)), params)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let lines = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0).map_err(store_error))
            .collect();
        tx.rollback().await.map_err(store_error)?;
        lines
    }

    /// Close the pool and stop the listener. Later calls fail with [`StoreError::PoolClosed`].
    pub async fn close(&self) {
        self.inner.wake.stop();
        self.inner.pool.close().await;
        self.inner.lifeline.close().await;
    }

    /// Start the listener task once, if there is a runtime to run it on.
    fn start_listener(&self) {
        let pool = &self.inner.pool;
        self.inner
            .wake
            .start("PgStore", pool.is_closed(), || ListenPool::new(pool));
    }
}

/// Run the claim statements (the plain and the limited claim) with `params` on `conn` and drop
/// what they return: with [`backtick_pg_common::warm_up_claim`], claims of nothing that leave
/// both statements prepared and planned, and both functions compiled, on that connection.
pub(crate) async fn warm_claim(conn: &mut sqlx::PgConnection, params: &ClaimParams) -> Result<(), sqlx::Error> {
    bind_claim(sqlx::query(sql::CLAIM), params)
        .fetch_all(&mut *conn)
        .await?;
    bind_claim(sqlx::query(backtick_pg_common::flow_sql::CLAIM_LIMITED), params)
        .fetch_all(conn)
        .await
        .map(drop)
}

/// Run the plain enqueue statement with no job on `conn`: it inserts nothing and sends no
/// wake-up, but leaves the statement prepared and planned, and the insert trigger's function
/// compiled, on that connection, so that the first enqueue on it pays for none of that.
pub(crate) async fn warm_enqueue(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    use backtick_pg_common::enqueue::{EnqueueConnection, JobColumns};
    crate::enqueue::EnqueueStatements(conn)
        .insert_plain(JobColumns::default(), None)
        .await
        .map(drop)
}

fn bind_claim<'q>(query: PgQuery<'q>, params: &'q ClaimParams) -> PgQuery<'q> {
    query
        .bind(params.now)
        .bind(&params.workers)
        .bind(&params.queues)
        .bind(as_i64(params.limit))
        .bind(params.runner_id.as_str())
        .bind(micros(params.lease_ttl))
}

fn schedule_from_row(row: &sqlx::postgres::PgRow) -> Result<ScheduleRecord, StoreError> {
    Ok(ScheduleRecord {
        name: row.try_get("name").map_err(store_error)?,
        worker: row.try_get("worker").map_err(store_error)?,
        spec: row.try_get("spec").map_err(store_error)?,
        next_run_at: row.try_get("next_run_at").map_err(store_error)?,
    })
}

fn as_i64(n: u32) -> i64 {
    i64::from(n)
}

#[async_trait]
impl QueueStore for PgStore {
    async fn check_schema(&self) -> Result<(), StoreError> {
        PgStore::check_schema(self).await
    }

    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        let ids = enqueue(&mut EnqueueStatements(&mut conn), jobs, now).await;
        close_if_broken(&mut conn, &ids);
        ids
    }

    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        if params.limit == 0 || params.workers.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        let rows = bind_claim(sqlx::query(sql::CLAIM), params)
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error);
        close_if_broken(&mut conn, &rows);
        let rows = rows?;
        let mut jobs = jobs_from_rows(&rows)?;
        // UPDATE ... RETURNING has no order: give the jobs back in claim order.
        jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
        Ok(jobs)
    }

    async fn claim_limited(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        if params.limit == 0 || params.workers.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        let rows = bind_claim(sqlx::query(backtick_pg_common::flow_sql::CLAIM_LIMITED), params)
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error);
        close_if_broken(&mut conn, &rows);
        Ok(crate::flow_calls::in_claim_order(jobs_from_rows(&rows?)?))
    }

    async fn set_queue_limits(
        &self,
        queue: &str,
        limits: &backtick_core::flow::QueueLimits,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        crate::flow_calls::set_queue_limits(&self.inner.pool, queue, limits, now).await
    }

    async fn queue_limits(&self) -> Result<Vec<(String, backtick_core::flow::QueueLimits)>, StoreError> {
        crate::flow_calls::queue_limits(&self.inner.pool).await
    }

    async fn enqueue_graph(
        &self,
        graph: backtick_core::flow::JobGraph,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        let ids = crate::flow_calls::graph_on(&mut conn, graph, now).await;
        close_if_broken(&mut conn, &ids);
        ids
    }

    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        if finishes.is_empty() {
            return Ok(FinishReport::default());
        }
        let mut conn = acquire(&self.inner.lifeline).await.map_err(store_error)?;
        let report = fenced::apply(&mut conn, sql::FINISH, finishes, now).await;
        close_if_broken(&mut conn, &report);
        report
    }

    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        lease_ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = acquire(&self.inner.lifeline).await.map_err(store_error)?;
        let extended = fenced::heartbeat(&mut conn, tokens, lease_ttl, now).await;
        close_if_broken(&mut conn, &extended);
        extended
    }

    async fn expired_leases(&self, limit: u32, now: Option<Timestamp>) -> Result<Vec<Job>, StoreError> {
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        let rows = sqlx::query(sql::EXPIRED_LEASES)
            .bind(now)
            .bind(as_i64(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error);
        close_if_broken(&mut conn, &rows);
        let rows = rows?;
        jobs_from_rows(&rows)
    }

    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        if revivals.is_empty() {
            return Ok(FinishReport::default());
        }
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        let report = fenced::apply(&mut conn, sql::REVIVE, revivals, now).await;
        close_if_broken(&mut conn, &report);
        report
    }

    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::CANCEL)
            .bind(id.0)
            .bind(reason)
            .bind(now)
            .execute(&self.inner.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::RETRY)
            .bind(id.0)
            .bind(now)
            .execute(&self.inner.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sql::GET)
            .bind(id.0)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(sql::LIST)
            .bind(filter.state.map(JobState::as_str))
            .bind(filter.queue.as_deref())
            .bind(filter.worker.as_deref())
            .bind(as_i64(filter.limit))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        jobs_from_rows(&rows)
    }

    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError> {
        let rows = sqlx::query(sql::COUNT_BY_STATE)
            .bind(queue)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        let mut counts = StateCounts::default();
        for row in &rows {
            let state: &str = row.try_get("state").map_err(store_error)?;
            decode::add_count(&mut counts, state, row.try_get("n").map_err(store_error)?)?;
        }
        Ok(counts)
    }

    async fn prune_finished(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::PRUNE)
            .bind(before)
            .bind(as_i64(limit))
            .execute(&self.inner.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn upsert_schedules(
        &self,
        schedules: &[ScheduleRecord],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        if schedules.is_empty() {
            return Ok(Vec::new());
        }
        let column = |f: fn(&ScheduleRecord) -> String| schedules.iter().map(f).collect::<Vec<_>>();
        let rows = sqlx::query(sql::UPSERT_SCHEDULES)
            .bind(now)
            .bind(column(|s| s.name.clone()))
            .bind(column(|s| s.worker.clone()))
            .bind(column(|s| s.spec.clone()))
            .bind(schedules.iter().map(|s| s.next_run_at).collect::<Vec<_>>())
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        let mut stored = rows.iter().map(schedule_from_row).collect::<Result<Vec<_>, _>>()?;
        // RETURNING does not promise input order.
        stored.sort_by_key(|record| schedules.iter().position(|s| s.name == record.name));
        Ok(stored)
    }

    async fn due_schedules(
        &self,
        workers: &[String],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let rows = sqlx::query(sql::DUE_SCHEDULES)
            .bind(workers)
            .bind(now)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(schedule_from_row).collect()
    }

    async fn fire_schedule(&self, fire: &ScheduleFire, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let mut tx = self.inner.pool.begin().await.map_err(store_error)?;
        let advanced: Option<bool> = sqlx::query_scalar(sql::ADVANCE_SCHEDULE)
            .bind(&fire.name)
            .bind(fire.expected)
            .bind(fire.next)
            .bind(now)
            .bind(fire.job.is_some())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let Some(enqueue_job) = advanced else {
            return Ok(false); // another runner fired it; dropping `tx` rolls back
        };
        // A paused schedule advances but enqueues nothing.
        if let Some(job) = fire.job.as_ref().filter(|_| enqueue_job) {
            enqueue(&mut EnqueueStatements(&mut tx), vec![job.clone()], now).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn now(&self) -> Result<Timestamp, StoreError> {
        let row = sqlx::query(sql::NOW)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(store_error)?;
        row.try_get(0).map_err(store_error)
    }

    /// [`sql::VACUUM_DUE`], then [`sql::VACUUM`] when it is.
    async fn vacuum(&self) -> Result<bool, StoreError> {
        let due: Option<bool> = sqlx::query_scalar(sql::VACUUM_DUE)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(store_error)?;
        if due != Some(true) {
            return Ok(false);
        }
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        for statement in [sql::VACUUM_QUIET, sql::VACUUM, sql::VACUUM_LOUD_AGAIN] {
            sqlx::raw_sql(statement)
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
        }
        Ok(true)
    }

    async fn register_runner(
        &self,
        runner: &RunnerInfo,
        ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let mut conn = acquire(&self.inner.lifeline).await.map_err(store_error)?;
        let registered = sqlx::query(admin_sql::REGISTER_RUNNER)
            .bind(runner_record(runner, ttl))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(store_error);
        close_if_broken(&mut conn, &registered);
        registered.map(drop)
    }

    async fn deregister_runner(&self, runner: &RunnerId) -> Result<(), StoreError> {
        sqlx::query(admin_sql::DEREGISTER_RUNNER)
            .bind(runner.as_str())
            .execute(&self.inner.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn unserved_jobs(
        &self,
        waited: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<backtick_core::admin::UnservedWorker>, StoreError> {
        let rows = sqlx::query(admin_sql::UNSERVED_JOBS)
            .bind(now)
            .bind(micros(waited))
            .bind(i64::from(backtick_core::admin::UNSERVED_SCAN))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(backtick_core::admin::UnservedWorker {
                    worker: row.try_get("worker").map_err(store_error)?,
                    queue: row.try_get("queue").map_err(store_error)?,
                    jobs: u64::try_from(row.try_get::<i64, _>("jobs").map_err(store_error)?).unwrap_or(0),
                    oldest_due: row.try_get("oldest_due").map_err(store_error)?,
                    oldest_job: JobId(row.try_get("oldest_job").map_err(store_error)?),
                })
            })
            .collect()
    }

    async fn cancel_requests(&self, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(admin_sql::CANCEL_REQUESTS)
            .bind(jobs.iter().map(|id| id.0).collect::<Vec<_>>())
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|r| {
                Ok(cancel_request(
                    JobId(r.try_get("id").map_err(store_error)?),
                    r.try_get("cancel_reason").map_err(store_error)?,
                    r.try_get("cancel_requested_at").map_err(store_error)?,
                ))
            })
            .collect()
    }

    /// Hints from `LISTEN backtick_jobs`, fed by a background task with its own connection
    /// that reconnects with backoff. The task starts at the first call.
    fn subscribe(&self) -> Option<WakeReceiver> {
        self.start_listener();
        Some(self.inner.wake.subscribe())
    }

    /// Waits for the listener task (started by [`QueueStore::subscribe`]) to be listening and,
    /// beside it (the first time), has up to three pool connections open with the claim
    /// statements warm: only a starting runner waits for hints, and its claim loop's
    /// back-to-back calls then find warm connections.
    async fn wait_for_hints(&self, timeout: Duration) -> bool {
        let (live, ()) = tokio::join!(self.wait_listening(timeout), self.warm_for_claims(timeout));
        live
    }

    /// Hints from `LISTEN backtick_cancel`, on the same connection and task as
    /// [`QueueStore::subscribe`]'s.
    fn subscribe_cancels(&self) -> Option<CancelReceiver> {
        self.start_listener();
        Some(self.inner.wake.subscribe_cancels())
    }

    async fn schedule_run_requests(&self, workers: &[String]) -> Result<Vec<ScheduleRunRequest>, StoreError> {
        let rows = sqlx::query(admin_sql::SCHEDULE_RUN_REQUESTS)
            .bind(workers)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|r| {
                Ok(ScheduleRunRequest {
                    name: r.try_get("name").map_err(store_error)?,
                    requested_at: r.try_get("run_requested_at").map_err(store_error)?,
                })
            })
            .collect()
    }

    async fn fire_schedule_request(
        &self,
        request: &ScheduleRunRequest,
        job: &NewJob,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        runner_side::fire_schedule_request(&self.inner.pool, request, job, now).await
    }

    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<Duration>, StoreError> {
        // A runner gives this call up whenever a job is enqueued while it waits: through
        // `acquire`, which never drops a connection halfway through sqlx's test of it.
        let mut conn = acquire(&self.inner.pool).await.map_err(store_error)?;
        let due_in: Result<Option<i64>, StoreError> = sqlx::query_scalar(sql::NEXT_DUE)
            .bind(workers)
            .bind(queues)
            .bind(micros(within))
            .bind(now)
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error);
        close_if_broken(&mut conn, &due_in);
        let due_in = due_in?;
        Ok(due_in.map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0))))
    }
}
