//! E: long runs and memory. A runner in a process of its own, so that its memory
//! (`/proc/<pid>/status`) holds nothing of the benchmark's.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use super::steady::produce;
use super::{Env, insert, per_second};
use crate::admin;
use crate::child::{self, Child, ChildSpec, ChildWorker, Event, LatencyLine};
use crate::limits::Limit;
use crate::report::Figure;

const KIB: f64 = 1024.0;

/// Wait for the next event of a child, at most `timeout`.
async fn next_event(events: &mut mpsc::UnboundedReceiver<(usize, Event)>, timeout: Duration) -> Result<Event, String> {
    match tokio::time::timeout(timeout, events.recv()).await {
        Ok(Some((_, event))) => Ok(event),
        Ok(None) => Err("the child runner ended early".to_owned()),
        Err(_) => Err(format!("the child runner said nothing for {timeout:?}")),
    }
}

/// Wait until the child says `ready`.
async fn wait_ready(events: &mut mpsc::UnboundedReceiver<(usize, Event)>) -> Result<(), String> {
    while next_event(events, Duration::from_secs(30)).await? != Event::Ready {}
    Ok(())
}

fn rss(child: &Child) -> Result<u64, String> {
    child
        .pid()
        .and_then(child::rss_kib)
        .ok_or_else(|| "cannot read the child runner's memory (/proc/<pid>/status)".to_owned())
}

/// E.held_memory: a runner at concurrency `held_jobs` whose jobs sleep: its resident memory
/// when idle, and once it holds `held_jobs` claimed jobs; the difference per job.
pub(super) async fn held_memory(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let n = env.sizes.held_jobs;
    let spec = ChildSpec {
        backend: env.backend,
        url: env.db.url.clone(),
        concurrency: n,
        worker: ChildWorker::Hold,
        progress: true,
        window: None,
    };
    let (sender, mut events) = mpsc::unbounded_channel();
    let child = Child::spawn(&spec, 0, sender)?;
    wait_ready(&mut events).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss(&child)?;
    insert(&*env.store.queue(), child::HOLD, n, env.sizes.bulk_batch).await?;
    loop {
        if let Event::Progress { claimed, .. } = next_event(&mut events, Duration::from_secs(60)).await?
            && claimed >= n as u64
        {
            break;
        }
    }
    // Let every claimed job's task start.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = rss(&child)?;
    child.stop().await?;
    let per_job = (held.saturating_sub(idle)) as f64 * KIB / n as f64;
    Ok(vec![
        Figure::new("held_jobs", n as f64, "jobs"),
        Figure::new("rss_idle_mib", idle as f64 / KIB, "MiB"),
        Figure::new("rss_held_mib", held as f64 / KIB, "MiB"),
        Figure::new("bytes_per_job", per_job, "bytes"),
    ])
}

/// One sample of the soak.
struct Sample {
    at: Duration,
    latency: LatencyLine,
    dead_tuples: i64,
    rss_kib: u64,
}

/// E.soak: a producer at `soak_rate` jobs/s for `soak_for` while a runner (concurrency 50,
/// its own process) runs them; every window the start latencies of the window, the dead
/// tuples of the jobs table and the runner's resident memory. Memory growth is measured from
/// the end of the warm-up (the first sixth of the run) to the end.
pub(super) async fn soak(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let duration = env.sizes.soak_for;
    let window = (duration / 30).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let spec = ChildSpec {
        backend: env.backend,
        url: env.db.url.clone(),
        concurrency: 50,
        worker: ChildWorker::Timed,
        progress: false,
        window: Some(window),
    };
    let (sender, mut events) = mpsc::unbounded_channel();
    let child = Child::spawn(&spec, 0, sender)?;
    wait_ready(&mut events).await?;
    let store = env.store.queue();
    let rate = f64::from(env.sizes.soak_rate);
    let started = Instant::now();
    let mut producer = tokio::spawn(async move { produce(&*store, rate, duration).await });
    let mut samples = Vec::new();
    let patience = window * 3 + Duration::from_secs(10);
    let sent = loop {
        tokio::select! {
            sent = &mut producer => break sent.map_err(|e| e.to_string())??,
            event = next_event(&mut events, patience) => {
                if let Event::Window(latency) = event? {
                    samples.push(sample(&env, &child, started, latency).await?);
                }
            }
        }
    };
    let produced_for = started.elapsed();
    // The rate of completions while the producer ran: up to its last window.
    let done_per_s = samples
        .last()
        .map_or(f64::NAN, |s| s.latency.completed as f64 / s.at.as_secs_f64());
    // Let the runner finish what was sent, then stop it and read its totals.
    let deadline = Instant::now() + Duration::from_secs(60);
    while samples.last().is_none_or(|s| s.latency.completed < sent as u64) && Instant::now() < deadline {
        if let Event::Window(latency) = next_event(&mut events, patience).await? {
            samples.push(sample(&env, &child, started, latency).await?);
        }
    }
    child.stop().await?;
    let mut total = None;
    while let Some((_, event)) = events.recv().await {
        if let Event::Total(line) = event {
            total = Some(line);
        }
    }
    let total = total.ok_or("the child runner printed no totals")?;
    if total.completed < sent as u64 {
        return Err(format!("the runner completed {} of {sent} jobs", total.completed));
    }
    *env.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = samples.iter().map(point).collect();
    Ok(figures(&samples, sent, done_per_s, produced_for, duration, total))
}

