//! End-to-end harness: fresh databases, real runner processes, and a table in which every
//! execution of a job is recorded, so tests can count executions per job.
//!
//! The runner process is the `e2e-runner` binary of this crate. Tests start several of them
//! on one database, kill some, and check what the `e2e_runs` table says. Every scenario runs
//! on each [`Backend`]: the same test code drives `PgStore` and `DieselStore`.

pub mod faults;

use std::sync::Arc;
use std::time::Duration;

use backtick_postgres::sqlx::{self, Connection, Executor, PgConnection};
use backtick_postgres::{PgStore, QueueStore, StoreError};

/// The worker every e2e runner has: records its execution, then sleeps for its argument (ms).
pub const RECORD_WORKER: &str = "e2e_record";

/// The table that records executions: one row per run of a job.
pub const RUNS_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS e2e_runs (
    job_id bigint NOT NULL,
    runner text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp()
)";

/// The worker of the exactly-once test (`tests/exactly_once.rs`): adds one to its job's row in
/// `e2e_counters`, then completes, either in the same transaction (`complete_in`) or as usual.
pub const COUNTER_WORKER: &str = "e2e_counter";

/// One counter row per job: how many times its increment committed.
pub const COUNTERS_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS e2e_counters (
    job_id bigint PRIMARY KEY,
    n int NOT NULL
)";

/// The counter worker's write: `$1` job id.
pub const COUNTER_SQL: &str = "INSERT INTO e2e_counters (job_id, n) VALUES ($1, 1)
ON CONFLICT (job_id) DO UPDATE SET n = e2e_counters.n + 1";

/// The arguments of a counter job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CounterArgs {
    /// Complete inside the worker's transaction (`complete_in`) rather than by the runner.
    pub transactional: bool,
    /// How long the worker waits between its write and its commit (or its return), in ms: the
    /// window in which a kill lands between the two.
    pub sleep_ms: u64,
}

/// The store a test and its runner processes use. Both run on the one schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `backtick_postgres::PgStore` (sqlx).
    Pg,
    /// `backtick_diesel::DieselStore` (diesel-async).
    Diesel,
}

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 2] = [Backend::Pg, Backend::Diesel];

    /// The name `e2e-runner --backend` takes.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Pg => "pg",
            Backend::Diesel => "diesel",
        }
    }

    /// The backend called `name`.
    ///
    /// # Errors
    /// When `name` is neither `pg` nor `diesel`.
    pub fn from_name(name: &str) -> Result<Backend, HarnessError> {
        Backend::ALL
            .into_iter()
            .find(|backend| backend.name() == name)
            .ok_or_else(|| format!("unknown backend {name:?}: expected pg or diesel").into())
    }

    /// A store of this backend on `url`.
    ///
    /// # Errors
    /// When the store cannot connect.
    pub async fn connect(self, url: &str) -> Result<Arc<dyn QueueStore>, HarnessError> {
        Ok(match self {
            Backend::Pg => Arc::new(PgStore::connect(url).await?),
            Backend::Diesel => Arc::new(backtick_diesel::DieselStore::connect(url).await?),
        })
    }
}

/// A database made for one test, dropped by [`TestDatabase::drop_database`], or when the
/// guard drops if the test never got there (it failed: an error returned early, or a panic).
pub struct TestDatabase {
    /// The database's URL.
    pub url: String,
    name: String,
    server: String,
    dropped: bool,
}

/// Errors of the harness, as text: this is test code.
pub type HarnessError = Box<dyn std::error::Error + Send + Sync>;

impl TestDatabase {
    /// Create a fresh, migrated database on the test server (see `backtick_testkit::testdb`).
    ///
    /// # Errors
    /// When no server can be found or the database cannot be created.
    pub async fn create() -> Result<Self, HarnessError> {
        let server = backtick_testkit::testdb::server_url()?;
        let name = format!("bt_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await?;
        // The guard exists from here on, so a failure below drops the database too.
        let db = TestDatabase {
            url: with_database(&server, &name),
            name,
            server,
            dropped: false,
        };
        let store = PgStore::connect(&db.url).await?;
        store.migrate().await?;
        sqlx::query(RUNS_TABLE_SQL).execute(store.pool()).await?;
        sqlx::query(COUNTERS_TABLE_SQL).execute(store.pool()).await?;
        store.close().await;
        Ok(db)
    }

    /// Drop the database (terminating leftover connections).
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn drop_database(mut self) -> Result<(), HarnessError> {
        drop_database(&self.server, &self.name).await?;
        self.dropped = true;
        Ok(())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime (or while it unwinds): block on a runtime of
        // our own, on a thread of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(drop_database(&server, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test database {}: {error}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

async fn drop_database(server: &str, name: &str) -> Result<(), HarnessError> {
    let mut admin = PgConnection::connect(server).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    admin.close().await?;
    Ok(())
}

/// `server` with its database path replaced by `database`.
pub fn with_database(server: &str, database: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server, String::new()),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    format!("{root}/{database}{query}")
}

/// Poll until `count` returns at least `want`, or fail after `limit`.
///
/// # Errors
/// The store's error, or a timeout message.
pub async fn wait_for<F, Fut>(limit: Duration, want: u64, what: &str, mut count: F) -> Result<(), HarnessError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let now = count().await?;
        if now >= want {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}: {now} of {want}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_round_trip_through_their_names() {
        for backend in Backend::ALL {
            assert_eq!(Backend::from_name(backend.name()).ok(), Some(backend));
        }
        assert!(Backend::from_name("mysql").is_err());
    }

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(with_database("postgres://u@h:5/postgres", "x"), "postgres://u@h:5/x");
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}

/// The README's examples (both backends), compiled and run as doc tests so that they never rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
