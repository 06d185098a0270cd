//! D: drains at scale. A backlog of a million jobs, a table holding ten million finished
//! jobs, and several runner processes at once, each against the same drain of a small
//! burst in a fresh table.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use backtick_postgres::JobState;
use tokio::sync::mpsc;

use super::drain::{interleaved, timed_drain};
use super::{Env, NOOP, expect_count, insert, patience, per_second};
use crate::admin::{self, Database};
use crate::backend::Backend;
use crate::child::{Child, ChildSpec, ChildWorker, Event};
use crate::limits::Limit;
use crate::profile::{Cost, CpuSample, cpu_of};
use crate::report::Figure;

/// The concurrency of the D.backlog and D.finished_10m runners.
const SCALE_CONCURRENCY: usize = 50;
/// How many runner processes D.processes starts together.
const PROCESSES: usize = 4;
/// The concurrency of each of D.processes' runners (the default).
const PROCESS_CONCURRENCY: usize = 10;

/// Queue `n` no-op jobs in `db` (a fresh store, closed after) beside the `done` jobs it
/// holds already, and time one runner at `concurrency` draining them.
async fn queue_and_drain(
    backend: Backend,
    db: &Database,
    n: usize,
    done: usize,
    concurrency: usize,
) -> Result<Duration, String> {
    let store = backend.open(&db.url).await?;
    let result = async {
        insert_with_progress(&*store.queue(), n).await?;
        let (elapsed, _) = timed_drain(backend, db, concurrency, n, false).await?;
        expect_count(&*store.queue(), JobState::Done, done + n).await?;
        Ok(elapsed)
    }
    .await;
    store.close().await;
    result
}

/// How many drains of the small burst D.backlog and D.finished_10m time for each side of
/// their comparison. A single drain of 20,000 jobs lasts about a second, and one noisy drain
/// moved their ratios by up to a quarter; their base drains run half before the big work and
/// half after it, so a drift of the machine weighs on both sides.
const SMALL_DRAINS: usize = 4;

/// The small burst of `n` jobs drained at concurrency 50 [`SMALL_DRAINS`] times, each in a
/// fresh database: half of them, then `between` (the big work), then the other half. Returns
/// the small drains' jobs per second (over all of them) and what `between` returned.
async fn small_drains_around<T, Fut>(env: &Env<'_>, n: usize, between: impl FnOnce() -> Fut) -> Result<(f64, T), String>
where
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let backend = env.backend;
    let mut elapsed = Duration::ZERO;
    let small_drain = |i: usize| async move {
        let took = env
            .with_extra_db(&format!("small{i}"), |db| async move {
                queue_and_drain(backend, &db, n, 0, SCALE_CONCURRENCY).await
            })
            .await?;
        eprintln!(
            "bench:   small drain {} of {SMALL_DRAINS}: {:.0} jobs/s",
            i + 1,
            per_second(n, took)
        );
        Ok::<_, String>(took)
    };
    for i in 0..SMALL_DRAINS / 2 {
        elapsed += small_drain(i).await?;
    }
    let big = between().await?;
    for i in SMALL_DRAINS / 2..SMALL_DRAINS {
        elapsed += small_drain(i).await?;
    }
    Ok((per_second(SMALL_DRAINS * n, elapsed), big))
}

/// Enqueue `n` no-op jobs in batches of 1,000, saying how far it got every 100,000.
async fn insert_with_progress(store: &dyn backtick_postgres::QueueStore, n: usize) -> Result<(), String> {
    const STEP: usize = 100_000;
    let mut done = 0;
    while done < n {
        let size = (n - done).min(STEP);
        insert(store, NOOP, size, 1_000).await?;
        done += size;
        if n > STEP {
            eprintln!("bench:   queued {done} of {n} jobs");
        }
    }
    Ok(())
}

/// D.backlog: a backlog of `backlog` jobs drained at concurrency 50, against the same drain
/// of `drain` jobs (20,000) [`SMALL_DRAINS`] times, each in a fresh database.
pub(super) async fn backlog(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (backend, big) = (env.backend, env.sizes.backlog);
    let (base, rate) = small_drains_around(&env, env.sizes.drain, || {
        env.with_extra_db("big", |db| async move {
            let elapsed = queue_and_drain(backend, &db, big, 0, SCALE_CONCURRENCY).await?;
            Ok(per_second(big, elapsed))
        })
    })
    .await?;
    Ok(vec![
        Figure::new("backlog_jobs", big as f64, "jobs"),
        Figure::new("jobs_per_s", rate, "jobs/s").against(Limit::Claim),
        Figure::new("base_jobs_per_s", base, "jobs/s").against(Limit::Claim),
        Figure::new("vs_base", rate / base, "ratio"),
    ])
}