async fn sample(env: &Env<'_>, child: &Child, started: Instant, latency: LatencyLine) -> Result<Sample, String> {
    let sample = Sample {
        at: started.elapsed(),
        latency,
        dead_tuples: admin::table_stats(env.db).await?.dead,
        rss_kib: rss(child)?,
    };
    eprintln!(
        "bench:   soak {:>6.0} s: {} done, window p50 {:.2} p99 {:.2} max {:.2} ms, {} dead tuples, runner rss {:.1} MiB",
        sample.at.as_secs_f64(),
        latency.completed,
        latency.p50_ms,
        latency.p99_ms,
        latency.max_ms,
        sample.dead_tuples,
        sample.rss_kib as f64 / KIB
    );
    Ok(sample)
}

fn point(sample: &Sample) -> serde_json::Value {
    json!({
        "t_s": sample.at.as_secs_f64(),
        "completed": sample.latency.completed,
        "window_jobs": sample.latency.n,
        "p50_ms": sample.latency.p50_ms,
        "p99_ms": sample.latency.p99_ms,
        "max_ms": sample.latency.max_ms,
        "dead_tuples": sample.dead_tuples,
        "rss_kib": sample.rss_kib,
    })
}

fn figures(
    samples: &[Sample],
    sent: usize,
    done_per_s: f64,
    produced_for: Duration,
    duration: Duration,
    total: LatencyLine,
) -> Vec<Figure> {
    let warm_up = duration / 6;
    let warm = samples.iter().find(|s| s.at >= warm_up).or(samples.first());
    let end = samples.iter().rfind(|s| s.at <= produced_for).or(samples.last());
    let rss_mib = |s: Option<&Sample>| s.map_or(f64::NAN, |s| s.rss_kib as f64 / KIB);
    let growth = match (warm, end) {
        (Some(warm), Some(end)) if warm.rss_kib > 0 => 100.0 * (end.rss_kib as f64 / warm.rss_kib as f64 - 1.0),
        _ => f64::NAN,
    };
    let worst_p99 = samples
        .iter()
        .filter(|s| s.latency.n > 0)
        .map(|s| s.latency.p99_ms)
        .fold(f64::NAN, f64::max);
    let dead_max = samples.iter().map(|s| s.dead_tuples).max().unwrap_or(0);
    let dead_end = end.map_or(0, |s| s.dead_tuples);
    vec![
        Figure::new("minutes", duration.as_secs_f64() / 60.0, "min"),
        Figure::new("enqueued_per_s", per_second(sent, produced_for), "jobs/s"),
        Figure::new("done_per_s", done_per_s, "jobs/s"),
        Figure::new("p50_ms", total.p50_ms, "ms"),
        Figure::new("p99_ms", total.p99_ms, "ms").against(Limit::SteadyP99),
        Figure::new("worst_window_p99_ms", worst_p99, "ms"),
        Figure::new("dead_tuples_max", dead_max as f64, "rows"),
        Figure::new("dead_tuples_end", dead_end as f64, "rows"),
        Figure::new("rss_warm_mib", rss_mib(warm), "MiB"),
        Figure::new("rss_end_mib", rss_mib(end), "MiB"),
        Figure::new("rss_growth_pct", growth, "%"),
    ]
}
