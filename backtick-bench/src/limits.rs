//! The plain SQL limits of the machine: what plain statements over plain connections reach
//! against the same server, on the same table (created by the real migrations in a fresh
//! database), measured in the same run. Every backtick throughput figure is also printed as
//! a ratio to its limit, so that figures from different machines can be compared.
//!
//! | workload | statements | figures |
//! |---|---|---|
//! | `L.insert` | `INSERT ... VALUES (one row) RETURNING id`, one per commit, from 1 and from 10 connections | jobs/s |
//! | `L.bulk` | `INSERT ... SELECT FROM unnest(arrays)` of the same batches as `A.enqueue.bulk`, one per commit | rows/s |
//! | `L.steady` | the latency floor at `C.steady`'s rate: a producer inserting the jobs due every 10 ms with one `INSERT ... SELECT FROM generate_series` (the schema's trigger sends the NOTIFY), a consumer that `LISTEN`s and, at each notification, claims 100 and completes them (the `L.claim` statements, planned with sorting off as backtick's claim is) until a claim comes back empty, the table vacuumed when due (checked every 5 s) as a runner does | p50 / p99 / max ms from `created_at` to the claim's rows reaching the consumer |
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
    /// The p99 latency floor at the steady rate: for `C.steady` and `E.soak` (a ratio above
    /// 1 is that many times the floor).
    SteadyP99,
}

impl Limit {
    /// The limit workload that measures it.
    pub(crate) fn workload(self) -> &'static str {
        match self {
            Limit::InsertSingle => "L.insert",
            Limit::InsertBulk => "L.bulk",
            Limit::Claim => "L.claim",
            Limit::SteadyP99 => "L.steady",
        }
    }

    /// Its metric in that workload.
    pub(crate) fn metric(self) -> &'static str {
        match self {
            Limit::InsertSingle => "c1_jobs_per_s",
            Limit::InsertBulk => "rows_per_s",
            Limit::Claim => "best_jobs_per_s",
            Limit::SteadyP99 => "p99_ms",
        }
    }

    /// How the table names it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Limit::InsertSingle => "L.insert c1",
            Limit::InsertBulk => "L.bulk",
            Limit::Claim => "L.claim best",
            Limit::SteadyP99 => "L.steady p99",
        }
    }
}

