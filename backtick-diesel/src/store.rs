//! `DieselStore`: the [`QueueStore`] on a deadpool pool of diesel-async connections.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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
use diesel::OptionalExtension;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::admin_rows::{CancelRequestRow, RunRequestRow};
use crate::connect::{Connector, DieselPool};
use crate::enqueue::EnqueueStatements;
use crate::error::store_error;
use crate::row::{Due, DueIn, FunctionSource, JobRow, Now, PlanLine, StateCount, into_jobs};
use crate::{fenced, runner_side, schedules, sql};

type Pooled =
    deadpool::managed::Object<diesel_async::pooled_connection::AsyncDieselConnectionManager<AsyncPgConnection>>;

/// The PostgreSQL [`QueueStore`] on diesel-async: a deadpool pool of `AsyncPgConnection`s.
/// Cheap to clone: clones share the pool and the wake-up listener.
///
/// Same schema, same statements and same semantics as `backtick-postgres`'s `PgStore`: a job
/// enqueued by one is run by a runner on the other. Every method is one SQL statement, but
/// for an enqueue with unique keys, a schedule's fire and a vacuum (see each); times come from
/// the database clock unless a `now` is injected.
///
/// # Examples
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use backtick_diesel::{DieselStore, NewJob};
/// let store = DieselStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
/// store.migrate().await?;
/// let id = store.enqueue(NewJob::new("send_mail", &"alice@example.com")?).await?;
/// println!("enqueued job {id}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DieselStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: DieselPool,
    /// The runner's lifeline: completions, heartbeats and registrations, on connections of
    /// their own, so that a full server or an exhausted `pool` (claims, enqueues and the
    /// application's own queries) never keeps finished work from being recorded or leases from
    /// being kept. The same pool as `pool` for a store made [`DieselStore::from_pool`].
    pub(crate) lifeline: DieselPool,
    pub(crate) connector: Connector,
    /// What an admin read sets first: `backtick_pg_common::admin_sql::admin_read_settings`.
    pub(crate) admin_read_settings: Option<String>,
    wake: Wake,
    /// Set once the store has seen its schema in place (the warm-up's statements ran, a
    /// migration run or a schema check passed): from then on the pool of a store that opened
    /// it warms each new connection (see `crate::connect::pool`).
    pub(crate) schema_in_place: Arc<AtomicBool>,
}

impl fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DieselStore")
            .field("pool", &self.inner.pool.status())
            .field("listening", &self.inner.wake.is_listening())
            .finish()
    }
}

impl DieselStore {
    pub(crate) fn build(
        pool: DieselPool,
        lifeline: DieselPool,
        connector: Connector,
        admin_statement_timeout: Option<Duration>,
        schema_in_place: Arc<AtomicBool>,
    ) -> Self {
        DieselStore {
            inner: Arc::new(Inner {
                pool,
                lifeline,
                connector,
                admin_read_settings: admin_sql::admin_read_settings(admin_statement_timeout),
                wake: Wake::new(),
                schema_in_place,
            }),
        }
    }

    /// The pool, for the application's own queries and for [`crate::enqueue_in`].
    pub fn pool(&self) -> &DieselPool {
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
    /// (`enable_sort = off`), in a transaction of its own (which writes nothing).
    ///
    /// # Errors
    /// As for any store call; a not-found error when the installed function has no
    /// `RETURN QUERY` statement.
    pub async fn explain_claim(&self, params: &ClaimParams) -> Result<Vec<String>, StoreError> {
        use diesel_async::AsyncConnection;

        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let source: FunctionSource = diesel::sql_query(sql::CLAIM_FUNCTION_SOURCE).get_result(conn).await?;
            let explain = sql::explain_claim(&source.prosrc).ok_or(diesel::result::Error::NotFound)?;
            diesel::sql_query(sql::CLAIM_PLAN_SETTING).execute(conn).await?;
            bind_claim(diesel::sql_query(explain), params)
                .load::<PlanLine>(conn)
                .await
        })
        .await
        .map(|rows| rows.into_iter().map(|row| row.line).collect())
        .map_err(store_error)
    }

    /// Close the pool and stop the listener. Later calls fail with [`StoreError::PoolClosed`].
    pub async fn close(&self) {
        self.inner.wake.stop();
        self.inner.pool.close();
        self.inner.lifeline.close();
    }

    /// A pooled connection.
    pub(crate) async fn conn(&self) -> Result<Pooled, StoreError> {
        self.inner.pool.get().await.map_err(store_error)
    }

    /// A connection of the lifeline pool, for completions, heartbeats and registrations.
    pub(crate) async fn lifeline_conn(&self) -> Result<Pooled, StoreError> {
        self.inner.lifeline.get().await.map_err(store_error)
    }

    /// Start the listener task once, if there is a runtime to run it on.
    fn start_listener(&self) {
        let connector = &self.inner.connector;
        self.inner
            .wake
            .start("DieselStore", self.inner.pool.is_closed(), || connector.clone());
    }
}

