//! The backtick demo: the original library's three examples — `log-sum`, a heartbeat every
//! five minutes and a cron job twice in the afternoon — plus an at-job a few seconds out and a
//! job that fails twice then succeeds, run by two runners on a real Postgres while a progress
//! line shows the queue.
//!
//! Run it with `cargo xtask demo`, which points `BT_DATABASE_URL` at the configured database or
//! at a throwaway cluster it starts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backtick_postgres::{
    JobContext, JobError, JobState, PgStore, QueueStore, RetryPolicy, Runner, RunnerConfig, StateCounts,
};

/// The original's `(bt/define-worker log-sum [x y] ...)`.
#[backtick_postgres::worker(name = "demo.log_sum")]
async fn log_sum(x: i64, y: i64) {
    tracing::info!(target: "demo", "sum {x} + {y} = {}", x + y);
}

/// The original's `(bt/define-recurring heartbeat-every-5-minutes (* 1000 60 5) [] ...)`.
#[backtick_postgres::recurring(every = 300000, name = "demo.heartbeat_every_5_minutes")]
async fn heartbeat_every_5_minutes() {
    tracing::info!(target: "demo", "heartbeat");
}

/// The original's `(bt/define-cron twice-in-the-afternoon "0 0 14,16 * * *" [] ...)`.
#[backtick_postgres::cron("0 0 14,16 * * *", name = "demo.twice_in_the_afternoon")]
async fn twice_in_the_afternoon() {
    tracing::info!(target: "demo", "do a thing");
}

/// A job that fails on its first two attempts, then succeeds.
#[backtick_postgres::worker(name = "demo.flaky", max_attempts = 5)]
async fn flaky(ctx: &JobContext, label: String) -> Result<(), JobError> {
    if ctx.attempt() < 3 {
        let error = format!("{label}: attempt {} fails on purpose", ctx.attempt());
        tracing::info!(target: "demo", "{error}; it will be retried");
        return Err(JobError::retry(error));
    }
    tracing::info!(target: "demo", "{label}: succeeded on attempt {}", ctx.attempt());
    Ok(())
}

/// An at-job: scheduled a few seconds out.
#[backtick_postgres::worker(name = "demo.remind")]
async fn remind(message: String) {
    tracing::info!(target: "demo", "reminder: {message}");
}

const RUNNERS: usize = 2;
const SUMS: i64 = 20;
const AT_JOB_DELAY: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("demo=info,error")),
        )
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_target(false)
        .with_writer(std::io::stdout)
        .init();
    let store = PgStore::from_env().await?;
    let applied = store.migrate().await?;
    println!(
        "backtick demo: database ready ({} migrations applied now)",
        applied.len()
    );
    let store: Arc<dyn QueueStore> = Arc::new(store);
    let queue = format!("demo-{}", std::process::id());

    let runners = (0..RUNNERS)
        .map(|_| start_runner(store.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    println!("started {RUNNERS} runners; every one fires the heartbeat and the cron job, each fire once");

    let started = Instant::now();
    let sums = (0..SUMS)
        .map(|i| log_sum::job(i, i * i).queue(&queue).into_new_job())
        .collect::<Result<Vec<_>, _>>()?;
    store.enqueue_many(sums, None).await?;
    log_sum::job(3, 4).queue(&queue).enqueue(store.as_ref()).await?;
    log_sum::job(88, 99).queue(&queue).enqueue(store.as_ref()).await?;
    let at_job = remind::job("three seconds have passed".to_owned())
        .run_after(AT_JOB_DELAY)
        .queue(&queue)
        .enqueue(store.as_ref())
        .await?;
    let flaky_job = flaky::job("the flaky job".to_owned())
        .queue(&queue)
        .enqueue(store.as_ref())
        .await?;
    let total = SUMS as u64 + 4;
    println!(
        "enqueued {total} jobs on queue {queue}: {} sums now, an at-job in 3s, a job that fails twice",
        SUMS + 2
    );

    let counts = watch(store.as_ref(), &queue, total).await?;
    let elapsed = started.elapsed();
    for runner in runners {
        runner.shutdown().await;
    }

    let flaky = store.get(flaky_job).await?.ok_or("the flaky job vanished")?;
    let at = store.get(at_job).await?.ok_or("the at-job vanished")?;
    let schedules = [heartbeat_every_5_minutes::NAME, twice_in_the_afternoon::NAME];
    println!("\nsummary");
    println!(
        "  jobs done:      {} of {total} in {:.1}s",
        counts.get(JobState::Done),
        elapsed.as_secs_f64()
    );
    println!("  dead:           {}", counts.get(JobState::Dead));
    println!(
        "  flaky job:      {} after {} attempts (last error: {:?})",
        flaky.state,
        flaky.attempt,
        flaky.last_error.unwrap_or_default()
    );
    let due_after = (at.run_at - at.created_at).num_milliseconds() as f64 / 1000.0;
    println!(
        "  at-job:         due {due_after:.1}s after it was enqueued, {}",
        at.state
    );
    println!(
        "  schedules:      {} (recurring every 5 minutes, cron 0 0 14,16 * * *)",
        schedules.join(", ")
    );
    let ok = counts.get(JobState::Done) == total && flaky.state == JobState::Done && flaky.attempt == 3;
    if !ok {
        return Err("the demo did not finish as expected".into());
    }
    println!("demo finished: every job done exactly as planned");
    Ok(())
}

fn start_runner(store: Arc<dyn QueueStore>) -> Result<backtick_postgres::RunnerHandle, backtick_postgres::Error> {
    let config = RunnerConfig {
        concurrency: 8,
        retry_policy: RetryPolicy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(2),
            jitter: 0.1,
        },
        ..RunnerConfig::default()
    };
    Ok(Runner::builder(store).config(config).discovered().build()?.start())
}

/// Print a progress line until every job of `queue` is finished.
async fn watch(store: &dyn QueueStore, queue: &str, total: u64) -> Result<StateCounts, backtick_postgres::StoreError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let counts = store.count_by_state(Some(queue)).await?;
        let finished = counts.get(JobState::Done) + counts.get(JobState::Dead) + counts.get(JobState::Cancelled);
        println!(
            "  queued {:>4} | running {:>3} | done {:>4} | dead {:>2}   [{}]",
            counts.get(JobState::Queued),
            counts.get(JobState::Running),
            counts.get(JobState::Done),
            counts.get(JobState::Dead),
            bar(finished, total),
        );
        if finished >= total || Instant::now() > deadline {
            return Ok(counts);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH) as usize;
    format!(
        "{}{}",
        "#".repeat(filled),
        ".".repeat(WIDTH as usize - filled.min(WIDTH as usize))
    )
}
