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
use crate::profile::{COST_FIGURES, Cost, CountingStore, CpuSample};
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
    let (elapsed, cost) = timed_drain(env.backend, env.db, concurrency, n, env.profile).await?;
    expect_count(&*store, JobState::Done, n).await?;
    let mut figures = vec![Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s").against(Limit::Claim)];
    figures.extend(cost.figures(COST_FIGURES));
    Ok(figures)
}

/// A.drain.cN.recorder: the burst drained with a real Prometheus recorder installed (not
/// served) and without one, each four times, interleaved plain, recorded, recorded, plain,
/// twice (so that a drift of the machine during the run weighs on both alike, and one noisy
/// drain moves the ratio by a quarter as much), every drain on a fresh database of its own:
/// `jobs_per_s` with the recorder (over its four drains),
/// `plain_jobs_per_s` without, and `ratio_to_plain`, the recorded throughput over the plain
/// one (1.0: the metrics cost nothing; the target is at least 0.95). The recorder's page of the
/// last recorded drain is written to `target/bench/metrics-page.txt`.
pub(super) async fn recorded(env: Env<'_>, concurrency: usize) -> Result<Vec<Figure>, String> {
    let (mut plain, mut with_recorder) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: [bool; 8] = [false, true, true, false, false, true, true, false];
    for (round, recording) in ROUNDS.into_iter().enumerate() {
        let tag = format!("{}{round}", if recording { "recorded" } else { "plain" });
        let elapsed = env
            .with_extra_db(&tag, |db| {
                drain_once(env.backend, db, concurrency, env.sizes.drain, recording)
            })
            .await?;
        match recording {
            true => with_recorder += elapsed,
            false => plain += elapsed,
        }
    }
    let n = ROUNDS.len() / 2 * env.sizes.drain;
    Ok(vec![
        Figure::new("jobs_per_s", per_second(n, with_recorder), "jobs/s").against(Limit::Claim),
        Figure::new("plain_jobs_per_s", per_second(n, plain), "jobs/s").against(Limit::Claim),
        Figure::new(
            "ratio_to_plain",
            plain.as_secs_f64() / with_recorder.as_secs_f64(),
            "ratio",
        ),
    ])
}

/// One drain of a fresh burst of `n` jobs in `db`, with the Prometheus recorder on when
/// `recording` (checked to have seen the finished jobs, its page kept for reading).
async fn drain_once(
    backend: Backend,
    db: Database,
    concurrency: usize,
    n: usize,
    recording: bool,
) -> Result<Duration, String> {
    let store = backend.open(&db.url).await?;
    insert(&*store.queue(), NOOP, n, 1_000).await?;
    let recorder = match recording {
        true => Some(Recording::start()?),
        false => None,
    };
    let (elapsed, _) = timed_drain(backend, &db, concurrency, n, false).await?;
    expect_count(&*store.queue(), JobState::Done, n).await?;
    store.close().await;
    if let Some(recorder) = recorder {
        let page = recorder.handle().render();
        drop(recorder);
        if !page.contains("backtick_jobs_finished_total") {
            return Err(format!("the recorder saw no finished job:\n{page}"));
        }
        keep_page(&page);
    }
    Ok(elapsed)
}

/// Write the recorder's page to `target/bench/metrics-page.txt` (best effort: a failure is
/// only reported).
fn keep_page(page: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/metrics-page.txt");
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, page));
    if let Err(error) = written {
        eprintln!("bench: cannot keep the metrics page in {}: {error}", path.display());
    }
}

/// Drain the `n` jobs queued in `db` with one runner of `backend` at `concurrency`: the time
/// from before its store connects (and checks the migrations, as an application's start
/// does) until it has completed all `n`, and what the drain cost per job (sampled outside
/// the timed window).
pub(crate) async fn timed_drain(
    backend: Backend,
    db: &Database,
    concurrency: usize,
    n: usize,
    profile: bool,
) -> Result<(Duration, Cost), String> {
    let before = CpuSample::take(&db.url, &db.name).await;
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
    let after = CpuSample::take(&db.url, &db.name).await;
    let cost = before.cost(&after, n);
    if let Some(counting) = &counting {
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
    Ok((elapsed, cost))
}
