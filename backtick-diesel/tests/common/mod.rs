//! Test databases, the same approach as `backtick-postgres`'s tests: one fresh database per
//! test, copied from a migrated template (built once per schema version by `DieselStore`
//! itself), so tests run in parallel and never see each other's jobs; a fresh schema per case
//! where a test needs hundreds of stores. The server comes from
//! `backtick_testkit::testdb::server_url()` (`BACKTICK_TEST_DATABASE_URL`, else
//! `DATABASE_URL`, else a local cluster it starts).

#![allow(dead_code, unreachable_pub)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::str::FromStr;
use std::time::Duration;

use backtick_diesel::diesel::QueryableByName;
use backtick_diesel::diesel::sql_types::Integer;
use backtick_diesel::diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use backtick_diesel::{DieselStore, DieselStoreConfig, tokio_postgres};
use tokio::sync::OnceCell;

/// Pool settings for tests: small, so that many parallel tests fit the server's connection limit.
pub fn test_config() -> DieselStoreConfig {
    DieselStoreConfig {
        max_connections: 4,
        idle_timeout: Some(Duration::from_secs(30)),
        ..DieselStoreConfig::default()
    }
}

/// The url of the test server (a server, not a database).
pub fn server_url() -> String {
    backtick_testkit::testdb::server_url().expect("a postgres server for the backtick-diesel tests")
}

fn server_options() -> tokio_postgres::Config {
    tokio_postgres::Config::from_str(&server_url()).expect("the test server url parses")
}

/// A connection to the test server's own database, for creating and dropping databases.
async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&server_url())
        .await
        .expect("connect to the test server")
}

/// A database of its own, dropped (with its connections) when this guard is dropped.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A fresh database with the backtick schema.
    pub async fn migrated() -> TestDb {
        let template = template().await;
        TestDb::create(&format!("TEMPLATE {template}")).await
    }

    /// A fresh database without any schema.
    pub async fn empty() -> TestDb {
        TestDb::create("TEMPLATE template0").await
    }

    async fn create(clause: &str) -> TestDb {
        let name = format!("bt_test_diesel_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} {clause}"))
            .await
            .expect("create a test database");
        TestDb { name }
    }

    /// Connect options for this database.
    pub fn options(&self) -> tokio_postgres::Config {
        let mut options = server_options();
        options.dbname(&self.name);
        options
    }

    /// A url for this database.
    pub fn url(&self) -> String {
        backtick_testkit::testdb::with_database(&server_url(), &self.name)
    }

    /// A store on this database with the test pool settings.
    pub async fn store(&self) -> DieselStore {
        DieselStore::connect_with_options(self.options(), test_config())
            .await
            .expect("connect to the test database")
    }

    /// A fresh schema in this database holding the backtick tables: much cheaper than a
    /// database when a test needs hundreds of stores. Stores on it find their tables through
    /// `search_path`.
    pub async fn schema(&self) -> TestSchema {
        let schema = TestSchema {
            options: self.options(),
            name: format!("bt_case_{}", uuid::Uuid::new_v4().simple()),
        };
        let mut conn = self.connection().await;
        conn.batch_execute(&format!("CREATE SCHEMA {}", schema.name))
            .await
            .expect("create a schema");
        schema.store().await.migrate().await.expect("migrate the schema");
        schema
    }

    /// A plain connection to this database, for setting up odd rows.
    pub async fn connection(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url())
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            std::mem::take(&mut self.name)
        );
        run_detached(server_url(), sql);
    }
}

/// A schema of its own in a [`TestDb`], dropped when this guard is dropped.
#[derive(Debug)]
pub struct TestSchema {
    options: tokio_postgres::Config,
    pub name: String,
}

impl TestSchema {
    /// A store whose connections use this schema.
    pub async fn store(&self) -> DieselStore {
        let mut options = self.options.clone();
        options.options(format!("-c search_path={}", self.name));
        DieselStore::connect_with_options(options, test_config())
            .await
            .expect("connect to the test schema")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let database = self.options.get_dbname().unwrap_or_default().to_owned();
        let url = backtick_testkit::testdb::with_database(&server_url(), &database);
        run_detached(
            url,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", std::mem::take(&mut self.name)),
        );
    }
}

/// Run `sql` on `url` from a thread with a runtime of its own: `Drop` may run inside or
/// outside a runtime.
fn run_detached(url: String, sql: String) {
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            match AsyncPgConnection::establish(&url).await {
                Ok(mut conn) => {
                    if let Err(error) = conn.batch_execute(&sql).await {
                        eprintln!("cleanup failed: {sql}: {error}");
                    }
                }
                Err(error) => eprintln!("cleanup could not connect: {error}"),
            }
        })
    });
    let _ = done.join();
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Integer)]
    #[allow(dead_code)]
    found: i32,
}

/// The name of a database with every embedded migration applied, built once per schema
/// version (its name carries a hash of the migrations' checksums) under an advisory lock, so
/// concurrent test binaries build it once. It is built under a temporary name and renamed
/// when complete, so a crash never leaves a half-migrated template behind.
pub async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE.get_or_init(build_template).await
}

async fn build_template() -> String {
    let mut hasher = DefaultHasher::new();
    for m in backtick_diesel::backtick_migrations::migrations() {
        m.checksum().hash(&mut hasher);
    }
    let name = format!("bt_tpl_diesel_{:016x}", hasher.finish());
    let mut admin = admin().await;
    let lock = "hashtext('backtick-diesel test template')";
    admin
        .batch_execute(&format!("SELECT pg_advisory_lock({lock})"))
        .await
        .expect("lock");
    let exists: Vec<Found> =
        backtick_diesel::diesel::sql_query("SELECT 1 AS found FROM pg_database WHERE datname = $1")
            .bind::<backtick_diesel::diesel::sql_types::Text, _>(&name)
            .load(&mut admin)
            .await
            .expect("look for the template");
    if exists.is_empty() {
        let building = format!("{name}_wip");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .expect("drop a leftover template");
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create the template");
        let mut options = server_options();
        options.dbname(&building);
        let store = DieselStore::connect_with_options(options, test_config())
            .await
            .expect("connect to the template");
        store.migrate().await.expect("migrate the template");
        store.close().await;
        drop(store);
        // Closed connections leave the server a moment later; a rename needs them gone.
        let terminate =
            format!("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{building}'");
        admin
            .batch_execute(&terminate)
            .await
            .expect("end the template's connections");
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .expect("rename the template");
    }
    admin
        .batch_execute(&format!("SELECT pg_advisory_unlock({lock})"))
        .await
        .expect("unlock");
    name
}