/// Run the claim statements (the plain and the limited claim) with `params` on `conn` and drop
/// what they return: with [`backtick_pg_common::warm_up_claim`], claims of nothing that leave
/// the server backend with both claim functions compiled and their statements planned.
pub(crate) async fn warm_claim(
    conn: &mut AsyncPgConnection,
    params: &ClaimParams,
) -> Result<(), diesel::result::Error> {
    bind_claim(diesel::sql_query(sql::CLAIM), params)
        .load::<JobRow>(conn)
        .await?;
    bind_claim(diesel::sql_query(backtick_pg_common::flow_sql::CLAIM_LIMITED), params)
        .load::<JobRow>(conn)
        .await
        .map(drop)
}

/// Run the plain enqueue statement with no job on `conn`: it inserts nothing and sends no
/// wake-up, but leaves the insert trigger's function compiled and the statement planned on
/// that server backend, so that the first enqueue on it pays for none of that.
pub(crate) async fn warm_enqueue(conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
    use backtick_pg_common::enqueue::{EnqueueConnection, JobColumns};
    EnqueueStatements(conn)
        .insert_plain(JobColumns::default(), None)
        .await
        .map(drop)
}

fn bind_claim(query: SqlQuery, params: &ClaimParams) -> BoxedSqlQuery<'static, diesel::pg::Pg, SqlQuery> {
    query
        .into_boxed()
        .bind::<Nullable<Timestamptz>, _>(params.now)
        .bind::<Array<Text>, _>(params.workers.clone())
        .bind::<Nullable<Array<Text>>, _>(params.queues.clone())
        .bind::<BigInt, _>(i64::from(params.limit))
        .bind::<Text, _>(params.runner_id.as_str().to_owned())
        .bind::<BigInt, _>(micros(params.lease_ttl))
}

