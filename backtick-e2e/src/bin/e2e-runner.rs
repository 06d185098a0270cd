//! A runner process for the end-to-end tests: runs the recording worker until SIGTERM.
//!
//! ```text
//! e2e-runner --url URL --name NAME [--backend pg|diesel] [--concurrency N] [--lease-ms MS] [--heartbeat-ms MS]
//!            [--revive-ms MS] [--shutdown-ms MS]
//! ```
//!
//! `--backend` (default `pg`) picks the store: `PgStore` or `DieselStore`. The workers record
//! each execution through the same store's pool: `e2e_record` in `e2e_runs` (the crash tests),
//! `e2e_ledger` in `e2e_ledger` (the fault suite, [`backtick_e2e::faults`]), `e2e_counter` in
//! `e2e_counters` (the exactly-once test: its increment and its completion in one transaction,
//! or the increment alone with the runner completing as usual).

use std::sync::Arc;
use std::time::Duration;

use backtick_diesel::diesel;
use backtick_diesel::diesel::sql_types::{BigInt, Text};
use backtick_diesel::diesel_async::{AsyncConnection, RunQueryDsl};
use backtick_diesel::{DieselPool, DieselStore};
use backtick_e2e::faults::{LEDGER_SQL, LEDGER_WORKER, LedgerArgs};
use backtick_e2e::{Backend, COUNTER_SQL, COUNTER_WORKER, CounterArgs, RECORD_WORKER};
use backtick_postgres::sqlx;
use backtick_postgres::{
    BoxError, JobContext, JobError, PgStore, QueueStore, Runner, RunnerConfig, RunnerId, worker_fn,
};
use futures::FutureExt;
use futures::future::BoxFuture;

const RECORD_SQL: &str = "INSERT INTO e2e_runs (job_id, runner) VALUES ($1, $2)";

/// Records one execution: `(job id, runner name)`.
type Record = Arc<dyn Fn(i64, String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Records one execution in the fault suite's ledger: `(seq, job id, attempt, runner name)`.
type Ledger = Arc<dyn Fn(i64, i64, i32, String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

fn record_with_sqlx(pool: sqlx::PgPool) -> (Record, Ledger) {
    let ledger_pool = pool.clone();
    let record: Record = Arc::new(move |job_id, runner| {
        let pool = pool.clone();
        async move {
            let query = sqlx::query(RECORD_SQL).bind(job_id).bind(runner);
            query.execute(&pool).await.map(drop).map_err(|e| e.to_string())
        }
        .boxed()
    });
    let ledger: Ledger = Arc::new(move |seq, job_id, attempt, runner| {
        let pool = ledger_pool.clone();
        async move {
            let query = sqlx::query(LEDGER_SQL)
                .bind(seq)
                .bind(job_id)
                .bind(attempt)
                .bind(runner);
            query.execute(&pool).await.map(drop).map_err(|e| e.to_string())
        }
        .boxed()
    });
    (record, ledger)
}

fn record_with_diesel(pool: DieselPool) -> (Record, Ledger) {
    let ledger_pool = pool.clone();
    let record: Record = Arc::new(move |job_id, runner| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let query = diesel::sql_query(RECORD_SQL)
                .bind::<BigInt, _>(job_id)
                .bind::<Text, _>(runner);
            query.execute(&mut *conn).await.map(drop).map_err(|e| e.to_string())
        }
        .boxed()
    });
    let ledger: Ledger = Arc::new(move |seq, job_id, attempt, runner| {
        let pool = ledger_pool.clone();
        async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let query = diesel::sql_query(LEDGER_SQL)
                .bind::<BigInt, _>(seq)
                .bind::<BigInt, _>(job_id)
                .bind::<diesel::sql_types::Integer, _>(attempt)
                .bind::<Text, _>(runner);
            query.execute(&mut *conn).await.map(drop).map_err(|e| e.to_string())
        }
        .boxed()
    });
    (record, ledger)
}

/// Runs one counter job: `(context, arguments)`.
type Counter = Arc<dyn Fn(JobContext, CounterArgs) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

fn counter_with_sqlx(pool: sqlx::PgPool) -> Counter {
    Arc::new(move |ctx: JobContext, args: CounterArgs| {
        let pool = pool.clone();
        async move {
            let id = ctx.job().id.0;
            let pause = Duration::from_millis(args.sleep_ms);
            if args.transactional {
                let mut tx = pool.begin().await?;
                sqlx::query(COUNTER_SQL).bind(id).execute(&mut *tx).await?;
                tokio::time::sleep(pause).await;
                backtick_postgres::complete_in(&mut tx, &ctx).await?;
                tx.commit().await?;
            } else {
                sqlx::query(COUNTER_SQL).bind(id).execute(&pool).await?;
                tokio::time::sleep(pause).await;
            }
            Ok(())
        }
        .boxed()
    })
}

