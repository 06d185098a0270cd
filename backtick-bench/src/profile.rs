//! `--profile`: where a workload's time goes. A [`CountingStore`] between the runner and the
//! real store counts every store call (round trips), its rows and its time; [`CpuSample`]s
//! of this process, of the database's backends and of the whole machine show who burnt the
//! CPU.

use backtick_postgres::RunnerId;
use backtick_postgres::admin::{CancelReceiver, CancelRequest, RunnerInfo, ScheduleRunRequest, UnservedWorker};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use backtick_postgres::schedule::{ScheduleFire, ScheduleRecord};
use backtick_postgres::sqlx::{self, Connection, PgConnection};
use backtick_postgres::{
    ClaimParams, ClaimToken, Enqueued, Finish, FinishReport, Job, JobFilter, JobId, NewJob, QueueStore, StateCounts,
    StoreError, Timestamp, WakeReceiver, async_trait,
};

use crate::report::Figure;

/// Calls, rows and time of one store method.
#[derive(Debug, Clone, Copy, Default)]
struct Calls {
    calls: u64,
    rows: u64,
    time: Duration,
}

/// A [`QueueStore`] that forwards every call to `inner` and counts it.
pub(crate) struct CountingStore {
    inner: Arc<dyn QueueStore>,
    calls: Mutex<BTreeMap<&'static str, Calls>>,
}

impl CountingStore {
    pub(crate) fn new(inner: Arc<dyn QueueStore>) -> Arc<CountingStore> {
        Arc::new(CountingStore {
            inner,
            calls: Mutex::new(BTreeMap::new()),
        })
    }

    fn count(&self, method: &'static str, rows: usize, started: Instant) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = calls.entry(method).or_default();
        entry.calls += 1;
        entry.rows += rows as u64;
        entry.time += started.elapsed();
    }

    /// One line per method: calls, rows per call, mean time per call.
    pub(crate) fn summary(&self, wall: Duration) -> String {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        for (method, c) in calls.iter() {
            let _ = writeln!(
                out,
                "  {method:<16} {:>7} calls ({:>7.0}/s)  {:>7.1} rows/call  {:>7.3} ms/call  busy {:>5.1}% of wall",
                c.calls,
                c.calls as f64 / wall.as_secs_f64(),
                c.rows as f64 / c.calls.max(1) as f64,
                c.time.as_secs_f64() * 1000.0 / c.calls.max(1) as f64,
                100.0 * c.time.as_secs_f64() / wall.as_secs_f64(),
            );
        }
        out
    }
}

