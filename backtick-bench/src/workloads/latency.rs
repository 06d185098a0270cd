//! B: how soon a job starts. On an idle runner, right after a runner starts, and at its due
//! time (at-jobs, retries after backoff, recurring and cron fires).

use std::sync::Arc;
use std::time::{Duration, Instant};

use backtick_postgres::schedule::{CatchUp, Cron, Every, Periodic};
use backtick_postgres::{JobContext, JobError, QueueStore, Runner, worker_fn};

use super::{Args, Env, TIMED, job, jobs, timed_runner, wait_completed, wait_idle};
use crate::recorder::{Recorder, percentile};
use crate::report::Figure;

/// B.latency: an idle runner, jobs enqueued one at a time; each records the time from its
/// `created_at` to its worker's start.
pub(super) async fn idle(env: Env<'_>) -> Result<Vec<Figure>, String> {
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

/// B.first_job: trials of a runner started on a store of its own (connected just before) with
/// `try_start` (what `run_until` does), and one job enqueued (through another store) as soon
/// as it returns; the time from the job's `created_at` to its worker's start. A wake-up lost
/// because the runner was not listening yet shows as a wait for the poll.
///
/// Also split in two, to tell where a slow trial lost its time: the enqueue call (from the
/// client's side: the insert and its commit, which waits for the WAL flush) and the time from
/// the enqueue call's return to the worker's start (the runner's part: the wake-up, the claim,
/// the spawn), both on the local clock. The second is negative when the worker started before
/// the enqueue call's answer reached the client.
pub(super) async fn first_job(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let recorder = Recorder::calibrated(&*store).await?;
    let mut enqueue_calls = Vec::new();
    let mut after_return = Vec::new();
    for trial in 0..env.sizes.first_job_trials {
        let runner_store = env.backend.open(&env.db.url).await?;
        let record = recorder.clone();
        let started_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let started = started_at.clone();
        let handle = Runner::builder(runner_store.queue())
            .worker(worker_fn(TIMED, move |ctx: JobContext, _: Args| {
                record.record(&ctx);
                if let Ok(mut at) = started.lock() {
                    at.get_or_insert_with(Instant::now);
                }
                async { Ok(()) }
            }))
            .build()
            .map_err(|e| e.to_string())?
            .try_start()
            .await
            .map_err(|e| e.to_string())?;
        let called = Instant::now();
        let enqueued = store.enqueue(job(TIMED)?, None).await.map_err(|e| e.to_string());
        let returned = Instant::now();
        let done = match enqueued {
            Ok(_) => wait_completed(&handle, 1, Duration::from_secs(30)).await,
            Err(e) => Err(e),
        };
        let stats = handle.shutdown().await;
        runner_store.close().await;
        done.map_err(|e| format!("trial {trial}: {e}; runner stats {stats:?}"))?;
        enqueue_calls.push(ms(returned - called));
        let start = started_at.lock().ok().and_then(|at| *at);
        if let Some(start) = start {
            after_return.push(match start.checked_duration_since(returned) {
                Some(after) => ms(after),
                None => -ms(returned - start),
            });
        }
    }
    let latencies = recorder.sorted();
    enqueue_calls.sort_by(f64::total_cmp);
    after_return.sort_by(f64::total_cmp);
    Ok(vec![
        Figure::new("trials", latencies.len() as f64, "runs"),
        Figure::new("p50_ms", percentile(&latencies, 50.0), "ms"),
        Figure::new("p99_ms", percentile(&latencies, 99.0), "ms"),
        Figure::new("max_ms", latencies.last().copied().unwrap_or(f64::NAN), "ms"),
        Figure::new("enqueue_call_p50_ms", percentile(&enqueue_calls, 50.0), "ms"),
        Figure::new("enqueue_call_p99_ms", percentile(&enqueue_calls, 99.0), "ms"),
        Figure::new("after_return_p50_ms", percentile(&after_return, 50.0), "ms"),
        Figure::new("after_return_p99_ms", percentile(&after_return, 99.0), "ms"),
    ])
}

/// `duration` in milliseconds.
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

const DUE_AT: &str = "bench_due_at";
const DUE_RETRY: &str = "bench_due_retry";
const DUE_RECURRING: &str = "bench_due_recurring";
const DUE_CRON: &str = "bench_due_cron";

/// B.due: an idle runner (default configuration, concurrency 10) while, over a window,
/// at-jobs fall due (enqueued at the start with `run_after`, due times spread over the
/// window), jobs fail their first attempt and are retried after the default backoff (about
/// a second), a recurring schedule fires every 250 ms and a cron schedule every second. Each
/// records its worker's start minus its due time (`run_at`: the at time, the backoff's end,
/// the fire time), on the database clock.
pub(super) async fn due(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let window = env.sizes.due_window;
    let at = Recorder::calibrated(&*store).await?;
    let retry = Recorder::calibrated(&*store).await?;
    let periodic = Recorder::calibrated(&*store).await?;
    let handle = due_runner(store.clone(), &at, &retry, &periodic)?;
    wait_idle(&env.store).await?;
    let started = Instant::now();
    let n_at = env.sizes.due_at_jobs;
    let at_jobs: Vec<_> = jobs(DUE_AT, n_at)?
        .into_iter()
        .enumerate()
        .map(|(i, job)| job.run_after(window.mul_f64((i + 1) as f64 / (n_at + 1) as f64)))
        .collect();
    store.enqueue_many(at_jobs, None).await.map_err(|e| e.to_string())?;
    // The retried jobs are enqueued one at a time across the first half of the window, so
    // their retries fall due at different times.
    let n_retry = env.sizes.due_retry_jobs;
    for i in 0..n_retry {
        let at = (window / 2).mul_f64(i as f64 / n_retry.max(1) as f64);
        tokio::time::sleep_until((started + at).into()).await;
        store.enqueue(job(DUE_RETRY)?, None).await.map_err(|e| e.to_string())?;
    }
    tokio::time::sleep_until((started + window).into()).await;
    // The schedules' jobs complete too: wait for the at-jobs and retries by their samples.
    let deadline = Instant::now() + Duration::from_secs(60);
    while (at.len(), retry.len()) != (n_at, n_retry) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let stats = handle.shutdown().await;
    if (at.len(), retry.len()) != (n_at, n_retry) {
        return Err(format!(
            "{} of {n_at} at-jobs and {} of {n_retry} retries started within a minute; runner stats {stats:?}",
            at.len(),
            retry.len()
        ));
    }
    let mut figures = Vec::new();
    let kinds = [
        (&at, ["at_jobs", "at_p50_ms", "at_p99_ms"]),
        (&retry, ["retry_jobs", "retry_p50_ms", "retry_p99_ms"]),
        (&periodic, ["periodic_jobs", "periodic_p50_ms", "periodic_p99_ms"]),
    ];
    for (recorder, [count, p50, p99]) in kinds {
        let late = recorder.sorted();
        figures.extend([
            Figure::new(count, late.len() as f64, "jobs"),
            Figure::new(p50, percentile(&late, 50.0), "ms"),
            Figure::new(p99, percentile(&late, 99.0), "ms"),
        ]);
    }
    Ok(figures)
}

/// The runner of B.due: one worker per kind of due job, and the two schedules.
fn due_runner(
    store: Arc<dyn QueueStore>,
    at: &Arc<Recorder>,
    retry: &Arc<Recorder>,
    periodic: &Arc<Recorder>,
) -> Result<backtick_postgres::RunnerHandle, String> {
    let schedule = |name: &str, scheduler: Arc<dyn backtick_postgres::schedule::Scheduler>, spec: String| {
        Ok::<_, String>(Periodic {
            name: name.to_owned(),
            scheduler,
            spec,
            job: job(name)?,
            catch_up: CatchUp::Skip,
        })
    };
    let every = Every::new(Duration::from_millis(250)).map_err(|e| e.to_string())?;
    let cron = Cron::parse("* * * * * *").map_err(|e| e.to_string())?;
    let cron_spec = cron.spec_text();
    let (at, retry, on_recurring, on_cron) = (at.clone(), retry.clone(), periodic.clone(), periodic.clone());
    let handle = Runner::builder(store)
        .worker(worker_fn(DUE_AT, move |ctx: JobContext, _: Args| {
            at.record_since(ctx.job().run_at);
            async { Ok(()) }
        }))
        .worker(worker_fn(DUE_RETRY, move |ctx: JobContext, _: Args| {
            let first = ctx.attempt() == 1;
            if !first {
                retry.record_since(ctx.job().run_at);
            }
            async move {
                match first {
                    true => Err(JobError::retry("the first attempt fails on purpose")),
                    false => Ok(()),
                }
            }
        }))
        .worker(worker_fn(DUE_RECURRING, move |ctx: JobContext, _: Args| {
            on_recurring.record_since(ctx.job().run_at);
            async { Ok(()) }
        }))
        .worker(worker_fn(DUE_CRON, move |ctx: JobContext, _: Args| {
            on_cron.record_since(ctx.job().run_at);
            async { Ok(()) }
        }))
        .periodic(schedule(DUE_RECURRING, Arc::new(every), "every 250ms".to_owned())?)
        .periodic(schedule(DUE_CRON, Arc::new(cron), cron_spec)?)
        .build()
        .map_err(|e| e.to_string())?
        .start();
    Ok(handle)
}
