//! A global concurrency limit with real processes: four runner processes on one Postgres
//! serve a queue limited to 5 running jobs. Sampled every 10 ms, the queue never has more
//! than 5 jobs running, and its throughput is near 5 / job duration: the limit is held, and
//! not by starving the queue.

use std::time::{Duration, Instant};

use backtick_e2e::{Backend, HarnessError, RECORD_WORKER, TestDatabase};
use backtick_postgres::flow::QueueLimits;
use backtick_postgres::sqlx::{self, PgPool};
use backtick_postgres::{JobState, NewJob};
use tokio::process::{Child, Command};

const QUEUE: &str = "limited";
const LIMIT: u32 = 5;
const JOBS: usize = 150;
const JOB_MS: u64 = 100;
const RUNNERS: usize = 4;

/// One scenario at a time: its throughput must measure it, not another's load.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn start_runner(backend: Backend, url: &str, name: &str) -> Result<Child, HarnessError> {
    let child = Command::new(env!("CARGO_BIN_EXE_e2e-runner"))
        .args([
            "--url",
            url,
            "--name",
            name,
            "--concurrency",
            "8",
            "--backend",
            backend.name(),
        ])
        .args(["--lease-ms", "10000", "--heartbeat-ms", "2500"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    Ok(child)
}

async fn stop_runner(mut child: Child) -> Result<(), HarnessError> {
    if let Some(pid) = child.id() {
        Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await??;
    assert!(status.success(), "runner exited with {status}");
    Ok(())
}

const RUNNING: &str = "SELECT count(*) FROM backtick_jobs WHERE queue = 'limited' AND state = 'running'";
const DONE: &str = "SELECT count(*) FROM backtick_jobs WHERE queue = 'limited' AND state = 'done'";

async fn four_runner_processes_hold_a_global_limit_of_five(backend: Backend) -> Result<(), HarnessError> {
    let _alone = ONE_AT_A_TIME.lock().await;
    let db = TestDatabase::create().await?;
    let store = backend.connect(&db.url).await?;
    store
        .set_queue_limits(QUEUE, &QueueLimits::new().concurrency(LIMIT), None)
        .await?;
    let runners: Vec<_> = (0..RUNNERS)
        .map(|n| start_runner(backend, &db.url, &format!("r{n}")))
        .collect::<Result<_, _>>()?;
    // Let the processes connect before the jobs arrive, so the clock measures claiming.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let jobs = (0..JOBS)
        .map(|_| NewJob::new(RECORD_WORKER, &JOB_MS).map(|job| job.queue(QUEUE)))
        .collect::<Result<Vec<_>, _>>()?;
    let pool = PgPool::connect(&db.url).await?;
    let started = Instant::now();
    store.enqueue_many(jobs, None).await?;
    let (mut samples, mut peak, mut histogram) = (0u64, 0i64, [0u64; 9]);
    let deadline = started + Duration::from_secs(120);
    loop {
        let running: i64 = sqlx::query_scalar(RUNNING).fetch_one(&pool).await?;
        samples += 1;
        peak = peak.max(running);
        histogram[usize::try_from(running).unwrap_or(8).min(8)] += 1;
        let done: i64 = sqlx::query_scalar(DONE).fetch_one(&pool).await?;
        if done as usize == JOBS {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {JOBS} jobs done after 120 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    for runner in runners {
        stop_runner(runner).await?;
    }
    let throughput = JOBS as f64 / elapsed.as_secs_f64();
    let ideal = f64::from(LIMIT) * 1000.0 / JOB_MS as f64;
    let workers: i64 = sqlx::query_scalar("SELECT count(DISTINCT runner) FROM e2e_runs")
        .fetch_one(&pool)
        .await?;
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM e2e_runs")
        .fetch_one(&pool)
        .await?;
    println!(
        "{}: {JOBS} jobs of {JOB_MS} ms, limit {LIMIT}, {RUNNERS} runner processes ({workers} ran jobs): \
         {:.2} s, {throughput:.1} jobs/s = {:.0}% of the ideal {ideal:.0}/s; {samples} samples, peak {peak} running, \
         samples by running count 0..=8: {histogram:?}",
        backend.name(),
        elapsed.as_secs_f64(),
        100.0 * throughput / ideal,
    );
    assert!(
        peak <= i64::from(LIMIT),
        "{peak} jobs of a queue limited to {LIMIT} ran at once"
    );
    assert_eq!(
        peak,
        i64::from(LIMIT),
        "the limit was never reached: the queue is starved"
    );
    assert_eq!(runs, JOBS as i64, "every job ran exactly once");
    assert!(
        throughput >= 0.6 * ideal,
        "throughput {throughput:.1}/s is below 60% of {ideal:.0}/s: the limit costs too much"
    );
    assert_eq!(
        store.count_by_state(Some(QUEUE)).await?.get(JobState::Done),
        JOBS as u64
    );
    pool.close().await;
    drop(store);
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_four_runner_processes_hold_a_global_limit_of_five() -> Result<(), HarnessError> {
    four_runner_processes_hold_a_global_limit_of_five(Backend::Pg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diesel_four_runner_processes_hold_a_global_limit_of_five() -> Result<(), HarnessError> {
    four_runner_processes_hold_a_global_limit_of_five(Backend::Diesel).await
}
