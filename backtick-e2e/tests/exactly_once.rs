//! Exactly-once effects with real runner processes: 5,000 jobs, each adding one to its own row
//! in `e2e_counters`, on three runner processes that are SIGKILLed and restarted during the
//! run while the connections idling inside a transaction (a worker between its write and its
//! commit) are terminated. With the completion in the worker's transaction (`complete_in`)
//! every counter ends at exactly 1; with the usual completion by the runner the same faults
//! leave counters at 2 (a job whose write committed before its runner died runs again). Both
//! counts are printed; the scenarios run on every [`Backend`], one at a time.

use std::time::Duration;

use backtick_e2e::{Backend, COUNTER_WORKER, CounterArgs, HarnessError, TestDatabase, wait_for};
use backtick_postgres::sqlx::{self, PgPool};
use backtick_postgres::{JobState, NewJob, QueueStore};
use tokio::process::{Child, Command};

const JOBS: u64 = 5_000;
const LEASE_MS: u64 = 2_000;
const REVIVE_MS: u64 = 500;
/// Between the write and the commit (or the return): where the kills land.
const SLEEP_MS: u64 = 20;
/// Runner processes SIGKILLed during a run: one each time another seventh of the jobs is done
/// (and at least [`KILL_EVERY`] after the last, so that the restarted one is at work again).
const KILLS: usize = 6;
const KILL_EVERY: Duration = Duration::from_millis(500);
/// How often sessions between a write and a commit are terminated.
const TERMINATE_EVERY: Duration = Duration::from_millis(500);

/// Held by the running scenario.
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
        .args([
            "--lease-ms",
            &LEASE_MS.to_string(),
            "--revive-ms",
            &REVIVE_MS.to_string(),
        ])
        .args(["--heartbeat-ms", &(LEASE_MS / 4).to_string()])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    Ok(child)
}

async fn enqueue(store: &dyn QueueStore, transactional: bool) -> Result<(), HarnessError> {
    let args = CounterArgs {
        transactional,
        sleep_ms: SLEEP_MS,
    };
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(1_000) {
        let batch = chunk
            .iter()
            .map(|_| NewJob::new(COUNTER_WORKER, &args))
            .collect::<Result<Vec<_>, _>>()?;
        store.enqueue_many(batch, None).await?;
    }
    Ok(())
}

/// Terminate up to two sessions of the database that sit inside a transaction between two
/// statements: a worker between its counter write and its commit. Returns how many. (Not all
/// of them, nor often: each one costs its job a retry with backoff.)
async fn kill_idle_in_transaction(pool: &PgPool) -> Result<usize, HarnessError> {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM (
             SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction'
             LIMIT 2
         ) s",
    )
    .fetch_all(pool)
    .await?;
    Ok(killed.into_iter().filter(|k| *k).count())
}

/// What the counters say after a run.
#[derive(Debug)]
struct Counts {
    /// Jobs whose counter is exactly 1.
    once: i64,
    /// Jobs whose counter is above 1: their write committed more than once.
    duplicated: i64,
    /// Jobs with no counter at all.
    missing: i64,
    /// The sum of all counters.
    total: i64,
}

async fn counts(pool: &PgPool) -> Result<Counts, HarnessError> {
    let (once, duplicated, missing, total): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE c.n = 1), count(*) FILTER (WHERE c.n > 1), count(*) FILTER (WHERE c.n IS NULL),
                coalesce(sum(c.n), 0)
         FROM backtick_jobs j LEFT JOIN e2e_counters c ON c.job_id = j.id",
    )
    .fetch_one(pool)
    .await?;
    Ok(Counts {
        once,
        duplicated,
        missing,
        total,
    })
}