/// D.finished_10m: the drain of `drain` jobs (20,000) at concurrency 50, [`SMALL_DRAINS`]
/// times one after another, in a table that already holds `finished_rows` done jobs
/// (10,000,000; finished over the last six days, within the default retention, vacuumed and
/// analyzed as autovacuum would have over those days), against the same drains in empty
/// tables.
pub(super) async fn finished(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (backend, n, rows) = (env.backend, env.sizes.drain, env.sizes.finished_rows);
    let (empty, rate) = small_drains_around(&env, n, || {
        env.with_extra_db("full", |db| async move {
            admin::fill_finished(&db, rows).await?;
            let mut done = usize::try_from(rows).map_err(|e| e.to_string())?;
            let mut elapsed = Duration::ZERO;
            for i in 1..=SMALL_DRAINS {
                let took = queue_and_drain(backend, &db, n, done, SCALE_CONCURRENCY).await?;
                eprintln!(
                    "bench:   drain {i} of {SMALL_DRAINS} beside the finished rows: {:.0} jobs/s",
                    per_second(n, took)
                );
                elapsed += took;
                done += n;
            }
            Ok(per_second(SMALL_DRAINS * n, elapsed))
        })
    })
    .await?;
    Ok(vec![
        Figure::new("finished_rows", rows as f64, "rows"),
        Figure::new("jobs_per_s", rate, "jobs/s").against(Limit::Claim),
        Figure::new("empty_jobs_per_s", empty, "jobs/s").against(Limit::Claim),
        Figure::new("vs_empty", rate / empty, "ratio"),
    ])
}

/// D.processes: the drain of `drain` jobs by one runner process, and by four started
/// together (each at the default concurrency 10), timed from before the processes start
/// until every job is done; the two [interleaved], each drain in a fresh database. Besides
/// the rates: how long the start took (until the last process had finished its first job)
/// and the rates from then on, which leave out what starting four processes costs against
/// starting one.
pub(super) async fn processes(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (backend, n) = (env.backend, env.sizes.drain);
    let starts = RefCell::new([Started::default(); 2]);
    let pair = interleaved(&env, ["one", "four"], |db, four| {
        let starts = &starts;
        async move {
            let processes = if four { PROCESSES } else { 1 };
            let store = backend.open(&db.url).await?;
            let result = async {
                insert(&*store.queue(), NOOP, n, 1_000).await?;
                let drain = drain_in_processes(backend, &db, processes, n).await?;
                expect_count(&*store.queue(), JobState::Done, n).await?;
                starts.borrow_mut()[usize::from(four)].add(&drain, n);
                Ok(drain.elapsed)
            }
            .await;
            store.close().await;
            result
        }
    })
    .await?;
    let [one, four] = starts.into_inner();
    Ok(vec![
        Figure::new("one_jobs_per_s", pair.base_rate(n), "jobs/s").against(Limit::Claim),
        Figure::new("four_jobs_per_s", pair.variant_rate(n), "jobs/s").against(Limit::Claim),
        Figure::new("four_vs_one", pair.variant_vs_base(), "ratio"),
        Figure::new("one_started_ms", one.mean_start_ms(), "ms"),
        Figure::new("four_started_ms", four.mean_start_ms(), "ms"),
        Figure::new("one_started_jobs_per_s", one.rate(), "jobs/s").against(Limit::Claim),
        Figure::new("four_started_jobs_per_s", four.rate(), "jobs/s").against(Limit::Claim),
        Figure::new("four_vs_one_started", four.rate() / one.rate(), "ratio"),
        Figure::new("one_machine_cpu_us_per_job", one.machine_cpu_us_per_job(), "µs/job"),
        Figure::new("four_machine_cpu_us_per_job", four.machine_cpu_us_per_job(), "µs/job"),
        Figure::new("one_runners_cpu_us_per_job", one.runners_cpu_us_per_job(), "µs/job"),
        Figure::new("four_runners_cpu_us_per_job", four.runners_cpu_us_per_job(), "µs/job"),
        Figure::new("one_db_cpu_us_per_job", one.db_cpu_us_per_job(), "µs/job"),
        Figure::new("four_db_cpu_us_per_job", four.db_cpu_us_per_job(), "µs/job"),
        Figure::new("one_rest_cpu_us_per_job", one.rest_cpu_us_per_job(), "µs/job"),
        Figure::new("four_rest_cpu_us_per_job", four.rest_cpu_us_per_job(), "µs/job"),
        Figure::new("one_bench_cpu_us_per_job", one.bench_cpu_us_per_job(), "µs/job"),
        Figure::new("four_bench_cpu_us_per_job", four.bench_cpu_us_per_job(), "µs/job"),
    ])
}

