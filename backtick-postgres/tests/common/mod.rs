//! Test databases: one fresh database per test, copied from a migrated template, so tests
//! run in parallel and never see each other's jobs. The server comes from
//! `backtick_testkit::testdb::server_url()` (`BACKTICK_TEST_DATABASE_URL`, else
//! `DATABASE_URL`, else a local cluster it starts).

#![allow(dead_code, unreachable_pub)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::str::FromStr;
use std::time::Duration;

use backtick_postgres::sqlx::postgres::PgConnectOptions;
use backtick_postgres::sqlx::{self, Connection, Executor, PgConnection};
use backtick_postgres::{PgStore, PgStoreConfig};
use tokio::sync::OnceCell;

/// Pool settings for tests: small, so that many parallel tests fit the server's connection limit.
pub fn test_config() -> PgStoreConfig {
    PgStoreConfig {
        max_connections: 4,
        idle_timeout: Some(Duration::from_secs(30)),
        ..PgStoreConfig::default()
    }
}

/// The url of the test server (a server, not a database).
pub fn server_url() -> String {
    backtick_testkit::testdb::server_url().expect("a postgres server for the backtick-postgres tests")
}

fn server_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&server_url()).expect("the test server url parses")
}

async fn admin() -> PgConnection {
    PgConnection::connect_with(&server_options())
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
        let name = format!("bt_test_pg_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin().await;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} {clause}")))
            .await
            .expect("create a test database");
        admin.close().await.expect("close the admin connection");
        TestDb { name }
    }

    /// Connect options for this database.
    pub fn options(&self) -> PgConnectOptions {
        server_options().database(&self.name)
    }

    /// A url for this database.
    pub fn url(&self) -> String {
        with_database(&server_url(), &self.name)
    }

    /// A store on this database with the test pool settings.
    pub async fn store(&self) -> PgStore {
        PgStore::connect_with_options(self.options(), test_config())
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
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {}", schema.name)))
            .await
            .expect("create a schema");
        conn.close().await.expect("close the connection");
        schema.store().await.migrate().await.expect("migrate the schema");
        schema
    }

    /// A plain connection to this database, for setting up odd rows.
    pub async fn connection(&self) -> PgConnection {
        PgConnection::connect_with(&self.options())
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop may run inside or outside a runtime: use a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let mut admin = admin().await;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(error) = admin.execute(sqlx::AssertSqlSafe(sql)).await {
                    eprintln!("could not drop test database {name}: {error}");
                }
                let _ = admin.close().await;
            })
        });
        let _ = dropped.join();
    }
}

/// A schema of its own in a [`TestDb`], dropped when this guard is dropped.
#[derive(Debug)]
pub struct TestSchema {
    options: PgConnectOptions,
    pub name: String,
}

impl TestSchema {
    /// A store whose connections use this schema.
    pub async fn store(&self) -> PgStore {
        let options = self.options.clone().options([("search_path", self.name.as_str())]);
        PgStore::connect_with_options(options, test_config())
            .await
            .expect("connect to the test schema")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (options, name) = (self.options.clone(), std::mem::take(&mut self.name));
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let mut conn = PgConnection::connect_with(&options)
                    .await
                    .expect("connect to drop a schema");
                let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
                if let Err(error) = conn.execute(sqlx::AssertSqlSafe(sql)).await {
                    eprintln!("could not drop test schema {name}: {error}");
                }
                let _ = conn.close().await;
            })
        });
        let _ = dropped.join();
    }
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
    for m in backtick_postgres::backtick_migrations::migrations() {
        m.checksum().hash(&mut hasher);
    }
    let name = format!("bt_tpl_pg_{:016x}", hasher.finish());
    let mut admin = admin().await;
    admin
        .execute("SELECT pg_advisory_lock(hashtext('backtick-postgres test template'))")
        .await
        .expect("lock");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .expect("look for the template");
    if exists.is_none() {
        let building = format!("{name}_wip");
        for sql in [
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            format!("CREATE DATABASE {building}"),
        ] {
            admin
                .execute(sqlx::AssertSqlSafe(sql))
                .await
                .expect("create the template");
        }
        let store = PgStore::connect_with_options(server_options().database(&building), test_config())
            .await
            .expect("connect to the template");
        store.migrate().await.expect("migrate the template");
        store.close().await;
        let rename = format!("ALTER DATABASE {building} RENAME TO {name}");
        admin
            .execute(sqlx::AssertSqlSafe(rename))
            .await
            .expect("rename the template");
    }
    admin
        .execute("SELECT pg_advisory_unlock(hashtext('backtick-postgres test template'))")
        .await
        .expect("unlock");
    admin.close().await.expect("close the admin connection");
    name
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let (base, rest) = url.split_at(authority_start);
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[path_start..].find('?').map_or("", |q| &rest[path_start + q..]);
    format!("{base}{}/{database}{query}", &rest[..path_start])
}