/// Run 5,000 counter jobs under kills; the counters at the end.
async fn run_under_kills(backend: Backend, transactional: bool) -> Result<Counts, HarnessError> {
    let _alone = ONE_AT_A_TIME.lock().await;
    let db = TestDatabase::create().await?;
    let store = backend.connect(&db.url).await?;
    enqueue(&*store, transactional).await?;
    let pool = PgPool::connect(&db.url).await?;
    let names = ["a", "b", "c"];
    let mut runners = names
        .iter()
        .map(|name| start_runner(backend, &db.url, name))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut sigkills, mut terminated) = (0, 0);
    let mut next_kill = tokio::time::Instant::now() + KILL_EVERY;
    let mut next_terminate = tokio::time::Instant::now() + TERMINATE_EVERY;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let done = store.count_by_state(None).await?.get(JobState::Done);
        if done >= JOBS {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {JOBS} jobs done"
        );
        if tokio::time::Instant::now() >= next_terminate {
            terminated += kill_idle_in_transaction(&pool).await?;
            next_terminate = tokio::time::Instant::now() + TERMINATE_EVERY;
        }
        let kill_at = JOBS * (sigkills as u64 + 1) / (KILLS as u64 + 1);
        if sigkills < KILLS && done >= kill_at && tokio::time::Instant::now() >= next_kill {
            let slot = sigkills % runners.len();
            let victim = &mut runners[slot];
            victim.start_kill()?; // SIGKILL: no shutdown, no release
            victim.wait().await?;
            runners[slot] = start_runner(backend, &db.url, names[slot])?;
            sigkills += 1;
            next_kill = tokio::time::Instant::now() + KILL_EVERY;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for mut runner in runners {
        runner.start_kill()?;
        runner.wait().await?;
    }
    wait_for(Duration::from_secs(5), JOBS, "every job still done", || async {
        Ok(store.count_by_state(None).await?.get(JobState::Done))
    })
    .await?;
    let counts = counts(&pool).await?;
    println!(
        "{} {}: {JOBS} jobs, {sigkills} runners SIGKILLed, {terminated} sessions terminated between write and \
         commit: {} counters at 1, {} above 1 (duplicated effects), {} missing, sum {}",
        backend.name(),
        if transactional {
            "complete_in (transactional)"
        } else {
            "runner completion (normal)"
        },
        counts.once,
        counts.duplicated,
        counts.missing,
        counts.total
    );
    assert_eq!(sigkills, KILLS, "the run ended before every planned kill");
    pool.close().await;
    drop(store);
    db.drop_database().await?;
    Ok(counts)
}

async fn completing_in_the_workers_transaction_counts_every_job_exactly_once(
    backend: Backend,
) -> Result<(), HarnessError> {
    let counts = run_under_kills(backend, true).await?;
    assert_eq!(
        (counts.once, counts.duplicated, counts.missing),
        (JOBS as i64, 0, 0),
        "every counter must be exactly 1: {counts:?}"
    );
    assert_eq!(counts.total, JOBS as i64);
    Ok(())
}

async fn the_runners_completion_under_the_same_faults_duplicates_effects(backend: Backend) -> Result<(), HarnessError> {
    let counts = run_under_kills(backend, false).await?;
    assert_eq!(counts.missing, 0, "at least once: every job ran: {counts:?}");
    assert!(
        counts.duplicated > 0,
        "the kills must catch jobs between their write and their completion: {counts:?}"
    );
    Ok(())
}

/// One `#[tokio::test]` per scenario and backend.
macro_rules! on_every_backend {
    ($($module:ident => $backend:expr),* $(,)?) => {$(
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn completing_in_the_workers_transaction_counts_every_job_exactly_once() -> Result<(), HarnessError> {
                super::completing_in_the_workers_transaction_counts_every_job_exactly_once($backend).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_runners_completion_under_the_same_faults_duplicates_effects() -> Result<(), HarnessError> {
                super::the_runners_completion_under_the_same_faults_duplicates_effects($backend).await
            }
        }
    )*};
}

on_every_backend!(pg => Backend::Pg, diesel => Backend::Diesel);
