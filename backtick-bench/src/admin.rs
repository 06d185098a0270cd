//! The server side of the benchmark: which server, a fresh database per workload, the
//! server's settings and the jobs table's statistics.

use backtick_postgres::sqlx::{self, Connection, PgConnection, Row};

/// Server settings worth printing next to the figures: they decide what the numbers mean.
const SETTINGS: &[&str] = &[
    "synchronous_commit",
    "fsync",
    "wal_sync_method",
    "commit_delay",
    "shared_buffers",
    "max_connections",
    "autovacuum",
    "autovacuum_naptime",
    "jit",
];

/// The PostgreSQL server the benchmark creates its databases on.
pub(crate) struct Server {
    url: String,
    /// `SELECT version()`.
    pub(crate) version: String,
    /// [`SETTINGS`] as `name = value unit`.
    pub(crate) settings: Vec<(String, String)>,
}

/// A database of one workload.
#[derive(Debug, Clone)]
pub(crate) struct Database {
    pub(crate) name: String,
    pub(crate) url: String,
}

impl Server {
    /// `BT_DATABASE_URL`, else `DATABASE_URL`, else `backtick_testkit::testdb::server_url()`
    /// (which finds or starts a server).
    pub(crate) async fn find() -> Result<Server, String> {
        let configured = ["BT_DATABASE_URL", "DATABASE_URL"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|url| !url.trim().is_empty()));
        let url = match configured {
            Some(url) => url,
            None => tokio::task::spawn_blocking(backtick_testkit::testdb::server_url)
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?,
        };
        let mut conn = connect(&url).await?;
        let version: String = sqlx::query_scalar("SELECT version()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("cannot query the server: {e}"))?;
        let rows = sqlx::query(
            "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1) ORDER BY name",
        )
        .bind(SETTINGS)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("cannot read the server settings: {e}"))?;
        let settings = rows
            .iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("value")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| e.to_string())?;
        let _ = conn.close().await;
        Ok(Server { url, version, settings })
    }

    /// The server's url without its password.
    pub(crate) fn display_url(&self) -> String {
        match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let user_info = &self.url[scheme + 3..at];
                let user = user_info.split(':').next().unwrap_or_default();
                format!("{}{user}@{}", &self.url[..scheme + 3], &self.url[at + 1..])
            }
            _ => self.url.clone(),
        }
    }

    /// Create an empty database for `workload` of `backend` (dropping a leftover of the same
    /// name from an interrupted run first).
    pub(crate) async fn create_database(&self, backend: &str, workload: &str) -> Result<Database, String> {
        let name = format!("backtick_bench_{backend}_{}", workload.to_lowercase().replace('.', "_"));
        let mut conn = connect(&self.url).await?;
        drop_named(&mut conn, &name).await?;
        // `name` is made of a fixed prefix, the backend and the workload name: no outside input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("cannot create database {name} (the user needs CREATEDB): {e}"))?;
        let _ = conn.close().await;
        Ok(Database {
            url: with_database(&self.url, &name),
            name,
        })
    }

    /// Drop `db`, disconnecting whoever is still on it.
    pub(crate) async fn drop_database(&self, db: &Database) -> Result<(), String> {
        let mut conn = connect(&self.url).await?;
        drop_named(&mut conn, &db.name).await?;
        let _ = conn.close().await;
        Ok(())
    }
}

async fn drop_named(conn: &mut PgConnection, name: &str) -> Result<(), String> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| format!("cannot drop database {name}: {e}"))
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    PgConnection::connect(url)
        .await
        .map_err(|e| format!("cannot connect to the benchmark's server: {e}"))
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// `ANALYZE backtick_jobs` in `db`: the statistics autovacuum keeps on a table in use, which
/// a table filled a moment ago does not have yet. Only for comparison figures and the plain
/// SQL limit: a user's burst gets no such help.
pub(crate) async fn analyze(db: &Database) -> Result<(), String> {
    let mut conn = connect(&db.url).await?;
    sqlx::query("ANALYZE backtick_jobs")
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot analyze the jobs table: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

/// Fill `db`'s jobs table with `n` done jobs of the benchmark's no-op worker, finished 50 ms
/// apart over the time before now (10,000,000 of them span under six days, inside the
/// default seven-day retention, so the pruner leaves them), in statements of a million rows;
/// then `VACUUM ANALYZE` it, as autovacuum would have over the days those jobs finished, and
/// `CHECKPOINT`, as the server would have.
pub(crate) async fn fill_finished(db: &Database, n: u64) -> Result<(), String> {
    const CHUNK: u64 = 1_000_000;
    let job = crate::workloads::job(crate::workloads::NOOP)?;
    let mut conn = connect(&db.url).await?;
    let mut from = 1;
    while from <= n {
        let to = (from + CHUNK - 1).min(n);
        sqlx::query(
            "INSERT INTO backtick_jobs
                 (worker, queue, args, codec, state, attempt, run_at, created_at, updated_at, finished_at)
             SELECT $1, $2, $3, $4, 'done', 1, t, t, t, t
             FROM (SELECT now() - i * interval '50 milliseconds' AS t
                   FROM generate_series($5::int8, $6::int8) AS i) AS finished",
        )
        .bind(&job.worker)
        .bind(&job.queue)
        .bind(&job.args)
        .bind(job.codec.as_str())
        .bind(i64::try_from(from).map_err(|e| e.to_string())?)
        .bind(i64::try_from(to).map_err(|e| e.to_string())?)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot fill the jobs table with finished jobs: {e}"))?;
        eprintln!("bench:   {to} of {n} finished jobs in the table");
        from = to + 1;
    }
    sqlx::raw_sql("VACUUM ANALYZE backtick_jobs")
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot vacuum the jobs table: {e}"))?;
    // Over those days the server would also have checkpointed them. Written in a minute, they
    // leave gigabytes of WAL whose checkpoints would otherwise run across the measured work
    // that follows, with a full-page image in the WAL for each page it first touches after
    // one starts (seen as drains 30-50% slower beside the fill than after it).
    if let Err(e) = sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await {
        eprintln!(
            "bench:   warning: cannot checkpoint after the fill ({e}); the figures that follow include its checkpoints"
        );
    }
    let _ = conn.close().await;
    Ok(())
}

/// What `pg_stat_user_tables` says about the jobs table.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TableStats {
    pub(crate) live: i64,
    pub(crate) dead: i64,
    pub(crate) autovacuums: i64,
    pub(crate) vacuums: i64,
}

/// Read the jobs table's statistics in `db`.
pub(crate) async fn table_stats(db: &Database) -> Result<TableStats, String> {
    let mut conn = connect(&db.url).await?;
    let row = sqlx::query(
        "SELECT n_live_tup, n_dead_tup, autovacuum_count, vacuum_count
         FROM pg_stat_user_tables WHERE relname = 'backtick_jobs'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| format!("cannot read pg_stat_user_tables: {e}"))?;
    let get = |name: &str| row.try_get::<i64, _>(name).map_err(|e| e.to_string());
    let stats = TableStats {
        live: get("n_live_tup")?,
        dead: get("n_dead_tup")?,
        autovacuums: get("autovacuum_count")?,
        vacuums: get("vacuum_count")?,
    };
    let _ = conn.close().await;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_the_path_and_keeps_the_query() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "b"),
            "postgres://u@h:5432/b"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b"),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:5432", "b"), "postgres://h:5432/b");
    }
}
