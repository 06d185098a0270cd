//! The workloads. Each gets a fresh, migrated database (and may make more) and returns its
//! figures.

mod dashboard;
mod drain;
mod enqueue;
mod latency;
mod operators;
mod scale;
mod soak;
mod steady;

pub(crate) use steady::Pace;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backtick_postgres::{JobContext, JobState, NewJob, QueueStore, Runner, RunnerHandle, worker_fn};
use serde::{Deserialize, Serialize};

use crate::admin::{Database, Server};
use crate::backend::{Backend, Store};
use crate::limits::Limit;
use crate::options::Sizes;
use crate::recorder::{Recorder, percentile};
use crate::report::Figure;

/// What a workload runs against.
pub(crate) struct Env<'a> {
    pub(crate) backend: Backend,
    pub(crate) server: &'a Server,
    /// The workload's database, migrated, with `store` open on it.
    pub(crate) db: &'a Database,
    pub(crate) store: Store,
    pub(crate) sizes: Sizes,
    /// Print where the time went (`--profile`).
    pub(crate) profile: bool,
    /// The workload's name, for the names of its extra databases.
    pub(crate) workload: &'static str,
    /// The prefix of its databases' names (the backend, or `sql` for the limits).
    pub(crate) db_tag: &'static str,
    /// Samples over time the workload reports (the soak), for the JSON file.
    pub(crate) series: &'a Mutex<Vec<serde_json::Value>>,
}

impl Env<'_> {
    /// Run `f` on a second fresh, migrated database named after the workload and `tag`,
    /// dropped afterwards (also when `f` fails).
    pub(crate) async fn with_extra_db<T, F, Fut>(&self, tag: &str, f: F) -> Result<T, String>
    where
        F: FnOnce(Database) -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let db = self
            .server
            .create_database(self.db_tag, &format!("{}.{tag}", self.workload))
            .await?;
        let result = async {
            let store = self.backend.open(&db.url).await?;
            store.close().await;
            f(db.clone()).await
        }
        .await;
        self.server.drop_database(&db).await?;
        result
    }
}

type Run = for<'a> fn(Env<'a>) -> Pin<Box<dyn Future<Output = Result<Vec<Figure>, String>> + 'a>>;

/// When a workload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Always (at small sizes with `--quick`).
    Always,
    /// Only with `--large`: it takes minutes.
    Large,
    /// Only with `--soak`.
    Soak,
}

/// A named workload.
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    pub(crate) run: Run,
    /// The plain SQL limits its figures are reported against (measured first when it runs).
    pub(crate) limits: &'static [Limit],
    pub(crate) gate: Gate,
}

impl Workload {
    pub(crate) const fn new(name: &'static str, run: Run) -> Workload {
        Workload {
            name,
            run,
            limits: &[],
            gate: Gate::Always,
        }
    }

    const fn against(self, limits: &'static [Limit]) -> Workload {
        Workload { limits, ..self }
    }

    const fn gated(self, gate: Gate) -> Workload {
        Workload { gate, ..self }
    }
}

/// Every backtick workload, in report order.
pub(crate) const ALL: &[Workload] = &[
    Workload::new("A.enqueue.single", |env| Box::pin(enqueue::single(env))).against(&[Limit::InsertSingle]),
    Workload::new("A.enqueue.bulk", |env| Box::pin(enqueue::bulk(env))).against(&[Limit::InsertBulk]),
    Workload::new("A.drain.c10", |env| Box::pin(drain::burst(env, 10))).against(&[Limit::Claim]),
    Workload::new("A.drain.c50", |env| Box::pin(drain::burst(env, 50))).against(&[Limit::Claim]),
    Workload::new("A.drain.c50.limited", |env| Box::pin(drain::limited(env, 50))).against(&[Limit::Claim]),
    Workload::new("A.drain.c50.recorder", |env| Box::pin(drain::recorded(env, 50))).against(&[Limit::Claim]),
    Workload::new("A.drain.c10.analyzed", |env| Box::pin(drain::analyzed(env, 10))).against(&[Limit::Claim]),
    Workload::new("A.drain.c50.analyzed", |env| Box::pin(drain::analyzed(env, 50))).against(&[Limit::Claim]),
    Workload::new("B.latency", |env| Box::pin(latency::idle(env))),
    Workload::new("B.first_job", |env| Box::pin(latency::first_job(env))),
    Workload::new("B.due", |env| Box::pin(latency::due(env))),
    Workload::new("C.steady", |env| Box::pin(steady::steady(env))).against(&[Limit::SteadyP99]),
    Workload::new("D.processes", |env| Box::pin(scale::processes(env))).against(&[Limit::Claim]),
    Workload::new("D.backlog", |env| Box::pin(scale::backlog(env)))
        .against(&[Limit::Claim])
        .gated(Gate::Large),
    Workload::new("D.finished_10m", |env| Box::pin(scale::finished(env)))
        .against(&[Limit::Claim])
        .gated(Gate::Large),
    Workload::new("E.held_memory", |env| Box::pin(soak::held_memory(env))),
    Workload::new("E.soak", |env| Box::pin(soak::soak(env)))
        .against(&[Limit::SteadyP99])
        .gated(Gate::Soak),
    Workload::new("F.admin", |env| Box::pin(operators::admin_reads(env))),
    Workload::new("F.dashboard", |env| Box::pin(dashboard::pages(env))),
];