#[async_trait]
impl QueueStore for CountingStore {
    async fn enqueue(&self, job: NewJob, now: Option<Timestamp>) -> Result<JobId, StoreError> {
        let started = Instant::now();
        let result = self.inner.enqueue(job, now).await;
        self.count("enqueue", 1, started);
        result
    }

    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let (started, n) = (Instant::now(), jobs.len());
        let result = self.inner.enqueue_many_reporting(jobs, now).await;
        self.count("enqueue_many", n, started);
        result
    }

    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        let started = Instant::now();
        let result = self.inner.claim(params).await;
        self.count("claim", result.as_ref().map_or(0, Vec::len), started);
        result
    }

    async fn claim_limited(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        let started = Instant::now();
        let result = self.inner.claim_limited(params).await;
        self.count("claim_limited", result.as_ref().map_or(0, Vec::len), started);
        result
    }

    async fn set_queue_limits(
        &self,
        queue: &str,
        limits: &backtick_postgres::flow::QueueLimits,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.inner.set_queue_limits(queue, limits, now).await
    }

    async fn queue_limits(&self) -> Result<Vec<(String, backtick_postgres::flow::QueueLimits)>, StoreError> {
        self.inner.queue_limits().await
    }

    async fn enqueue_graph(
        &self,
        graph: backtick_postgres::flow::JobGraph,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        self.inner.enqueue_graph(graph, now).await
    }

    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        let started = Instant::now();
        let result = self.inner.finish_many(finishes, now).await;
        self.count("finish_many", finishes.len(), started);
        result
    }

    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        lease_ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        let started = Instant::now();
        let result = self.inner.heartbeat_many(tokens, lease_ttl, now).await;
        self.count("heartbeat_many", tokens.len(), started);
        result
    }

    async fn expired_leases(&self, limit: u32, now: Option<Timestamp>) -> Result<Vec<Job>, StoreError> {
        let started = Instant::now();
        let result = self.inner.expired_leases(limit, now).await;
        self.count("expired_leases", result.as_ref().map_or(0, Vec::len), started);
        result
    }

    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        let started = Instant::now();
        let result = self.inner.revive_many(revivals, now).await;
        self.count("revive_many", revivals.len(), started);
        result
    }

    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.cancel(id, reason, now).await;
        self.count("cancel", 1, started);
        result
    }

    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.retry(id, now).await;
        self.count("retry", 1, started);
        result
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let started = Instant::now();
        let result = self.inner.get(id).await;
        self.count("get", 1, started);
        result
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list(filter).await;
        self.count("list", result.as_ref().map_or(0, Vec::len), started);
        result
    }

    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError> {
        let started = Instant::now();
        let result = self.inner.count_by_state(queue).await;
        self.count("count_by_state", 1, started);
        result
    }

    async fn prune_finished(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.prune_finished(before, limit).await;
        self.count("prune_finished", *result.as_ref().unwrap_or(&0) as usize, started);
        result
    }

    async fn now(&self) -> Result<Timestamp, StoreError> {
        let started = Instant::now();
        let result = self.inner.now().await;
        self.count("now", 1, started);
        result
    }

    async fn upsert_schedules(
        &self,
        schedules: &[ScheduleRecord],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.upsert_schedules(schedules, now).await;
        self.count("upsert_schedules", schedules.len(), started);
        result
    }

    async fn due_schedules(
        &self,
        workers: &[String],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.due_schedules(workers, now).await;
        self.count("due_schedules", result.as_ref().map_or(0, Vec::len), started);
        result
    }

    async fn fire_schedule(&self, fire: &ScheduleFire, now: Option<Timestamp>) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.fire_schedule(fire, now).await;
        self.count("fire_schedule", 1, started);
        result
    }

    async fn vacuum(&self) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.inner.vacuum().await;
        self.count("vacuum", usize::from(*result.as_ref().unwrap_or(&false)), started);
        result
    }

    fn subscribe(&self) -> Option<WakeReceiver> {
        self.inner.subscribe()
    }

    async fn wait_for_hints(&self, timeout: Duration) -> bool {
        self.inner.wait_for_hints(timeout).await
    }

    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<Duration>, StoreError> {
        let started = Instant::now();
        let result = self.inner.next_due(workers, queues, within, now).await;
        self.count("next_due", 1, started);
        result
    }

    async fn register_runner(
        &self,
        runner: &RunnerInfo,
        ttl: std::time::Duration,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.inner.register_runner(runner, ttl, now).await
    }

    async fn deregister_runner(&self, runner: &RunnerId) -> Result<(), StoreError> {
        self.inner.deregister_runner(runner).await
    }
    async fn unserved_jobs(&self, waited: Duration, now: Option<Timestamp>) -> Result<Vec<UnservedWorker>, StoreError> {
        self.inner.unserved_jobs(waited, now).await
    }

    async fn cancel_requests(&self, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError> {
        self.inner.cancel_requests(jobs).await
    }

    fn subscribe_cancels(&self) -> Option<CancelReceiver> {
        self.inner.subscribe_cancels()
    }

    async fn schedule_run_requests(&self, workers: &[String]) -> Result<Vec<ScheduleRunRequest>, StoreError> {
        self.inner.schedule_run_requests(workers).await
    }

    async fn fire_schedule_request(
        &self,
        request: &ScheduleRunRequest,
        job: &NewJob,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.inner.fire_schedule_request(request, job, now).await
    }
}

/// CPU time so far (seconds) of this process, of the backends connected to one database,
/// and of the whole machine (busy and total), read from `/proc`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuSample {
    at: Option<Instant>,
    this_process: f64,
    backends: BTreeMap<i32, f64>,
    machine_busy: f64,
    machine_total: f64,
    commits: i64,
    /// The server's WAL position in bytes (`pg_current_wal_lsn`), for WAL written per job.
    wal_bytes: f64,
}

/// What a drain cost per job: CPU of the client process (the runner, or the plain SQL loop),
/// CPU of the database backends serving it, and WAL the server wrote. On a machine whose
/// cores the client and the database share, `client + database` CPU per job bounds the
/// throughput at `cores / (client + database)`, whatever the statements.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cost {
    pub(crate) client_cpu_us: f64,
    pub(crate) db_cpu_us: f64,
    pub(crate) wal_bytes: f64,
}

