//! C.steady: a producer at a fixed rate while a runner works.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backtick_postgres::QueueStore;

use super::{Env, TIMED, jobs, per_second, timed_runner, wait_completed};
use crate::admin;
use crate::limits::Limit;
use crate::profile::CountingStore;
use crate::recorder::{Recorder, percentile};
use crate::report::Figure;

/// C.steady: a producer enqueues at a fixed rate (a batch every 10 ms, the jobs due by then)
/// while a runner at concurrency 50 works; then the dead tuples left in the jobs table.
pub(super) async fn steady(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let recorder = Recorder::calibrated(&*store).await?;
    let counting = env.profile.then(|| CountingStore::new(store.clone()));
    let runner_store: Arc<dyn QueueStore> = match &counting {
        Some(counting) => counting.clone(),
        None => store.clone(),
    };
    let handle = timed_runner(&env.store, runner_store, &recorder, 50).await?;
    let rate = f64::from(env.sizes.steady_rate);
    let started = Instant::now();
    let sent = produce(&*store, rate, env.sizes.steady_for).await?;
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
        Figure::new("p99_ms", percentile(&latencies, 99.0), "ms").against(Limit::SteadyP99),
        Figure::new("dead_tuples", table.dead as f64, "rows"),
        Figure::new("live_tuples", table.live as f64, "rows"),
        Figure::new("autovacuums", table.autovacuums as f64, "runs"),
        Figure::new("vacuums", table.vacuums as f64, "runs"),
    ])
}

/// Enqueue timed jobs at `rate` per second for `duration`: every 10 ms, one `enqueue_many`
/// of the jobs due by then. Returns how many were enqueued.
pub(super) async fn produce(store: &dyn QueueStore, rate: f64, duration: Duration) -> Result<usize, String> {
    let mut pace = Pace::new(rate, duration);
    while let Some(count) = pace.next().await {
        store
            .enqueue_many(jobs(TIMED, count)?, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(pace.sent)
}

/// A steady producer's clock: every 10 ms for a `duration`, how many jobs fell due since the
/// last tick at `rate` per second.
pub(crate) struct Pace {
    rate: f64,
    duration: Duration,
    ticks: tokio::time::Interval,
    started: Instant,
    /// How many jobs fell due so far (all of them once [`Pace::next`] returned `None`).
    pub(crate) sent: usize,
}

impl Pace {
    /// A pace of `rate` jobs per second for `duration`, from now.
    pub(crate) fn new(rate: f64, duration: Duration) -> Self {
        const TICK: Duration = Duration::from_millis(10);
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Pace {
            rate,
            duration,
            ticks,
            started: Instant::now(),
            sent: 0,
        }
    }

    /// Wait for the next tick at which jobs fell due and return how many (counted as sent);
    /// `None` once `duration` has passed.
    pub(crate) async fn next(&mut self) -> Option<usize> {
        while self.started.elapsed() < self.duration {
            self.ticks.tick().await;
            let due = (self.started.elapsed().min(self.duration).as_secs_f64() * self.rate) as usize;
            if due > self.sent {
                let count = due - self.sent;
                self.sent = due;
                return Some(count);
            }
        }
        None
    }
}
