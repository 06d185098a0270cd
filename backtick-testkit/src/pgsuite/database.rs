//! Test databases and schemas on the test server: a fresh database from a migrated template,
//! a fresh schema per case, each dropped by a guard, also when the test fails or panics.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::OnceCell;

use super::{PgBackend, PoolSettings, SqlSession};
use crate::testdb;

/// The url of the test server (a server, not a database): [`testdb::server_url`].
///
/// # Panics
/// When no server can be found or started.
pub fn server_url() -> String {
    testdb::server_url().unwrap_or_else(|error| panic!("a postgres server for the backend tests: {error}"))
}

/// A store of `B` on `url` with the default [`PoolSettings`].
///
/// # Panics
/// When it cannot connect.
pub async fn connect<B: PgBackend>(url: &str) -> B::Store {
    B::connect(url, &PoolSettings::default())
        .await
        .unwrap_or_else(|error| panic!("connect a {} store to the test database: {error}", B::NAME))
}

/// A database of its own on the test server, dropped (with its connections) when this guard
/// is dropped.
///
/// # Examples
/// ```no_run
/// # async fn example<B: backtick_testkit::pgsuite::PgBackend>() {
/// use backtick_testkit::pgsuite::TestDatabase;
/// let db = TestDatabase::<B>::migrated().await;
/// let store = db.store().await; // the backtick tables are there
/// let schema = db.schema().await; // a fresh migrated schema inside it, for one more case
/// # }
/// ```
pub struct TestDatabase<B: PgBackend> {
    name: String,
    backend: PhantomData<fn() -> B>,
}

impl<B: PgBackend> fmt::Debug for TestDatabase<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase").field("name", &self.name).finish()
    }
}

impl<B: PgBackend> TestDatabase<B> {
    /// A fresh database with the backtick schema, copied from a template built once per
    /// schema version by `B` itself.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn migrated() -> Self {
        let template = template::<B>().await;
        Self::create(&format!("TEMPLATE {template}")).await
    }

    /// A fresh database without any schema.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn empty() -> Self {
        Self::create("TEMPLATE template0").await
    }

    async fn create(clause: &str) -> Self {
        let database = TestDatabase {
            name: unique_name(&format!("bt_test_{}", B::NAME)),
            backend: PhantomData,
        };
        let mut admin = SqlSession::<B>::open(&server_url()).await;
        admin
            .execute(&format!("CREATE DATABASE {} {clause}", database.name))
            .await;
        database
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A url for this database.
    pub fn url(&self) -> String {
        testdb::with_database(&server_url(), &self.name)
    }

    /// A store on this database with the default [`PoolSettings`].
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn store(&self) -> B::Store {
        connect::<B>(&self.url()).await
    }

    /// A plain connection of the driver to this database, for setting up odd rows.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn connection(&self) -> B::Connection {
        B::open(&self.url())
            .await
            .unwrap_or_else(|error| panic!("connect to the test database: {error}"))
    }

    /// Raw SQL on a new connection to this database.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn sql(&self) -> SqlSession<B> {
        SqlSession::open(&self.url()).await
    }

    /// A fresh schema in this database holding the backtick tables, migrated by `B`: much
    /// cheaper than a database when a test needs hundreds of stores.
    ///
    /// # Panics
    /// When the server refuses or the migrations fail.
    pub async fn schema(&self) -> TestSchema<B> {
        let schema = self.empty_schema().await;
        let store = schema.store().await;
        B::migrate(&store).await.expect("migrate the schema");
        B::close(&store).await;
        schema
    }

    /// A fresh schema in this database without any table.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn empty_schema(&self) -> TestSchema<B> {
        let schema = TestSchema {
            database_url: self.url(),
            name: unique_name("bt_case"),
            backend: PhantomData,
        };
        self.sql()
            .await
            .execute(&format!("CREATE SCHEMA {}", schema.name))
            .await;
        schema
    }
}

impl<B: PgBackend> Drop for TestDatabase<B> {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        run_detached::<B>(server_url(), sql);
    }
}

/// A schema of its own in a [`TestDatabase`], dropped when this guard is dropped. Stores and
/// sessions on it find their tables through `search_path`.
pub struct TestSchema<B: PgBackend> {
    database_url: String,
    name: String,
    backend: PhantomData<fn() -> B>,
}