#[async_trait]
impl QueueStore for DieselStore {
    async fn check_schema(&self) -> Result<(), StoreError> {
        DieselStore::check_schema(self).await
    }

    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        enqueue(&mut EnqueueStatements(&mut *self.conn().await?), jobs, now).await
    }

    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        if params.limit == 0 || params.workers.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<JobRow> = bind_claim(diesel::sql_query(sql::CLAIM), params)
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        let mut jobs = into_jobs(rows)?;
        // UPDATE ... RETURNING has no order: give the jobs back in claim order.
        jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
        Ok(jobs)
    }

    async fn claim_limited(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        if params.limit == 0 || params.workers.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<JobRow> = bind_claim(diesel::sql_query(backtick_pg_common::flow_sql::CLAIM_LIMITED), params)
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(crate::flow_calls::in_claim_order(into_jobs(rows)?))
    }

    async fn set_queue_limits(
        &self,
        queue: &str,
        limits: &backtick_core::flow::QueueLimits,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        crate::flow_calls::set_queue_limits(&mut *self.conn().await?, queue, limits, now).await
    }

    async fn queue_limits(&self) -> Result<Vec<(String, backtick_core::flow::QueueLimits)>, StoreError> {
        crate::flow_calls::queue_limits(&mut *self.conn().await?).await
    }

    async fn enqueue_graph(
        &self,
        graph: backtick_core::flow::JobGraph,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        crate::flow_calls::graph_on(&mut *self.conn().await?, graph, now).await
    }

    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        fenced::apply(self, sql::FINISH, finishes, now).await
    }

    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        lease_ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        fenced::heartbeat(self, tokens, lease_ttl, now).await
    }

    async fn expired_leases(&self, limit: u32, now: Option<Timestamp>) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = diesel::sql_query(sql::EXPIRED_LEASES)
            .bind::<Nullable<Timestamptz>, _>(now)
            .bind::<BigInt, _>(i64::from(limit))
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        into_jobs(rows)
    }

    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        fenced::apply(self, sql::REVIVE, revivals, now).await
    }

    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let changed = diesel::sql_query(sql::CANCEL)
            .bind::<BigInt, _>(id.0)
            .bind::<Text, _>(reason)
            .bind::<Nullable<Timestamptz>, _>(now)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(changed == 1)
    }

    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let changed = diesel::sql_query(sql::RETRY)
            .bind::<BigInt, _>(id.0)
            .bind::<Nullable<Timestamptz>, _>(now)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(changed == 1)
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let rows: Vec<JobRow> = diesel::sql_query(sql::GET)
            .bind::<BigInt, _>(id.0)
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        rows.into_iter().next().map(JobRow::into_job).transpose()
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = diesel::sql_query(sql::LIST)
            .bind::<Nullable<Text>, _>(filter.state.map(JobState::as_str))
            .bind::<Nullable<Text>, _>(filter.queue.as_deref())
            .bind::<Nullable<Text>, _>(filter.worker.as_deref())
            .bind::<BigInt, _>(i64::from(filter.limit))
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        into_jobs(rows)
    }

    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError> {
        let rows: Vec<StateCount> = diesel::sql_query(sql::COUNT_BY_STATE)
            .bind::<Nullable<Text>, _>(queue)
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        let mut counts = StateCounts::default();
        for row in rows {
            decode::add_count(&mut counts, &row.state, row.n)?;
        }
        Ok(counts)
    }

    async fn prune_finished(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let deleted = diesel::sql_query(sql::PRUNE)
            .bind::<Timestamptz, _>(before)
            .bind::<BigInt, _>(i64::from(limit))
            .execute(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    async fn now(&self) -> Result<Timestamp, StoreError> {
        let row: Now = diesel::sql_query(sql::NOW)
            .get_result(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(row.now)
    }

    async fn upsert_schedules(
        &self,
        schedules: &[ScheduleRecord],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        if schedules.is_empty() {
            return Ok(Vec::new());
        }
        schedules::upsert(&mut *self.conn().await?, schedules, now).await
    }

    async fn due_schedules(
        &self,
        workers: &[String],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        schedules::due(&mut *self.conn().await?, workers, now).await
    }

    async fn fire_schedule(&self, fire: &ScheduleFire, now: Option<Timestamp>) -> Result<bool, StoreError> {
        schedules::fire(&mut *self.conn().await?, fire, now).await
    }

    /// [`sql::VACUUM_DUE`], then [`sql::VACUUM`] when it is.
    async fn vacuum(&self) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let due: Option<Due> = diesel::sql_query(sql::VACUUM_DUE)
            .get_result(&mut *conn)
            .await
            .optional()
            .map_err(store_error)?;
        if !due.is_some_and(|row| row.due) {
            return Ok(false);
        }
        for statement in [sql::VACUUM_QUIET, sql::VACUUM, sql::VACUUM_LOUD_AGAIN] {
            diesel_async::SimpleAsyncConnection::batch_execute(&mut *conn, statement)
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
        diesel::sql_query(admin_sql::REGISTER_RUNNER)
            .bind::<Text, _>(runner_record(runner, ttl))
            .bind::<Nullable<Timestamptz>, _>(now)
            .execute(&mut *self.lifeline_conn().await?)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn deregister_runner(&self, runner: &RunnerId) -> Result<(), StoreError> {
        diesel::sql_query(admin_sql::DEREGISTER_RUNNER)
            .bind::<Text, _>(runner.as_str())
            .execute(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn unserved_jobs(
        &self,
        waited: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<backtick_core::admin::UnservedWorker>, StoreError> {
        let rows: Vec<crate::row::UnservedRow> = diesel::sql_query(admin_sql::UNSERVED_JOBS)
            .bind::<Nullable<Timestamptz>, _>(now)
            .bind::<BigInt, _>(micros(waited))
            .bind::<BigInt, _>(i64::from(backtick_core::admin::UNSERVED_SCAN))
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|row| backtick_core::admin::UnservedWorker {
                worker: row.worker,
                queue: row.queue,
                jobs: u64::try_from(row.jobs).unwrap_or(0),
                oldest_due: row.oldest_due,
                oldest_job: JobId(row.oldest_job),
            })
            .collect())
    }

    async fn cancel_requests(&self, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<CancelRequestRow> = diesel::sql_query(admin_sql::CANCEL_REQUESTS)
            .bind::<Array<BigInt>, _>(jobs.iter().map(|id| id.0).collect::<Vec<_>>())
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|r| cancel_request(JobId(r.id), r.cancel_reason, r.cancel_requested_at))
            .collect())
    }

    /// Hints from `LISTEN backtick_jobs`, fed by a background task with its own connection
    /// that reconnects with backoff. The task starts at the first call.
    fn subscribe(&self) -> Option<WakeReceiver> {
        self.start_listener();
        Some(self.inner.wake.subscribe())
    }

    /// Waits for the listener task (started by [`QueueStore::subscribe`]) to be listening.
    async fn wait_for_hints(&self, timeout: Duration) -> bool {
        self.wait_listening(timeout).await
    }

    /// Hints from `LISTEN backtick_cancel`, on the same connection and task as
    /// [`QueueStore::subscribe`]'s.
    fn subscribe_cancels(&self) -> Option<CancelReceiver> {
        self.start_listener();
        Some(self.inner.wake.subscribe_cancels())
    }

    async fn schedule_run_requests(&self, workers: &[String]) -> Result<Vec<ScheduleRunRequest>, StoreError> {
        let rows: Vec<RunRequestRow> = diesel::sql_query(admin_sql::SCHEDULE_RUN_REQUESTS)
            .bind::<Array<Text>, _>(workers)
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|r| ScheduleRunRequest {
                name: r.name,
                requested_at: r.run_requested_at,
            })
            .collect())
    }

    async fn fire_schedule_request(
        &self,
        request: &ScheduleRunRequest,
        job: &NewJob,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        runner_side::fire_schedule_request(&mut *self.conn().await?, request, job, now).await
    }

    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<Duration>, StoreError> {
        let row: DueIn = diesel::sql_query(sql::NEXT_DUE)
            .bind::<Array<Text>, _>(workers)
            .bind::<Nullable<Array<Text>>, _>(queues)
            .bind::<BigInt, _>(micros(within))
            .bind::<Nullable<Timestamptz>, _>(now)
            .get_result(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        Ok(row
            .due_in_us
            .map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0))))
    }
}