/// The arguments of every benchmark job: `{x: 1, y: 2}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Args {
    x: i64,
    y: i64,
}

pub(crate) const ARGS: Args = Args { x: 1, y: 2 };
/// A worker that does nothing.
pub(crate) const NOOP: &str = "bench_noop";
/// A worker that records its start latency.
pub(crate) const TIMED: &str = "bench_timed";

pub(crate) fn job(worker: &str) -> Result<NewJob, String> {
    NewJob::new(worker, &ARGS).map_err(|e| e.to_string())
}

pub(crate) fn jobs(worker: &str, n: usize) -> Result<Vec<NewJob>, String> {
    (0..n).map(|_| job(worker)).collect()
}

pub(crate) fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The p50 and p95 of `times` (ms) and p95 / `target_ms` as the figures named `metrics`, with
/// a line saying whether `what` is within the target.
pub(crate) fn timed_figures(what: &str, metrics: [&'static str; 3], times: &[f64], target_ms: f64) -> Vec<Figure> {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&sorted, 50.0), percentile(&sorted, 95.0));
    let verdict = if p95 <= target_ms { "within" } else { "OVER" };
    eprintln!(
        "bench:   {what}: p50 {p50:.1} ms, p95 {p95:.1} ms over {} runs: {verdict} the {target_ms:.0} ms target",
        times.len()
    );
    vec![
        Figure::new(metrics[0], p50, "ms"),
        Figure::new(metrics[1], p95, "ms"),
        Figure::new(metrics[2], p95 / target_ms, "ratio"),
    ]
}

/// Enqueue `n` jobs for `worker` with `enqueue_many` in batches of `batch`.
pub(crate) async fn insert(store: &dyn QueueStore, worker: &str, n: usize, batch: usize) -> Result<(), String> {
    let mut left = n;
    while left > 0 {
        let size = left.min(batch);
        store
            .enqueue_many(jobs(worker, size)?, None)
            .await
            .map_err(|e| e.to_string())?;
        left -= size;
    }
    Ok(())
}

/// A runner whose only worker records each job's start latency in `recorder`, started and
/// idle (its wake-up listener up) when this returns.
pub(crate) async fn timed_runner(
    store: &Store,
    runner_store: Arc<dyn QueueStore>,
    recorder: &Arc<Recorder>,
    concurrency: usize,
) -> Result<RunnerHandle, String> {
    let record = recorder.clone();
    let handle = Runner::builder(runner_store)
        .worker(worker_fn(TIMED, move |ctx: JobContext, _: Args| {
            record.record(&ctx);
            async { Ok(()) }
        }))
        .concurrency(concurrency)
        .build()
        .map_err(|e| e.to_string())?
        .start();
    wait_idle(store).await?;
    Ok(handle)
}

/// Wait until `store`'s wake-up listener is up and a runner's first (empty) claim has passed.
pub(crate) async fn wait_idle(store: &Store) -> Result<(), String> {
    if !store.wait_listening().await {
        return Err("the store's wake-up listener did not come up within 10 s".to_owned());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}

/// How long to wait for `n` jobs before calling a run stuck: 5 minutes, plus a millisecond
/// a job for big runs.
pub(crate) fn patience(n: usize) -> Duration {
    Duration::from_secs(300) + Duration::from_millis(n as u64)
}

/// Wait until the runner has written `n` completions, or `timeout`.
pub(crate) async fn wait_completed(handle: &RunnerHandle, n: u64, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while handle.stats().completed < n {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {n} jobs were done after {timeout:?}",
                handle.stats().completed
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Fail unless the store holds exactly `n` jobs, all in `state`.
pub(crate) async fn expect_count(store: &dyn QueueStore, state: JobState, n: usize) -> Result<(), String> {
    let counts = store.count_by_state(None).await.map_err(|e| e.to_string())?;
    if counts.get(state) == n as u64 && counts.total() == n as u64 {
        Ok(())
    } else {
        Err(format!("expected {n} jobs {state:?}, found {counts:?}"))
    }
}
