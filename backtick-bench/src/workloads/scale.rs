//! D: drains at scale. A backlog of a million jobs, a table holding ten million finished
//! jobs, and several runner processes at once, each against the same drain of a small
//! burst in a fresh table.

use std::time::Instant;

use backtick_postgres::JobState;
use tokio::sync::mpsc;

use super::drain::timed_drain;
use super::{Env, NOOP, expect_count, insert, patience, per_second};
use crate::admin::{self, Database};
use crate::backend::Backend;
use crate::child::{Child, ChildSpec, ChildWorker, Event};
use crate::limits::Limit;
use crate::report::Figure;

/// The concurrency of the D.backlog and D.finished_10m runners.
const SCALE_CONCURRENCY: usize = 50;
/// How many runner processes D.processes starts together.
const PROCESSES: usize = 4;
/// The concurrency of each of D.processes' runners (the default).
const PROCESS_CONCURRENCY: usize = 10;

/// Queue `n` no-op jobs in `db` (a fresh store, closed after) beside the `done` jobs it
/// holds already, and drain them with one runner.
async fn queue_and_drain(
    backend: Backend,
    db: &Database,
    n: usize,
    done: usize,
    concurrency: usize,
) -> Result<f64, String> {
    let store = backend.open(&db.url).await?;
    let result = async {
        insert_with_progress(&*store.queue(), n).await?;
        let (elapsed, _) = timed_drain(backend, db, concurrency, n, false).await?;
        expect_count(&*store.queue(), JobState::Done, done + n).await?;
        Ok(per_second(n, elapsed))
    }
    .await;
    store.close().await;
    result
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
/// of `drain` jobs (20,000), each in a fresh database.
pub(super) async fn backlog(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (backend, big) = (env.backend, env.sizes.backlog);
    let base = queue_and_drain(backend, env.db, env.sizes.drain, 0, SCALE_CONCURRENCY).await?;
    let rate = env
        .with_extra_db("big", |db| async move {
            queue_and_drain(backend, &db, big, 0, SCALE_CONCURRENCY).await
        })
        .await?;
    Ok(vec![
        Figure::new("backlog_jobs", big as f64, "jobs"),
        Figure::new("jobs_per_s", rate, "jobs/s").against(Limit::Claim),
        Figure::new("base_jobs_per_s", base, "jobs/s").against(Limit::Claim),
        Figure::new("vs_base", rate / base, "ratio"),
    ])
}

/// D.finished_10m: the drain of `drain` jobs (20,000) at concurrency 50 in a table that
/// already holds `finished_rows` done jobs (10,000,000; finished over the last six days,
/// within the default retention, vacuumed and analyzed as autovacuum would have over those
/// days), against the same drain in an empty table.
pub(super) async fn finished(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (backend, n, rows) = (env.backend, env.sizes.drain, env.sizes.finished_rows);
    let empty = queue_and_drain(backend, env.db, n, 0, SCALE_CONCURRENCY).await?;
    let rate = env
        .with_extra_db("full", |db| async move {
            admin::fill_finished(&db, rows).await?;
            let done = usize::try_from(rows).map_err(|e| e.to_string())?;
            queue_and_drain(backend, &db, n, done, SCALE_CONCURRENCY).await
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
/// together (each at the default concurrency 10, in a fresh database), timed from before
/// the processes start until every job is done.
pub(super) async fn processes(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (backend, n) = (env.backend, env.sizes.drain);
    insert(&*env.store.queue(), NOOP, n, 1_000).await?;
    let one = drain_in_processes(backend, env.db, 1, n).await?;
    expect_count(&*env.store.queue(), JobState::Done, n).await?;
    let many = env
        .with_extra_db("many", |db| async move {
            let store = backend.open(&db.url).await?;
            let result = async {
                insert(&*store.queue(), NOOP, n, 1_000).await?;
                let rate = drain_in_processes(backend, &db, PROCESSES, n).await?;
                expect_count(&*store.queue(), JobState::Done, n).await?;
                Ok(rate)
            }
            .await;
            store.close().await;
            result
        })
        .await?;
    Ok(vec![
        Figure::new("one_jobs_per_s", one, "jobs/s").against(Limit::Claim),
        Figure::new("four_jobs_per_s", many, "jobs/s").against(Limit::Claim),
        Figure::new("four_vs_one", many / one, "ratio"),
    ])
}

/// Start `processes` child runners on `db` at once and wait until together they have
/// completed `n` jobs; jobs per second from before the first process started.
async fn drain_in_processes(backend: Backend, db: &Database, processes: usize, n: usize) -> Result<f64, String> {
    let spec = ChildSpec {
        backend,
        url: db.url.clone(),
        concurrency: PROCESS_CONCURRENCY,
        worker: ChildWorker::Noop,
        progress: true,
        window: None,
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let started = Instant::now();
    let children = (0..processes)
        .map(|i| Child::spawn(&spec, i, events.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    drop(events);
    let mut completed = vec![0_u64; processes];
    let deadline = tokio::time::Instant::from_std(started + patience(n));
    while completed.iter().sum::<u64>() < n as u64 {
        match tokio::time::timeout_at(deadline, received.recv()).await {
            Ok(Some((i, Event::Progress { completed: done, .. }))) => completed[i] = done,
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
    for child in children {
        child.stop().await?;
    }
    Ok(per_second(n, elapsed))
}
