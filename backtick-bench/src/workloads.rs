//! The workloads. Each gets a fresh, migrated database and returns its figures.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use backtick_postgres::{JobContext, JobState, NewJob, QueueStore, Runner, RunnerHandle, worker_fn};
use serde::{Deserialize, Serialize};

use crate::Sizes;
use crate::admin::{self, Database};
use crate::backend::Store;
use crate::profile::{CountingStore, CpuSample};
use crate::report::Figure;

/// What a workload runs against.
pub(crate) struct Env<'a> {
    pub(crate) store: Store,
    pub(crate) db: &'a Database,
    pub(crate) sizes: Sizes,
    /// Print where the time went (`--profile`).
    pub(crate) profile: bool,
}

type Run = for<'a> fn(Env<'a>) -> Pin<Box<dyn Future<Output = Result<Vec<Figure>, String>> + 'a>>;

/// A named workload.
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    pub(crate) run: Run,
}

/// Every workload, in report order.
pub(crate) const ALL: &[Workload] = &[
    Workload {
        name: "A.enqueue.single",
        run: |env| Box::pin(enqueue_single(env)),
    },
    Workload {
        name: "A.enqueue.bulk",
        run: |env| Box::pin(enqueue_bulk(env)),
    },
    Workload {
        name: "A.drain.c10",
        run: |env| Box::pin(drain(env, 10)),
    },
    Workload {
        name: "A.drain.c50",
        run: |env| Box::pin(drain(env, 50)),
    },
    Workload {
        name: "B.latency",
        run: |env| Box::pin(latency(env)),
    },
    Workload {
        name: "C.steady",
        run: |env| Box::pin(steady(env)),
    },
];

/// The arguments of every benchmark job: `{x: 1, y: 2}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Args {
    x: i64,
    y: i64,
}

const ARGS: Args = Args { x: 1, y: 2 };
const NOOP: &str = "bench_noop";
const TIMED: &str = "bench_timed";

fn job(worker: &str) -> Result<NewJob, String> {
    NewJob::new(worker, &ARGS).map_err(|e| e.to_string())
}

fn jobs(worker: &str, n: usize) -> Result<Vec<NewJob>, String> {
    (0..n).map(|_| job(worker)).collect()
}

fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// A.enqueue.single: one `enqueue` per job, each its own statement and transaction.
async fn enqueue_single(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.single;
    let started = Instant::now();
    for _ in 0..n {
        store.enqueue(job(NOOP)?, None).await.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    expect_count(&*store, JobState::Queued, n).await?;
    Ok(vec![Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s")])
}

/// A.enqueue.bulk: `enqueue_many` in batches.
async fn enqueue_bulk(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.bulk;
    let started = Instant::now();
    insert(&*store, NOOP, n, env.sizes.bulk_batch).await?;
    let elapsed = started.elapsed();
    expect_count(&*store, JobState::Queued, n).await?;
    Ok(vec![Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s")])
}

async fn insert(store: &dyn QueueStore, worker: &str, n: usize, batch: usize) -> Result<(), String> {
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

/// A.drain.cN: queue the jobs, then time one runner from its start until all are done.
async fn drain(env: Env<'_>, concurrency: usize) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.drain;
    insert(&*store, NOOP, n, 1_000).await?;
    // A table in use has statistics; this one was filled a moment ago and autovacuum has not
    // looked at it yet. Without them the planner takes the claim for a sort of the whole
    // backlog (see the README's Performance section).
    admin::analyze(env.db).await?;
    let counting = env.profile.then(|| CountingStore::new(store.clone()));
    let runner_store: Arc<dyn QueueStore> = match &counting {
        Some(counting) => counting.clone(),
        None => store.clone(),
    };
    let cpu_before = match env.profile {
        true => Some(CpuSample::take(&env.db.url, &env.db.name).await),
        false => None,
    };
    let runner = Runner::builder(runner_store)
        .worker(worker_fn(NOOP, |_: JobContext, _: Args| async { Ok(()) }))
        .map_err(|e| e.to_string())?
        .concurrency(concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let handle = runner.start();
    let done = wait_completed(&handle, n as u64, Duration::from_secs(300)).await;
    let elapsed = started.elapsed();
    if let (Some(counting), Some(before)) = (&counting, &cpu_before) {
        let after = CpuSample::take(&env.db.url, &env.db.name).await;
        let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        eprint!(
            "profile of drain c{concurrency}, {n} jobs in {:.3} s:\n{}{}  tokio tasks alive at the end: {tasks}\n",
            elapsed.as_secs_f64(),
            counting.summary(elapsed),
            before.report(&after),
        );
    }
    let stats = handle.shutdown().await;
    done.map_err(|e| format!("{e}; runner stats {stats:?}"))?;
    expect_count(&*store, JobState::Done, n).await?;
    Ok(vec![Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s")])
}

/// B.latency: an idle runner, jobs enqueued one at a time; each records the time from its
/// `created_at` to its worker's start.
async fn latency(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.latency_jobs;
    let recorder = Recorder::calibrated(&*store).await?;
    let handle = timed_runner(&env.store, store.clone(), &recorder, 10).await?;
    let mut ticks = tokio::time::interval(env.sizes.latency_gap);
    for _ in 0..n {
        ticks.tick().await;
        store.enqueue(job(TIMED)?, None).await.map_err(|e| e.to_string())?;
    }
    let done = wait_completed(&handle, n as u64, Duration::from_secs(60)).await;
    let stats = handle.shutdown().await;
    done.map_err(|e| format!("{e}; runner stats {stats:?}"))?;
    let latencies = recorder.sorted();
    Ok(vec![
        Figure::new("p50_ms", percentile(&latencies, 50.0), "ms"),
        Figure::new("p95_ms", percentile(&latencies, 95.0), "ms"),
        Figure::new("p99_ms", percentile(&latencies, 99.0), "ms"),
    ])
}

/// C.steady: a producer enqueues at a fixed rate (a batch every 10 ms, the jobs due by then)
/// while a runner at concurrency 50 works; then the dead tuples left in the jobs table.
async fn steady(env: Env<'_>) -> Result<Vec<Figure>, String> {
    const TICK: Duration = Duration::from_millis(10);
    let store = env.store.queue();
    let recorder = Recorder::calibrated(&*store).await?;
    let counting = env.profile.then(|| CountingStore::new(store.clone()));
    let runner_store: Arc<dyn QueueStore> = match &counting {
        Some(counting) => counting.clone(),
        None => store.clone(),
    };
    let handle = timed_runner(&env.store, runner_store, &recorder, 50).await?;
    let rate = f64::from(env.sizes.steady_rate);
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = Instant::now();
    let mut sent = 0_usize;
    while started.elapsed() < env.sizes.steady_for {
        ticks.tick().await;
        let due = (started.elapsed().min(env.sizes.steady_for).as_secs_f64() * rate) as usize;
        if due > sent {
            store
                .enqueue_many(jobs(TIMED, due - sent)?, None)
                .await
                .map_err(|e| e.to_string())?;
            sent = due;
        }
    }
    let window = started.elapsed();
    let done_in_window = handle.stats().completed;
    let done = wait_completed(&handle, sent as u64, Duration::from_secs(60)).await;
    let stats = handle.shutdown().await;
    done.map_err(|e| format!("{e}; runner stats {stats:?}"))?;
    // Backends report their table statistics when idle, at most once a second.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let table = admin::table_stats(env.db).await?;
    let latencies = recorder.sorted();
    if let Some(counting) = &counting {
        let at = |p: f64| percentile(&latencies, p);
        eprint!(
            "profile of steady, {sent} jobs in {:.1} s:\n{}  latency ms: p50 {:.2}, p90 {:.2}, p95 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}\n",
            window.as_secs_f64(),
            counting.summary(window),
            at(50.0),
            at(90.0),
            at(95.0),
            at(99.0),
            at(99.9),
            latencies.last().copied().unwrap_or(f64::NAN),
        );
        let over_time: Vec<String> = recorder.p99_over_time(6).iter().map(|p| format!("{p:.1}")).collect();
        eprintln!("  p99 ms in each sixth of the run: {}", over_time.join(", "));
    }
    Ok(vec![
        Figure::new("enqueued_per_s", per_second(sent, window), "jobs/s"),
        Figure::new("done_per_s", done_in_window as f64 / window.as_secs_f64(), "jobs/s"),
        Figure::new("p50_ms", percentile(&latencies, 50.0), "ms"),
        Figure::new("p99_ms", percentile(&latencies, 99.0), "ms"),
        Figure::new("dead_tuples", table.dead as f64, "rows"),
        Figure::new("live_tuples", table.live as f64, "rows"),
        Figure::new("autovacuums", table.autovacuums as f64, "runs"),
        Figure::new("vacuums", table.vacuums as f64, "runs"),
    ])
}

/// A runner whose only worker records each job's start latency in `recorder`, started and
/// idle (its wake-up listener up) when this returns.
async fn timed_runner(
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
        .map_err(|e| e.to_string())?
        .concurrency(concurrency)
        .build()
        .map_err(|e| e.to_string())?
        .start();
    if !store.wait_listening().await {
        return Err("the store's wake-up listener did not come up within 10 s".to_owned());
    }
    // Let the first (empty) claim pass so the runner is waiting for work.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(handle)
}

/// Wait until the runner has written `n` completions, or `timeout`.
async fn wait_completed(handle: &RunnerHandle, n: u64, timeout: Duration) -> Result<(), String> {
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

async fn expect_count(store: &dyn QueueStore, state: JobState, n: usize) -> Result<(), String> {
    let counts = store.count_by_state(None).await.map_err(|e| e.to_string())?;
    if counts.get(state) == n as u64 && counts.total() == n as u64 {
        Ok(())
    } else {
        Err(format!("expected {n} jobs {state:?}, found {counts:?}"))
    }
}

/// Start latencies, in milliseconds on the database clock: the worker's start (local clock
/// plus the measured offset of the database clock) minus the job's `created_at`.
struct Recorder {
    /// Database clock minus local clock.
    offset: chrono::TimeDelta,
    samples: Mutex<Vec<f64>>,
}

impl Recorder {
    /// Measure the database clock's offset from the local clock: the sample with the
    /// shortest round trip of twenty, its reading taken to be at the round trip's midpoint.
    async fn calibrated(store: &dyn QueueStore) -> Result<Arc<Recorder>, String> {
        let mut best: Option<(chrono::TimeDelta, chrono::TimeDelta)> = None;
        for _ in 0..20 {
            let before = chrono::Utc::now();
            let db = store.now().await.map_err(|e| e.to_string())?;
            let after = chrono::Utc::now();
            let round_trip = after - before;
            let offset = db - (before + round_trip / 2);
            if best.is_none_or(|(shortest, _)| round_trip < shortest) {
                best = Some((round_trip, offset));
            }
        }
        let offset = best.map(|(_, offset)| offset).unwrap_or_default();
        Ok(Arc::new(Recorder {
            offset,
            samples: Mutex::new(Vec::new()),
        }))
    }

    fn record(&self, ctx: &JobContext) {
        let start = chrono::Utc::now() + self.offset;
        let micros = (start - ctx.job().created_at).num_microseconds().unwrap_or(i64::MAX);
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(micros as f64 / 1000.0);
    }

    /// The p99 of each of `n` consecutive slices of the samples, in the order recorded.
    fn p99_over_time(&self, n: usize) -> Vec<f64> {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let size = samples.len().div_ceil(n.max(1)).max(1);
        samples
            .chunks(size)
            .map(|chunk| {
                let mut chunk = chunk.to_vec();
                chunk.sort_by(f64::total_cmp);
                percentile(&chunk, 99.0)
            })
            .collect()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner).clone();
        samples.sort_by(f64::total_cmp);
        samples
    }
}

/// The nearest-rank percentile of sorted `values` (NaN when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_takes_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
