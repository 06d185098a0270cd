//! The plain SQL limits of the machine: what plain statements over plain connections reach
//! against the same server, on the same table (created by the real migrations in a fresh
//! database), measured in the same run. Every backtick throughput figure is also printed as
//! a ratio to its limit, so that figures from different machines can be compared.
//!
//! | workload | statements | figures |
//! |---|---|---|
//! | `L.insert` | `INSERT ... VALUES (one row) RETURNING id`, one per commit, from 1 and from 10 connections | jobs/s |
//! | `L.bulk` | `INSERT ... SELECT FROM unnest(arrays)` of the same batches as `A.enqueue.bulk`, one per commit | rows/s |
//! | `L.claim` | a burst queued by one `INSERT ... SELECT FROM generate_series`, `ANALYZE`d, then drained by a loop of a claim of 100 (`UPDATE ... WHERE id IN (SELECT ... ORDER BY priority, run_at, id LIMIT 100 FOR UPDATE SKIP LOCKED) RETURNING *`) and their completion (`UPDATE ... SET state = 'done' WHERE id = ANY($1)`), from 1, 4 and 10 connections | jobs/s per client count, and the best |
//!
//! The claim limit's table is analyzed: the limit is the machine's best case, as pgbench's
//! own initialization (which vacuums) gives it; backtick's drains get no such help. (On the
//! never-analyzed table the planner runs this plain claim, too, as a bitmap scan of the
//! claim index and a sort of the whole backlog.)

use std::time::{Duration, Instant};

use backtick_postgres::sqlx::{self, Connection, PgConnection};

use crate::admin::{self, Database};
use crate::backend::Backend;
use crate::profile::{Cost, backend_cpu, own_cpu, wal_position};
use crate::report::Figure;
use crate::workloads::{ARGS, Env, NOOP, Workload};

/// The backend whose migrations create the limits' tables (both backends embed the same).
pub(crate) const SCHEMA_BACKEND: Backend = Backend::Pg;
/// Rows a plain claim takes at once.
pub(crate) const CLAIM_BATCH: i64 = 100;
/// Client counts of the claim limit; the best of them is the limit.
const CLAIM_CLIENTS: &[usize] = &[1, 4, 10];
/// Client count of the concurrent one-row insert.
const INSERT_CLIENTS: usize = 10;

/// A plain SQL limit a backtick figure is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// One-row INSERT per commit, one client: for `A.enqueue.single`.
    InsertSingle,
    /// Batched INSERT: for `A.enqueue.bulk`.
    InsertBulk,
    /// Claim 100 + complete, the best client count: for every drain.
    Claim,
}

impl Limit {
    /// The limit workload that measures it.
    pub(crate) fn workload(self) -> &'static str {
        match self {
            Limit::InsertSingle => "L.insert",
            Limit::InsertBulk => "L.bulk",
            Limit::Claim => "L.claim",
        }
    }

    /// Its metric in that workload.
    pub(crate) fn metric(self) -> &'static str {
        match self {
            Limit::InsertSingle => "c1_jobs_per_s",
            Limit::InsertBulk => "rows_per_s",
            Limit::Claim => "best_jobs_per_s",
        }
    }

    /// How the table names it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Limit::InsertSingle => "L.insert c1",
            Limit::InsertBulk => "L.bulk",
            Limit::Claim => "L.claim best",
        }
    }
}

/// Every limit workload, in report order.
pub(crate) const ALL: &[Workload] = &[
    Workload::new("L.insert", |env| Box::pin(insert(env))),
    Workload::new("L.bulk", |env| Box::pin(bulk(env))),
    Workload::new("L.claim", |env| Box::pin(claim(env))),
];

/// The columns every plain insert writes; the rest take the table's defaults, as an
/// enqueue's do.
const COLUMNS: &str = "worker, queue, args, codec, priority, max_attempts";

/// One job's column values, as an enqueue of the benchmark's no-op job would write them.
struct Row {
    worker: String,
    queue: String,
    args: Vec<u8>,
    codec: &'static str,
    priority: i16,
    max_attempts: i32,
}

fn row() -> Result<Row, String> {
    let job = backtick_postgres::NewJob::new(NOOP, &ARGS).map_err(|e| e.to_string())?;
    Ok(Row {
        worker: job.worker,
        queue: job.queue,
        args: job.args,
        codec: job.codec.as_str(),
        priority: job.priority,
        max_attempts: job.max_attempts,
    })
}