fn counter_with_diesel(pool: DieselPool) -> Counter {
    Arc::new(move |ctx: JobContext, args: CounterArgs| {
        let pool = pool.clone();
        async move {
            let id = ctx.job().id.0;
            let pause = Duration::from_millis(args.sleep_ms);
            let mut conn = pool.get().await?;
            if args.transactional {
                let ctx = &ctx;
                conn.transaction::<_, BoxError, _>(async move |conn| {
                    diesel::sql_query(COUNTER_SQL)
                        .bind::<BigInt, _>(id)
                        .execute(conn)
                        .await?;
                    tokio::time::sleep(pause).await;
                    backtick_diesel::complete_in(conn, ctx).await?;
                    Ok(())
                })
                .await
                .map_err(JobError::retry)?;
            } else {
                diesel::sql_query(COUNTER_SQL)
                    .bind::<BigInt, _>(id)
                    .execute(&mut *conn)
                    .await?;
                tokio::time::sleep(pause).await;
            }
            Ok(())
        }
        .boxed()
    })
}

async fn connect(
    backend: Backend,
    url: &str,
) -> Result<(Arc<dyn QueueStore>, Record, Ledger, Counter), Box<dyn std::error::Error>> {
    Ok(match backend {
        Backend::Pg => {
            let store = PgStore::connect(url).await?;
            let (record, ledger) = record_with_sqlx(store.pool().clone());
            let counter = counter_with_sqlx(store.pool().clone());
            (Arc::new(store), record, ledger, counter)
        }
        Backend::Diesel => {
            let store = DieselStore::connect(url).await?;
            let (record, ledger) = record_with_diesel(store.pool().clone());
            let counter = counter_with_diesel(store.pool().clone());
            (Arc::new(store), record, ledger, counter)
        }
    })
}

/// The fault suite's worker: panics on its first attempt if asked to, records the execution
/// (retrying the write for up to a minute, idempotently: the row's key is the job and the
/// attempt, so a write that committed but whose answer was lost is not counted twice), then
/// sleeps. An execution is a row in the ledger: the worker has done its work.
async fn run_ledger_job(
    ledger: Ledger,
    runner: String,
    ctx: JobContext,
    args: LedgerArgs,
) -> Result<(), backtick_postgres::JobError> {
    if args.panic_first && ctx.attempt() == 1 {
        panic!("poison: job {} panics on its first attempt", args.seq);
    }
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        // A try that hangs (sqlx's acquire retries a full server until its timeout) is
        // dropped and made again, so that the worker measures the runner, not its own pool.
        let write = ledger(args.seq, ctx.job().id.0, ctx.attempt(), runner.clone());
        let written = tokio::time::timeout(Duration::from_millis(500), write)
            .await
            .unwrap_or_else(|_| Err("the ledger write took longer than 500 ms".to_owned()));
        match written {
            Ok(()) => break,
            Err(error) if tokio::time::Instant::now() > give_up => {
                return Err(backtick_postgres::JobError::retry(error));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    if args.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(args.sleep_ms)).await;
    }
    Ok(())
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn millis(args: &[String], name: &str, default: u64) -> Result<Duration, String> {
    match arg(args, name) {
        None => Ok(Duration::from_millis(default)),
        Some(text) => text
            .parse()
            .map(Duration::from_millis)
            .map_err(|e| format!("{name} {text:?}: {e}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url").ok_or("--url is required")?;
    let name = arg(&args, "--name").ok_or("--name is required")?;
    let concurrency = arg(&args, "--concurrency")
        .map(|c| c.parse())
        .transpose()?
        .unwrap_or(16);
    let backend = arg(&args, "--backend").unwrap_or_else(|| "pg".to_owned());
    let backend = Backend::from_name(&backend).map_err(|e| e.to_string())?;
    let (store, record, ledger, counter) = connect(backend, &url).await?;
    let counter = worker_fn(COUNTER_WORKER, move |ctx: JobContext, args: CounterArgs| {
        counter(ctx, args)
    });
    let ledger_runner = format!("{name}-{}", std::process::id());
    let ledger = worker_fn(LEDGER_WORKER, move |ctx: JobContext, args: LedgerArgs| {
        run_ledger_job(ledger.clone(), ledger_runner.clone(), ctx, args)
    });
    let runner_name = name.clone();
    let record = worker_fn(RECORD_WORKER, move |ctx: JobContext, sleep_ms: u64| {
        let (record, runner) = (record.clone(), runner_name.clone());
        async move {
            record(ctx.job().id.0, runner)
                .await
                .map_err(backtick_postgres::JobError::retry)?;
            if sleep_ms > 0 {
                tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
            }
            Ok(())
        }
    });
    let config = RunnerConfig {
        runner_id: RunnerId::new(format!("{name}-{}", std::process::id())),
        concurrency,
        poll_interval: Duration::from_millis(100),
        lease_ttl: millis(&args, "--lease-ms", 2_000)?,
        heartbeat_interval: millis(&args, "--heartbeat-ms", 500)?,
        revive_interval: millis(&args, "--revive-ms", 1_000)?,
        shutdown_timeout: millis(&args, "--shutdown-ms", 30_000)?,
        ..RunnerConfig::default()
    };
    let runner = Runner::builder(store)
        .config(config)
        .worker(record)
        .worker(ledger)
        .worker(counter)
        .build()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    println!("ready");
    let stats = runner
        .run_until(async move {
            term.recv().await;
        })
        .await?;
    println!("stopped: {stats:?}");
    Ok(())
}
