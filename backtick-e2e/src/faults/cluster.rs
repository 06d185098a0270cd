//! The lab: a private PostgreSQL cluster the suite starts, restarts and stops itself, and a
//! fresh database per scenario on it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backtick_postgres::PgStore;
use backtick_postgres::sqlx::{self, Connection, Executor, PgConnection};
use backtick_testkit::testdb::LocalCluster;

use super::LEDGER_TABLE_SQL;
use crate::{HarnessError, with_database};

/// The cluster's `max_connections`: small, so that the exhaustion scenario fills it quickly.
pub(crate) const MAX_CONNECTIONS: u32 = 64;

/// A private cluster on `127.0.0.1:<port>` in a directory of its own, stopped when dropped.
pub struct Lab {
    cluster: LocalCluster,
    dir: PathBuf,
    /// The first port the stall proxy tries ([`super::StallProxy::start`]).
    pub proxy_port: u16,
    /// The `e2e-runner` executable.
    pub runner_exe: PathBuf,
    databases: usize,
}

impl Lab {
    /// Start (or reuse) the cluster in `dir/pg` on `port`, with `max_connections` set to
    /// [`MAX_CONNECTIONS`].
    ///
    /// # Errors
    /// When the cluster cannot be started or configured.
    pub async fn open(dir: &Path, port: u16, proxy_port: u16, runner_exe: PathBuf) -> Result<Self, HarnessError> {
        let cluster = LocalCluster::new(dir.join("pg"), port);
        let lab = Lab {
            cluster: cluster.clone(),
            dir: dir.to_owned(),
            proxy_port,
            runner_exe,
            databases: 0,
        };
        blocking(move || cluster.ensure_running()).await?;
        let mut admin = PgConnection::connect(&lab.cluster.url()).await?;
        let current: String = sqlx::query_scalar("SHOW max_connections").fetch_one(&mut admin).await?;
        if current != MAX_CONNECTIONS.to_string() {
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}"
                )))
                .await?;
            admin.close().await?;
            lab.restart(Duration::ZERO).await?;
        }
        Ok(lab)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.cluster.port()
    }

    /// The server's URL (database `postgres`).
    pub fn server_url(&self) -> String {
        self.cluster.url()
    }

    /// Where a scenario's runner logs go.
    pub fn log_dir(&self, scenario: &str) -> PathBuf {
        self.dir.join("logs").join(scenario)
    }

    /// Fast shutdown, `down` without a server, then start again.
    ///
    /// # Errors
    /// When `pg_ctl` fails.
    pub async fn restart(&self, down: Duration) -> Result<(), HarnessError> {
        let cluster = self.cluster.clone();
        blocking(move || cluster.stop()).await?;
        tokio::time::sleep(down).await;
        let cluster = self.cluster.clone();
        blocking(move || cluster.ensure_running()).await
    }

    /// A fresh, migrated database with the ledger table; returns its URL and name.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn create_database(&mut self, label: &str) -> Result<(String, String), HarnessError> {
        self.databases += 1;
        let name = format!("faults_{label}_{}_{}", std::process::id(), self.databases);
        let mut admin = PgConnection::connect(&self.server_url()).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await?;
        let url = with_database(&self.server_url(), &name);
        let store = PgStore::connect(&url).await?;
        store.migrate().await?;
        sqlx::query(LEDGER_TABLE_SQL).execute(store.pool()).await?;
        store.close().await;
        Ok((url, name))
    }

    /// Drop a scenario's database.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn drop_database(&self, name: &str) -> Result<(), HarnessError> {
        let mut admin = PgConnection::connect(&self.server_url()).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
        admin.close().await?;
        Ok(())
    }

    /// The URL of database `name` through the stall proxy on `port`.
    pub fn proxied_url(&self, port: u16, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{name}")
    }

    /// Stop the cluster.
    ///
    /// # Errors
    /// When `pg_ctl` fails.
    pub fn close(self) -> Result<(), HarnessError> {
        self.cluster.stop()?;
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Stopping twice is harmless: a stopped cluster is left alone.
        if let Err(error) = self.cluster.stop() {
            eprintln!("could not stop the fault suite's cluster: {error}");
        }
    }
}

async fn blocking<F>(f: F) -> Result<(), HarnessError>
where
    F: FnOnce() -> Result<(), backtick_testkit::testdb::TestDbError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await??;
    Ok(())
}