/// One drain by runner processes: its time, and when the last process finished its first
/// job, with how many jobs were done by then.
struct ProcessDrain {
    elapsed: Duration,
    all_started: Duration,
    done_when_started: u64,
    /// CPU seconds the whole machine was busy during the drain.
    machine_cpu: f64,
    /// CPU per job of the database backends that served it.
    cost: Cost,
    /// CPU seconds of the runner processes, from their start.
    runners_cpu: f64,
}

/// The sum over the rounds of one side of D.processes: their starts, and the jobs done and
/// time taken after them.
#[derive(Debug, Default, Clone, Copy)]
struct Started {
    rounds: u32,
    start: Duration,
    jobs_after: u64,
    time_after: Duration,
    jobs: u64,
    machine_cpu: f64,
    db_cpu_us: f64,
    runners_cpu: f64,
    bench_cpu_us: f64,
}

impl Started {
    fn add(&mut self, drain: &ProcessDrain, n: usize) {
        self.rounds += 1;
        self.start += drain.all_started;
        self.jobs_after += (n as u64).saturating_sub(drain.done_when_started);
        self.time_after += drain.elapsed.saturating_sub(drain.all_started);
        self.jobs += n as u64;
        self.machine_cpu += drain.machine_cpu;
        self.db_cpu_us += drain.cost.db_cpu_us * n as f64;
        self.runners_cpu += drain.runners_cpu;
        self.bench_cpu_us += drain.cost.client_cpu_us * n as f64;
    }

    /// CPU time of everything else per job: the benchmark process that reads the runners'
    /// progress, the server's other processes, the kernel's own work (the machine's busy
    /// time less the runners and their database backends).
    fn rest_cpu_us_per_job(&self) -> f64 {
        self.machine_cpu_us_per_job() - self.runners_cpu_us_per_job() - self.db_cpu_us_per_job()
    }

    /// CPU time of the benchmark process itself per job (it reads the runners' progress).
    fn bench_cpu_us_per_job(&self) -> f64 {
        self.bench_cpu_us / self.jobs.max(1) as f64
    }

    /// CPU time of the runner processes (their start included) per job.
    fn runners_cpu_us_per_job(&self) -> f64 {
        self.runners_cpu * 1e6 / self.jobs.max(1) as f64
    }

    /// CPU time of the whole machine (every process on it) per job.
    fn machine_cpu_us_per_job(&self) -> f64 {
        self.machine_cpu * 1e6 / self.jobs.max(1) as f64
    }

    /// CPU time of the database backends serving the runners, per job.
    fn db_cpu_us_per_job(&self) -> f64 {
        self.db_cpu_us / self.jobs.max(1) as f64
    }

    fn mean_start_ms(&self) -> f64 {
        self.start.as_secs_f64() * 1_000.0 / f64::from(self.rounds.max(1))
    }

    /// Jobs per second once every process had started.
    fn rate(&self) -> f64 {
        self.jobs_after as f64 / self.time_after.as_secs_f64()
    }
}

/// Start `processes` child runners on `db` at once and wait until together they have
/// completed `n` jobs: the time from before the first process started.
async fn drain_in_processes(
    backend: Backend,
    db: &Database,
    processes: usize,
    n: usize,
) -> Result<ProcessDrain, String> {
    let spec = ChildSpec {
        backend,
        url: db.url.clone(),
        concurrency: PROCESS_CONCURRENCY,
        worker: ChildWorker::Noop,
        progress: true,
        window: None,
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let before = CpuSample::take(&db.url, &db.name).await;
    let started = Instant::now();
    let children = (0..processes)
        .map(|i| Child::spawn(&spec, i, events.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    drop(events);
    let mut completed = vec![0_u64; processes];
    let mut all_started = None;
    let deadline = tokio::time::Instant::from_std(started + patience(n));
    while completed.iter().sum::<u64>() < n as u64 {
        match tokio::time::timeout_at(deadline, received.recv()).await {
            Ok(Some((i, Event::Progress { completed: done, .. }))) => {
                completed[i] = done;
                if all_started.is_none() && completed.iter().all(|&done| done > 0) {
                    all_started = Some((started.elapsed(), completed.iter().sum::<u64>()));
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(format!(
                    "the runner processes ended with {completed:?} of {n} jobs done"
                ));
            }
            Err(_) => return Err(format!("only {completed:?} of {n} jobs were done in time")),
        }
    }
    let elapsed = started.elapsed();
    let after = CpuSample::take(&db.url, &db.name).await;
    let runners_cpu = children.iter().filter_map(Child::pid).map(cpu_of).sum();
    for child in children {
        child.stop().await?;
    }
    let (all_started, done_when_started) = all_started.unwrap_or((elapsed, n as u64));
    Ok(ProcessDrain {
        elapsed,
        all_started,
        done_when_started,
        machine_cpu: before.machine_busy_until(&after),
        cost: before.cost(&after, n),
        runners_cpu,
    })
}