/// Every limit workload, in report order.
pub(crate) const ALL: &[Workload] = &[
    Workload::new("L.insert", |env| Box::pin(insert(env))),
    Workload::new("L.bulk", |env| Box::pin(bulk(env))),
    Workload::new("L.claim", |env| Box::pin(claim(env))),
    Workload::new("L.steady", |env| Box::pin(steady(env))),
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
    let mut claimed = 0;
    loop {
        let rows = sqlx::query(PLAIN_CLAIM)
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
        sqlx::query(PLAIN_COMPLETE)
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

/// The statements of the plain claim loop: claim [`CLAIM_BATCH`] (`$1` owner, `$2` limit).
const PLAIN_CLAIM: &str = "
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

/// ... and complete them (`$1` ids).
const PLAIN_COMPLETE: &str = "
UPDATE backtick_jobs
SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
WHERE id = ANY($1)";

/// L.steady: the latency a plain SQL queue gets at `C.steady`'s rate on this machine, the
/// floor `C.steady`'s and `E.soak`'s p99 are reported against. A producer on its own
/// connection inserts the jobs due every 10 ms in one statement (the schema's trigger sends the
/// NOTIFY at commit); a consumer `LISTEN`s on another and, at each notification (or after
/// 100 ms without one), claims [`CLAIM_BATCH`] and completes them until a claim comes back
/// empty. Each job's latency runs from its `created_at` to its claim's rows reaching the
/// consumer (the database clock, read through the local clock and a measured offset): what a
/// runner's worker start would be with no runner at all.
async fn steady(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let (rate, duration) = (f64::from(env.sizes.steady_rate), env.sizes.steady_for);
    let mut latencies = steady_floor(env.db, rate, duration).await?;
    latencies.sort_by(f64::total_cmp);
    Ok(vec![
        Figure::new("jobs", latencies.len() as f64, "jobs"),
        Figure::new("p50_ms", crate::recorder::percentile(&latencies, 50.0), "ms"),
        Figure::new("p99_ms", crate::recorder::percentile(&latencies, 99.0), "ms"),
        Figure::new("max_ms", latencies.last().copied().unwrap_or(f64::NAN), "ms"),
    ])
}

/// Run the plain producer and consumer of [`steady`] for `duration`; every job's latency in
/// milliseconds, in the order claimed.
async fn steady_floor(db: &Database, rate: f64, duration: Duration) -> Result<Vec<f64>, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let mut listener = sqlx::postgres::PgListener::connect(&db.url)
        .await
        .map_err(|e| format!("plain listener: {e}"))?;
    listener
        .listen("backtick_jobs")
        .await
        .map_err(|e| format!("plain listen: {e}"))?;
    // The listener lives in a task of its own that turns each notification into a wake-up:
    // waiting for a wake-up can time out (to poll) without cancelling a read halfway.
    let wake = Arc::new(tokio::sync::Notify::new());
    let woken = wake.clone();
    let forwarder = tokio::spawn(async move {
        while listener.recv().await.is_ok() {
            woken.notify_one();
        }
    });
    let mut claimer = connect(db).await?;
    // The plan backtick's claim pins (see migration 0004): without it, on the table that the
    // run fills and nothing analyzes, the planner picks a bitmap scan of every index entry
    // the run left behind, and the claims fall ever further behind.
    sqlx::query("SET enable_sort = off")
        .execute(&mut claimer)
        .await
        .map_err(|e| format!("plain claim plan: {e}"))?;
    let offset = clock_offset(&mut claimer).await?;
    // How many jobs the producer sent, once it is done.
    let sent = Arc::new(AtomicUsize::new(usize::MAX));
    let target = sent.clone();
    let consumer = tokio::spawn(async move {
        let mut latencies = Vec::new();
        while latencies.len() < target.load(Ordering::Acquire) {
            loop {
                let rows = sqlx::query(PLAIN_CLAIM)
                    .bind("plain-steady")
                    .bind(CLAIM_BATCH)
                    .fetch_all(&mut claimer)
                    .await
                    .map_err(|e| format!("plain claim: {e}"))?;
                let now = chrono::Utc::now() + offset;
                if rows.is_empty() {
                    break;
                }
                let mut ids = Vec::with_capacity(rows.len());
                for row in &rows {
                    ids.push(sqlx::Row::try_get::<i64, _>(row, "id").map_err(|e| e.to_string())?);
                    let created: chrono::DateTime<chrono::Utc> =
                        sqlx::Row::try_get(row, "created_at").map_err(|e| e.to_string())?;
                    latencies.push((now - created).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
                }
                sqlx::query(PLAIN_COMPLETE)
                    .bind(&ids)
                    .execute(&mut claimer)
                    .await
                    .map_err(|e| format!("plain complete: {e}"))?;
            }
            // A notification, or a poll after 100 ms.
            let _ = tokio::time::timeout(Duration::from_millis(100), wake.notified()).await;
        }
        let _ = claimer.close().await;
        Ok::<_, String>(latencies)
    });
    // The housekeeping backtick's runners do (the jobs table vacuumed when due, checked every
    // 5 s): with the server's autovacuum off or slow, a plain queue without it claims through
    // ever more dead index entries and falls behind, and the floor would be no floor.
    let (stop_vacuum, stopped) = tokio::sync::watch::channel(false);
    let vacuumer = tokio::spawn(vacuum_when_due(connect(db).await?, stopped));
    let produced = produce_plain(db, rate, duration).await;
    sent.store(*produced.as_ref().unwrap_or(&0), Ordering::Release);
    let consumed = match &produced {
        Ok(count) => match tokio::time::timeout(Duration::from_secs(60), consumer).await {
            Ok(joined) => joined.map_err(|e| e.to_string()).and_then(|result| result),
            Err(_) => Err(format!("the plain consumer did not claim {count} jobs within a minute")),
        },
        Err(error) => Err(error.clone()),
    };
    forwarder.abort();
    let _ = stop_vacuum.send(true);
    let vacuumed = vacuumer.await.map_err(|e| e.to_string()).and_then(|result| result);
    let produced = produced?;
    let latencies = consumed?;
    vacuumed?;
    if latencies.len() != produced {
        return Err(format!(
            "the plain consumer claimed {} jobs of {produced}",
            latencies.len()
        ));
    }
    expect_rows(db, "done", produced).await?;
    Ok(latencies)
}

/// Every 5 s until `stop` turns true, vacuum the jobs table when it is due by its autovacuum
/// thresholds: the statements of backtick's vacuumer (`QueueStore::vacuum`), on `conn`.
async fn vacuum_when_due(mut conn: PgConnection, mut stop: tokio::sync::watch::Receiver<bool>) -> Result<(), String> {
    use backtick_postgres::backtick_pg_common::sql;
    const EVERY: Duration = Duration::from_secs(5);
    sqlx::raw_sql(sql::VACUUM_QUIET)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("plain vacuum: {e}"))?;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            () = tokio::time::sleep(EVERY) => {}
        }
        let due: Option<bool> = sqlx::query_scalar(sql::VACUUM_DUE)
            .fetch_optional(&mut conn)
            .await
            .map_err(|e| format!("plain vacuum check: {e}"))?;
        if due == Some(true) {
            sqlx::raw_sql(sql::VACUUM)
                .execute(&mut conn)
                .await
                .map_err(|e| format!("plain vacuum: {e}"))?;
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// Insert the no-op job at `rate` per second for `duration` on a connection of its own: every
/// 10 ms one `INSERT ... SELECT FROM generate_series` of the jobs due by then. Returns how many
/// it inserted.
async fn produce_plain(db: &Database, rate: f64, duration: Duration) -> Result<usize, String> {
    let mut conn = connect(db).await?;
    let row = row()?;
    let insert =
        format!("INSERT INTO backtick_jobs ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6 FROM generate_series(1, $7)");
    let mut pace = crate::workloads::Pace::new(rate, duration);
    while let Some(count) = pace.next().await {
        sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
            .bind(&row.worker)
            .bind(&row.queue)
            .bind(&row.args)
            .bind(row.codec)
            .bind(row.priority)
            .bind(row.max_attempts)
            .bind(i64::try_from(count).map_err(|e| e.to_string())?)
            .execute(&mut conn)
            .await
            .map_err(|e| format!("plain produce: {e}"))?;
    }
    let _ = conn.close().await;
    Ok(pace.sent)
}

/// The database clock minus the local clock, read on `conn` ([`crate::recorder::clock_offset_of`]).
async fn clock_offset(conn: &mut PgConnection) -> Result<chrono::TimeDelta, String> {
    crate::recorder::clock_offset_of(async || {
        sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| e.to_string())
    })
    .await
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