async fn connect(db: &Database) -> Result<PgConnection, String> {
    PgConnection::connect(&db.url)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", db.name))
}

/// L.insert: one-row inserts, each its own commit, from one connection and from
/// [`INSERT_CLIENTS`] at once (in a second fresh database).
async fn insert(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let n = env.sizes.single;
    let single = insert_rows(env.db, 1, n).await?;
    let many = env
        .with_extra_db("c10", |db| async move { insert_rows(&db, INSERT_CLIENTS, n * 2).await })
        .await?;
    Ok(vec![
        Figure::new("c1_jobs_per_s", single, "jobs/s"),
        Figure::new("c10_jobs_per_s", many, "jobs/s"),
    ])
}

/// `n` one-row inserts shared by `clients` connections; jobs per second.
async fn insert_rows(db: &Database, clients: usize, n: usize) -> Result<f64, String> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(connect(db).await?);
    }
    let statement = format!("INSERT INTO backtick_jobs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id");
    let started = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let statement = statement.clone();
            let share = n / clients + usize::from(i < n % clients);
            tokio::spawn(async move {
                let row = row()?;
                for _ in 0..share {
                    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(statement.as_str()))
                        .bind(&row.worker)
                        .bind(&row.queue)
                        .bind(&row.args)
                        .bind(row.codec)
                        .bind(row.priority)
                        .bind(row.max_attempts)
                        .fetch_one(&mut conn)
                        .await
                        .map_err(|e| format!("plain insert: {e}"))?;
                }
                let _ = conn.close().await;
                Ok::<_, String>(())
            })
        })
        .collect();
    join_all(tasks).await?;
    let elapsed = started.elapsed();
    expect_rows(db, "queued", n).await?;
    Ok(per_second(n, elapsed))
}

/// L.bulk: batches of `bulk_batch` rows, one `INSERT ... SELECT FROM unnest` per commit.
async fn bulk(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (n, batch) = (env.sizes.bulk, env.sizes.bulk_batch.max(1));
    let mut conn = connect(env.db).await?;
    let statement = format!(
        "INSERT INTO backtick_jobs ({COLUMNS})
         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::int2[], $6::int4[])"
    );
    let started = Instant::now();
    let mut left = n;
    while left > 0 {
        let size = left.min(batch);
        // Built per batch, as a client would from its own jobs.
        let rows = (0..size).map(|_| row()).collect::<Result<Vec<_>, _>>()?;
        sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
            .bind(rows.iter().map(|r| r.worker.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.queue.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.args.as_slice()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.codec).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.priority).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.max_attempts).collect::<Vec<_>>())
            .execute(&mut conn)
            .await
            .map_err(|e| format!("plain bulk insert: {e}"))?;
        left -= size;
    }
    let elapsed = started.elapsed();
    let _ = conn.close().await;
    expect_rows(env.db, "queued", n).await?;
    Ok(vec![Figure::new("rows_per_s", per_second(n, elapsed), "rows/s")])
}

/// L.claim: drain a burst with plain claim + complete statements from 1, 4 and 10
/// connections, each in a fresh database; the best is the limit.
async fn claim(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let n = env.sizes.drain;
    let mut figures = Vec::new();
    let (mut best, mut best_cost) = (0.0_f64, Cost::default());
    for &clients in CLAIM_CLIENTS {
        let (rate, cost) = if clients == CLAIM_CLIENTS[0] {
            claim_drain(env.db, clients, n).await?
        } else {
            env.with_extra_db(&format!("c{clients}"), |db| async move {
                claim_drain(&db, clients, n).await
            })
            .await?
        };
        if rate > best {
            (best, best_cost) = (rate, cost);
        }
        figures.push(Figure::new(claim_metric(clients), rate, "jobs/s"));
    }
    figures.push(Figure::new("best_jobs_per_s", best, "jobs/s"));
    figures.extend(best_cost.figures(BEST_COST_FIGURES));
    Ok(figures)
}

fn claim_metric(clients: usize) -> &'static str {
    match clients {
        1 => "c1_jobs_per_s",
        4 => "c4_jobs_per_s",
        10 => "c10_jobs_per_s",
        _ => "jobs_per_s",
    }
}

/// The figure names of the best client count's [`Cost`].
const BEST_COST_FIGURES: [&str; 3] = [
    "best_client_cpu_us_per_job",
    "best_db_cpu_us_per_job",
    "best_wal_bytes_per_job",
];