impl<B: PgBackend> fmt::Debug for TestSchema<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestSchema").field("name", &self.name).finish()
    }
}

impl<B: PgBackend> TestSchema<B> {
    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A url whose connections use this schema (`options=-c search_path=...`).
    pub fn url(&self) -> String {
        with_search_path(&self.database_url, &self.name)
    }

    /// A store whose connections use this schema, with the default [`PoolSettings`].
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn store(&self) -> B::Store {
        connect::<B>(&self.url()).await
    }

    /// Raw SQL on a new connection that uses this schema.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn sql(&self) -> SqlSession<B> {
        SqlSession::open(&self.url()).await
    }
}

impl<B: PgBackend> Drop for TestSchema<B> {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        run_detached::<B>(self.database_url.clone(), sql);
    }
}

/// `url` with `options=-c search_path=<schema>` added to its query.
///
/// # Examples
/// ```
/// use backtick_testkit::pgsuite::with_search_path;
/// assert_eq!(with_search_path("postgres://h/db", "s"), "postgres://h/db?options=-c%20search_path%3Ds");
/// assert_eq!(with_search_path("postgres://h/db?sslmode=disable", "s"), "postgres://h/db?sslmode=disable&options=-c%20search_path%3Ds");
/// ```
pub fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// A name no other test database or schema has: prefix, process, time and a counter.
fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let next = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{:x}_{nanos:x}_{next}", std::process::id())
}

/// Run `sql` on `url` from a thread with a runtime of its own: a guard's `Drop` may run
/// inside or outside a runtime, and during a panic. Failures are printed, never raised.
fn run_detached<B: PgBackend>(url: String, sql: String) {
    let done = std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => return eprintln!("cleanup has no runtime: {sql}: {error}"),
        };
        runtime.block_on(async move {
            match SqlSession::<B>::try_open(&url).await {
                Ok(mut session) => {
                    if let Err(error) = session.try_execute(&sql).await {
                        eprintln!("cleanup failed: {sql}: {error}");
                    }
                }
                Err(error) => eprintln!("cleanup could not connect: {sql}: {error}"),
            }
        });
    });
    let _ = done.join();
}

/// The name of a database with every embedded migration applied by `B`, built once per
/// schema version (its name carries a hash of the migrations' checksums) under an advisory
/// lock, so concurrent test binaries build it once. It is built under a temporary name and
/// renamed when complete, so a crash never leaves a half-migrated template behind.
async fn template<B: PgBackend>() -> String {
    // A static in a generic fn is one for every `B`: key the cells by backend.
    static TEMPLATES: Mutex<BTreeMap<&'static str, Arc<OnceCell<String>>>> = Mutex::new(BTreeMap::new());
    let cell = TEMPLATES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(B::NAME)
        .or_default()
        .clone();
    cell.get_or_init(build_template::<B>).await.clone()
}

async fn build_template<B: PgBackend>() -> String {
    let mut hasher = DefaultHasher::new();
    for migration in backtick_pg_common::migrations() {
        migration.checksum().hash(&mut hasher);
    }
    let name = format!("bt_tpl_{}_{:016x}", B::NAME, hasher.finish());
    let lock = format!("hashtext('backtick-{} test template')", B::NAME);
    let mut admin = SqlSession::<B>::open(&server_url()).await;
    admin.execute(&format!("SELECT pg_advisory_lock({lock})")).await;
    let found = format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'");
    if admin.integer(&found).await == 0 {
        let building = format!("{name}_wip");
        admin
            .execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await;
        admin.execute(&format!("CREATE DATABASE {building}")).await;
        let store = connect::<B>(&testdb::with_database(&server_url(), &building)).await;
        B::migrate(&store).await.expect("migrate the template");
        B::close(&store).await;
        drop(store);
        // Closed connections leave the server a moment later; a rename needs them gone.
        let terminate =
            format!("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{building}'");
        admin.execute(&terminate).await;
        admin
            .execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await;
    }
    admin.execute(&format!("SELECT pg_advisory_unlock({lock})")).await;
    name
}
