//! A.drain: a burst of no-op jobs queued into a fresh table, then one runner drains it, timed
//! from before its store connects (a user's process start) until every job is done.

use std::future::Future;
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

/// A.drain.cN: queue the burst into the fresh table, then time one runner at `concurrency`
/// draining it.
pub(super) async fn burst(env: Env<'_>, concurrency: usize) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.drain;
    insert(&*store, NOOP, n, 1_000).await?;
    let (elapsed, cost) = timed_drain(env.backend, env.db, concurrency, n, env.profile).await?;
    expect_count(&*store, JobState::Done, n).await?;
    let mut figures = vec![Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s").against(Limit::Claim)];
    figures.extend(cost.figures(COST_FIGURES));
    Ok(figures)
}

/// A.drain.cN.limited: A.drain.cN on a queue with a global concurrency limit equal to the
/// runner's concurrency (so the limit itself never holds a job back): what the limited claim
/// (`backtick_claim_limited`, under the queue's row lock) costs against the plain claim.
pub(super) async fn limited(env: Env<'_>, concurrency: usize) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.drain;
    insert(&*store, NOOP, n, 1_000).await?;
    let limit = u32::try_from(concurrency).map_err(|e| e.to_string())?;
    store
        .set_queue_limits(
            backtick_postgres::DEFAULT_QUEUE,
            &backtick_postgres::flow::QueueLimits::new().concurrency(limit),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    let (elapsed, cost) = timed_drain(env.backend, env.db, concurrency, n, env.profile).await?;
    expect_count(&*store, JobState::Done, n).await?;
    let mut figures = vec![Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s").against(Limit::Claim)];
    figures.extend(cost.figures(COST_FIGURES));
    Ok(figures)
}

/// A.drain.cN.recorder: the burst drained with a real Prometheus recorder installed (not
/// served) and without one, [interleaved]: `jobs_per_s` with the recorder (over its four
/// drains), `plain_jobs_per_s` without, and `ratio_to_plain`, the recorded throughput over
/// the plain one (1.0: the metrics cost nothing; the target is at least 0.95). The
/// recorder's page of the last recorded drain is written to `target/bench/metrics-page.txt`.
pub(super) async fn recorded(env: Env<'_>, concurrency: usize) -> Result<Vec<Figure>, String> {
    let n = env.sizes.drain;
    let pair = plain_against(&env, concurrency, ["plain", "recorded"], Setup::Recorder).await?;
    Ok(vec![
        Figure::new("jobs_per_s", pair.variant_rate(n), "jobs/s").against(Limit::Claim),
        Figure::new("plain_jobs_per_s", pair.base_rate(n), "jobs/s").against(Limit::Claim),
        Figure::new("ratio_to_plain", pair.variant_vs_base(), "ratio"),
    ])
}

/// A.drain.cN.analyzed (comparison only): the burst drained after a hand-run `ANALYZE`,
/// which a user's burst into a fresh or suddenly grown table does not get (autovacuum
/// analyzes it only later), and into the fresh, never-analyzed table, [interleaved]:
/// `jobs_per_s` analyzed (over its four drains), `fresh_jobs_per_s`, and
/// `fresh_vs_analyzed`, the fresh table's throughput over the analyzed one's (the target:
/// at least 0.9).
pub(super) async fn analyzed(env: Env<'_>, concurrency: usize) -> Result<Vec<Figure>, String> {
    let n = env.sizes.drain;
    let pair = plain_against(&env, concurrency, ["fresh", "analyzed"], Setup::Analyzed).await?;
    Ok(vec![
        Figure::new("jobs_per_s", pair.variant_rate(n), "jobs/s").against(Limit::Claim),
        Figure::new("fresh_jobs_per_s", pair.base_rate(n), "jobs/s").against(Limit::Claim),
        Figure::new("fresh_vs_analyzed", 1.0 / pair.variant_vs_base(), "ratio"),
    ])
}

/// The order of an interleaved comparison's rounds (`true`: the variant): base, variant,
/// variant, base, twice, so that a drift of the machine during the run weighs on both
/// alike, and one noisy round moves the ratio by a quarter as much as a single pair would.
const ROUNDS: [bool; 8] = [false, true, true, false, false, true, true, false];

/// The total time of an interleaved comparison's base rounds and of its variant rounds,
/// each [`ROUNDS`]' four rounds of the same `n` jobs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    base: Duration,
    variant: Duration,
}

impl Pair {
    /// The base rounds' jobs per second, for `n` jobs a round.
    pub(super) fn base_rate(&self, n: usize) -> f64 {
        per_second(ROUNDS.len() / 2 * n, self.base)
    }

    /// The variant rounds' jobs per second, for `n` jobs a round.
    pub(super) fn variant_rate(&self, n: usize) -> f64 {
        per_second(ROUNDS.len() / 2 * n, self.variant)
    }

    /// The variant's throughput over the base's (above 1: the variant is faster).
    pub(super) fn variant_vs_base(&self) -> f64 {
        self.base.as_secs_f64() / self.variant.as_secs_f64()
    }
}

/// Time `round(db, variant)` over [`ROUNDS`], each round on a fresh database of its own
/// (named after the workload and `names`, the base's and the variant's).
pub(super) async fn interleaved<F, Fut>(env: &Env<'_>, names: [&str; 2], mut round: F) -> Result<Pair, String>
where
    F: FnMut(Database, bool) -> Fut,
    Fut: Future<Output = Result<Duration, String>>,
{
    let mut pair = Pair {
        base: Duration::ZERO,
        variant: Duration::ZERO,
    };
    for (i, variant) in ROUNDS.into_iter().enumerate() {
        let tag = format!("{}{i}", names[usize::from(variant)]);
        let elapsed = env.with_extra_db(&tag, |db| round(db, variant)).await?;
        match variant {
            true => pair.variant += elapsed,
            false => pair.base += elapsed,
        }
    }
    Ok(pair)
}

/// Drains of the plain burst at `concurrency` [interleaved] with drains given `variant`
/// (`names`: the plain side's and the variant's, for their databases).
async fn plain_against(env: &Env<'_>, concurrency: usize, names: [&str; 2], variant: Setup) -> Result<Pair, String> {
    let (backend, n) = (env.backend, env.sizes.drain);
    interleaved(env, names, |db, is_variant| {
        let setup = if is_variant { variant } else { Setup::Plain };
        drain_once(backend, db, concurrency, n, setup)
    })
    .await
}

/// What a drain of [`drain_once`] gets besides its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// Nothing: the fresh table, no recorder.
    Plain,
    /// The table `ANALYZE`d by hand before the drain.
    Analyzed,
    /// The Prometheus recorder on during the drain.
    Recorder,
}

/// One drain of a fresh burst of `n` jobs in `db` with `setup` (the recorder checked to
/// have seen the finished jobs, its page kept for reading).
async fn drain_once(
    backend: Backend,
    db: Database,
    concurrency: usize,
    n: usize,
    setup: Setup,
) -> Result<Duration, String> {
    let store = backend.open(&db.url).await?;
    insert(&*store.queue(), NOOP, n, 1_000).await?;
    if setup == Setup::Analyzed {
        admin::analyze(&db).await?;
    }
    let recorder = match setup {
        Setup::Recorder => Some(Recording::start()?),
        Setup::Plain | Setup::Analyzed => None,
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
