//! A fresh database per test, the binary run against it, a runner on it, and a snapshot of
//! its tables to prove that a refused command changed nothing.

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use backtick_postgres::sqlx::{self, Connection};
use backtick_postgres::{PgStore, QueueStore, Runner, RunnerConfig, RunnerHandle, RunnerId};
use serde_json::Value;

/// Run the binary with `args`, without the url variables of the environment.
pub(crate) fn backtick(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backtick"))
        .args(args)
        .env_remove("BT_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .output()
        .expect("the binary runs")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Assert that `output` failed with `code` and one `error: ` line on stderr; that line.
pub(crate) fn failed(output: &Output, code: i32) -> String {
    let text = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stderr: {text}; stdout: {}",
        stdout(output)
    );
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    assert!(text.starts_with("error: "), "{text}");
    text.trim_end().to_owned()
}

/// Poll `check` every 20 ms until it holds; panic with `what` after `limit`.
pub(crate) async fn wait_for<F, Fut>(limit: Duration, what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A database of its own on the test server, dropped with this guard.
pub(crate) struct Db {
    pub(crate) url: String,
    pub(crate) store: PgStore,
    name: String,
    server: String,
}

impl Db {
    /// A new database without any table.
    pub(crate) async fn empty() -> Self {
        let server = backtick_testkit::testdb::server_url().expect("a test server");
        let name = format!("backtick_cli_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&server).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        let url = backtick_testkit::testdb::with_database(&server, &name);
        let store = PgStore::connect(&url).await.expect("connect the store");
        Db {
            url,
            store,
            name,
            server,
        }
    }

    /// A new database with every migration applied.
    pub(crate) async fn migrated() -> Self {
        let db = Self::empty().await;
        db.store.migrate().await.expect("migrate");
        db
    }

    /// Run the binary against this database.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--database-url", self.url.as_str()];
        all.extend_from_slice(args);
        backtick(&all)
    }

    /// Run the binary; assert exit 0; its stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}{}",
            stderr(&output),
            stdout(&output)
        );
        stdout(&output)
    }

    /// Run the binary with `--json`; assert exit 0; its output parsed.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
    }

    /// Every row of the jobs, queues and schedules tables as text (runners are left out:
    /// their heartbeats move).
    pub(crate) async fn snapshot(&self) -> String {
        sqlx::query_scalar(
            "SELECT concat_ws(E'\\n',
                (SELECT string_agg(row_to_json(j)::text, E'\\n' ORDER BY id) FROM backtick_jobs j),
                (SELECT string_agg(row_to_json(q)::text, E'\\n' ORDER BY name) FROM backtick_queues q),
                (SELECT string_agg(row_to_json(s)::text, E'\\n' ORDER BY name) FROM backtick_schedules s))",
        )
        .fetch_one(self.store.pool())
        .await
        .expect("snapshot")
    }

    /// Start a runner with every worker and schedule of [`crate::workers`], polling often.
    pub(crate) fn runner(&self, id: &str) -> RunnerHandle {
        let config = RunnerConfig {
            runner_id: RunnerId::new(id),
            poll_interval: Duration::from_millis(50),
            schedule_interval: Duration::from_millis(50),
            ..RunnerConfig::default()
        };
        let store: Arc<dyn QueueStore> = Arc::new(self.store.clone());
        Runner::builder(store)
            .config(config)
            .discovered()
            .build()
            .expect("build the runner")
            .start()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime: drop the database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
