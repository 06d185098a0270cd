//! `PgStore` in the Postgres harness of `backtick-testkit`, for test databases of their own
//! (`TestDatabase::<Sqlx>::migrated()`, dropped with their guard).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use backtick_postgres::sqlx::{Connection, Executor, PgConnection};
use backtick_postgres::{PgError, PgMigrationConnection, PgStore, PgStoreConfig};

backtick_testkit::pg_backend! {
    /// `PgStore` (sqlx) for the shared Postgres harness.
    pub struct Sqlx {
        name: "cli",
        store: PgStore,
        config: PgStoreConfig,
        error: PgError,
        connection: PgConnection,
        open: |url| PgConnection::connect(url).await?,
        migration_connection: PgMigrationConnection,
        pool_is_closed: |store| store.pool().execute("SELECT 1").await.is_err(),
    }
}

/// A running `backtick serve --listen 127.0.0.1:0` (killed when dropped) and the URL it
/// printed, without a trailing slash.
pub(crate) struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT` plus the prefix, if any.
    pub(crate) url: String,
}

impl Served {
    /// Start `backtick serve` on the database at `database_url` with `extra` arguments and
    /// wait for its "listening on" line.
    pub(crate) fn start(database_url: &str, extra: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backtick"))
            .args(["--database-url", database_url, "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("backtick dashboard listening on ")
            .unwrap_or_else(|| panic!("serve printed {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