/// Queue `n` jobs in `db` with one statement, analyze, and drain them from `clients`
/// connections; jobs per second, and what the drain cost per job (CPU of this process and of
/// the backends serving the loops, WAL written; read outside the timed window).
async fn claim_drain(db: &Database, clients: usize, n: usize) -> Result<(f64, Cost), String> {
    let mut conn = connect(db).await?;
    let row = row()?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO backtick_jobs ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6 FROM generate_series(1, $7)"
    )))
    .bind(&row.worker)
    .bind(&row.queue)
    .bind(&row.args)
    .bind(row.codec)
    .bind(row.priority)
    .bind(row.max_attempts)
    .bind(i64::try_from(n).map_err(|e| e.to_string())?)
    .execute(&mut conn)
    .await
    .map_err(|e| format!("plain fill: {e}"))?;
    admin::analyze(db).await?;
    let mut connections = Vec::with_capacity(clients);
    let mut backends_before = 0.0;
    for _ in 0..clients {
        let mut client = connect(db).await?;
        backends_before += backend_cpu(&mut client).await;
        connections.push(client);
    }
    let (wal_before, own_before) = (wal_position(&mut conn).await, own_cpu());
    let started = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, conn)| tokio::spawn(claim_loop(conn, format!("plain-{i}"))))
        .collect();
    let ends = join_all(tasks).await?;
    let elapsed = started.elapsed();
    let own = own_cpu() - own_before;
    let wal = wal_position(&mut conn).await - wal_before;
    let _ = conn.close().await;
    let claimed: usize = ends.iter().map(|(claimed, _)| claimed).sum();
    let backends: f64 = ends.iter().map(|(_, cpu)| cpu).sum::<f64>() - backends_before;
    let per_job = |total: f64| total / n.max(1) as f64;
    let cost = Cost {
        client_cpu_us: per_job(1e6 * own),
        db_cpu_us: per_job(1e6 * backends),
        wal_bytes: per_job(wal),
    };
    if claimed != n {
        return Err(format!("the plain drain claimed {claimed} jobs of {n}"));
    }
    expect_rows(db, "done", n).await?;
    Ok((per_second(n, elapsed), cost))
}

/// Claim [`CLAIM_BATCH`] jobs and complete them, two statements (two commits) a round, until
/// a claim comes back empty; returns how many jobs it claimed and the CPU seconds its server
/// backend has used so far.
async fn claim_loop(mut conn: PgConnection, owner: String) -> Result<(usize, f64), String> {
    const CLAIM: &str = "
UPDATE backtick_jobs
SET state = 'running', attempt = attempt + 1, lease_owner = $1,
    lease_expires_at = now() + interval '30 seconds', updated_at = now()
WHERE id IN (
    SELECT id FROM backtick_jobs
    WHERE state = 'queued' AND run_at <= now()
    ORDER BY priority, run_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED)
RETURNING *";
    const COMPLETE: &str = "
UPDATE backtick_jobs
SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
WHERE id = ANY($1)";
    let mut claimed = 0;
    loop {
        let rows = sqlx::query(CLAIM)
            .bind(&owner)
            .bind(CLAIM_BATCH)
            .fetch_all(&mut conn)
            .await
            .map_err(|e| format!("plain claim: {e}"))?;
        if rows.is_empty() {
            break;
        }
        let ids = rows
            .iter()
            .map(|row| sqlx::Row::try_get::<i64, _>(row, "id"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        sqlx::query(COMPLETE)
            .bind(&ids)
            .execute(&mut conn)
            .await
            .map_err(|e| format!("plain complete: {e}"))?;
        claimed += ids.len();
    }
    let cpu = backend_cpu(&mut conn).await;
    let _ = conn.close().await;
    Ok((claimed, cpu))
}

async fn join_all<T>(tasks: Vec<tokio::task::JoinHandle<Result<T, String>>>) -> Result<Vec<T>, String> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok(results)
}

/// Fail unless the table holds exactly `n` jobs, all in `state`.
async fn expect_rows(db: &Database, state: &str, n: usize) -> Result<(), String> {
    let mut conn = connect(db).await?;
    let (total, in_state): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE state = $1) FROM backtick_jobs")
            .bind(state)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    if total == n as i64 && in_state == n as i64 {
        Ok(())
    } else {
        Err(format!("expected {n} jobs {state}, found {in_state} of {total}"))
    }
}

fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}
