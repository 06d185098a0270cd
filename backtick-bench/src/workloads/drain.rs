//! A.drain: a burst of no-op jobs queued into a fresh table, then one runner drains it, timed
//! from before its store connects (a user's process start) until every job is done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backtick_postgres::{JobContext, JobState, QueueStore, Runner, worker_fn};

use super::{Args, Env, NOOP, expect_count, insert, patience, per_second, wait_completed};
use crate::admin::{self, Database};
use crate::backend::Backend;
use crate::limits::Limit;
use crate::metrics_switch::Recording;
use crate::profile::{CountingStore, CpuSample};
use crate::report::Figure;

/// A.drain.cN: queue the burst, then time one runner at `concurrency` draining it. With
/// `analyzed` (a comparison figure only) the table is `ANALYZE`d first, which a user's burst
/// into a fresh or suddenly grown table does not get: autovacuum analyzes it only later.
pub(super) async fn burst(env: Env<'_>, concurrency: usize, analyzed: bool) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.drain;
    insert(&*store, NOOP, n, 1_000).await?;
    if analyzed {
        admin::analyze(env.db).await?;
    }
    let elapsed = timed_drain(env.backend, env.db, concurrency, n, env.profile).await?;
    expect_count(&*store, JobState::Done, n).await?;
    Ok(vec![
        Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s").against(Limit::Claim),
    ])
}

/// A.drain.cN.recorder: the burst drained with a real Prometheus recorder installed (not
/// served), beside the same burst drained without one on a second fresh database, in the
/// same run: `jobs_per_s` with the recorder and `ratio_to_plain`, its throughput over the
/// plain drain's (1.0: the metrics cost nothing; the target is at least 0.95).
pub(super) async fn recorded(env: Env<'_>, concurrency: usize) -> Result<Vec<Figure>, String> {
    let (backend, n) = (env.backend, env.sizes.drain);
    let plain = env
        .with_extra_db("plain", |db| async move {
            let store = backend.open(&db.url).await?;
            insert(&*store.queue(), NOOP, n, 1_000).await?;
            store.close().await;
            timed_drain(backend, &db, concurrency, n, false).await
        })
        .await?;
    let store = env.store.queue();
    insert(&*store, NOOP, n, 1_000).await?;
    let recording = Recording::start()?;
    let elapsed = timed_drain(backend, env.db, concurrency, n, env.profile).await?;
    let page = recording.handle().render();
    drop(recording);
    expect_count(&*store, JobState::Done, n).await?;
    if !page.contains("backtick_jobs_finished_total") {
        return Err(format!("the recorder saw no finished job:\n{page}"));
    }
    Ok(vec![
        Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s").against(Limit::Claim),
        Figure::new("ratio_to_plain", plain.as_secs_f64() / elapsed.as_secs_f64(), "ratio"),
    ])
}

/// Drain the `n` jobs queued in `db` with one runner of `backend` at `concurrency`: the time
/// from before its store connects (and checks the migrations, as an application's start
/// does) until it has completed all `n`.
pub(crate) async fn timed_drain(
    backend: Backend,
    db: &Database,
    concurrency: usize,
    n: usize,
    profile: bool,
) -> Result<Duration, String> {
    let cpu_before = match profile {
        true => Some(CpuSample::take(&db.url, &db.name).await),
        false => None,
    };
    let started = Instant::now();
    let store = backend.open(&db.url).await?;
    let counting = profile.then(|| CountingStore::new(store.queue()));
    let runner_store: Arc<dyn QueueStore> = match &counting {
        Some(counting) => counting.clone(),
        None => store.queue(),
    };
    let runner = Runner::builder(runner_store)
        .worker(worker_fn(NOOP, |_: JobContext, _: Args| async { Ok(()) }))
        .concurrency(concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let handle = runner.start();
    let done = wait_completed(&handle, n as u64, patience(n)).await;
    let elapsed = started.elapsed();
    if let (Some(counting), Some(before)) = (&counting, &cpu_before) {
        let after = CpuSample::take(&db.url, &db.name).await;
        let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        eprint!(
            "profile of drain c{concurrency}, {n} jobs in {:.3} s:\n{}{}  tokio tasks alive at the end: {tasks}\n",
            elapsed.as_secs_f64(),
            counting.summary(elapsed),
            before.report(&after),
        );
    }
    let stats = handle.shutdown().await;
    store.close().await;
    done.map_err(|e| format!("{e}; runner stats {stats:?}"))?;
    Ok(elapsed)
}