impl Cost {
    /// The three figures, named `<prefix>client_cpu_us_per_job` and so on.
    pub(crate) fn figures(self, names: [&'static str; 3]) -> Vec<Figure> {
        vec![
            Figure::new(names[0], self.client_cpu_us, "µs/job"),
            Figure::new(names[1], self.db_cpu_us, "µs/job"),
            Figure::new(names[2], self.wal_bytes, "B/job"),
        ]
    }
}

/// The figure names of a drain's [`Cost`].
pub(crate) const COST_FIGURES: [&str; 3] = ["client_cpu_us_per_job", "db_cpu_us_per_job", "wal_bytes_per_job"];

/// CPU seconds so far of the server backend serving `conn` (read from `/proc`: the server runs
/// on this machine); zero when it cannot be read.
pub(crate) async fn backend_cpu(conn: &mut PgConnection) -> f64 {
    let pid: Option<i32> = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn).await.ok();
    pid.and_then(|pid| process_cpu(&pid.to_string())).unwrap_or(0.0)
}

/// CPU seconds so far of this process.
pub(crate) fn own_cpu() -> f64 {
    process_cpu("self").unwrap_or(0.0)
}

/// The server's WAL position in bytes, read over `conn`.
pub(crate) async fn wal_position(conn: &mut PgConnection) -> f64 {
    sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8")
        .fetch_one(conn)
        .await
        .unwrap_or(0.0)
}

/// CPU seconds so far of the process `pid` (zero when it cannot be read).
pub(crate) fn cpu_of(pid: u32) -> f64 {
    process_cpu(&pid.to_string()).unwrap_or(0.0)
}

/// `/proc` reports CPU time in clock ticks of `USER_HZ`, which is 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

fn process_cpu(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let values: Vec<f64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: f64 = values.iter().sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    Some(((total - idle) / TICKS_PER_SECOND, total / TICKS_PER_SECOND))
}

impl CpuSample {
    /// Sample now; the backends are those `pg_stat_activity` lists for `database`.
    pub(crate) async fn take(db_url: &str, database: &str) -> CpuSample {
        let mut sample = CpuSample {
            at: Some(Instant::now()),
            ..CpuSample::default()
        };
        sample.this_process = process_cpu("self").unwrap_or(0.0);
        if let Some((busy, total)) = machine_cpu() {
            sample.machine_busy = busy;
            sample.machine_total = total;
        }
        if let Ok(mut conn) = PgConnection::connect(db_url).await {
            let pids: Vec<i32> =
                sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
                    .bind(database)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
            for pid in pids {
                if let Some(cpu) = process_cpu(&pid.to_string()) {
                    sample.backends.insert(pid, cpu);
                }
            }
            sample.commits = sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
                .bind(database)
                .fetch_one(&mut conn)
                .await
                .unwrap_or(0);
            sample.wal_bytes = wal_position(&mut conn).await;
            let _ = conn.close().await;
        }
        sample
    }

    /// What `jobs` jobs cost between `self` and the later sample `end`.
    pub(crate) fn cost(&self, end: &CpuSample, jobs: usize) -> Cost {
        let backends: f64 = end
            .backends
            .iter()
            .map(|(pid, cpu)| cpu - self.backends.get(pid).copied().unwrap_or(0.0))
            .sum();
        let per_job = |total: f64| total / jobs.max(1) as f64;
        Cost {
            client_cpu_us: per_job(1e6 * (end.this_process - self.this_process)),
            db_cpu_us: per_job(1e6 * backends),
            wal_bytes: per_job(end.wal_bytes - self.wal_bytes),
        }
    }

    /// The CPU seconds the whole machine was busy between `self` and the later sample `end`
    /// (every process: runners, the database, and the rest).
    pub(crate) fn machine_busy_until(&self, end: &CpuSample) -> f64 {
        end.machine_busy - self.machine_busy
    }

    /// What happened between `self` and the later sample `end`.
    pub(crate) fn report(&self, end: &CpuSample) -> String {
        let wall = match (self.at, end.at) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let backends: f64 = end
            .backends
            .iter()
            .map(|(pid, cpu)| cpu - self.backends.get(pid).copied().unwrap_or(0.0))
            .sum();
        let machine_busy = end.machine_busy - self.machine_busy;
        let machine_total = end.machine_total - self.machine_total;
        let pct = |cpu: f64| if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 };
        format!(
            "  cpu over {wall:.2} s wall: this process {:.0}% of a core, the database's {} backends {:.0}%, \
             machine busy {:.0}% of {:.0}% (others and the rest of postgres: {:.0}%)\n  \
             transactions committed in the database: {} ({:.0}/s)\n",
            pct(end.this_process - self.this_process),
            end.backends.len(),
            pct(backends),
            pct(machine_busy),
            pct(machine_total),
            pct(machine_busy - backends - (end.this_process - self.this_process)),
            end.commits - self.commits,
            (end.commits - self.commits) as f64 / wall.max(f64::EPSILON),
        )
    }
}
