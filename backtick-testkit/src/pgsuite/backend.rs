//! [`PgBackend`]: what the Postgres harness needs of a backend.

use std::time::Duration;

use async_trait::async_trait;
use backtick_core::{BoxError, ClaimParams, QueueAdmin, StoreError};
use backtick_pg_common::{MigrateError, Migration, MigrationConnection, MigrationStatus};

/// Pool settings of the stores the harness connects.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `max_connections` | 4 | pool size: small, so that many parallel tests fit the server's connection limit |
/// | `connect_timeout` | 5 s | how long connecting waits for the server |
/// | `idle_timeout` | 30 s | idle connections are closed after this |
/// | `admin_statement_timeout` | 5 s | the server cancels an admin read running longer (the stores' default) |
///
/// # Examples
/// ```
/// let pool = backtick_testkit::pgsuite::PoolSettings::default();
/// assert_eq!(pool.max_connections, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolSettings {
    /// Pool size; the wake-up listener uses one more connection, outside the pool.
    pub max_connections: u32,
    /// How long connecting waits for the server before the store reports it unreachable.
    pub connect_timeout: Duration,
    /// Close connections idle this long; `None` never.
    pub idle_timeout: Option<Duration>,
    /// The server cancels an admin read's statement running longer; `None`: no bound.
    pub admin_statement_timeout: Option<Duration>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 4,
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(30)),
            admin_statement_timeout: Some(Duration::from_secs(5)),
        }
    }
}

impl PoolSettings {
    /// These settings with `max_connections` changed (0 makes an invalid config).
    pub fn max_connections(self, max_connections: u32) -> Self {
        PoolSettings {
            max_connections,
            ..self
        }
    }

    /// These settings with `admin_statement_timeout` changed.
    pub fn admin_statement_timeout(self, admin_statement_timeout: Option<Duration>) -> Self {
        PoolSettings {
            admin_statement_timeout,
            ..self
        }
    }

    /// These settings with `connect_timeout` changed.
    pub fn connect_timeout(self, connect_timeout: Duration) -> Self {
        PoolSettings {
            connect_timeout,
            ..self
        }
    }
}

/// Why connecting a store failed, in the words every backend's connect error shares.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The url does not parse.
    InvalidUrl,
    /// No server answered at the url's host and `port`.
    Unreachable {
        /// The port from the url.
        port: u16,
    },
    /// The server refused the connection to `database`.
    Rejected {
        /// The database from the url.
        database: String,
    },
    /// A config value is invalid.
    Config {
        /// The option, as named on the config struct.
        option: &'static str,
    },
    /// Anything else.
    Other,
}

/// A Postgres backend as the harness drives it: connect a store, reach the few parts of its API
/// beyond [`QueueStore`](backtick_core::QueueStore), and open a plain connection of its driver for raw SQL.
///
/// A backend's tests implement it on a unit struct, usually with [`pg_backend!`](crate::pg_backend),
/// and hand that type to [`conformance`](super::conformance), [`check_against_model`](super::check_against_model)
/// and [`run_postgres_cases`](super::run_postgres_cases), or use it in [`TestDatabase`](super::TestDatabase)
/// for their own driver-specific tests.
#[async_trait]
pub trait PgBackend: Sized + Send + Sync + 'static {
    /// A short name (`"pg"`, `"diesel"`): part of the names of its template and test databases.
    const NAME: &'static str;
    /// The store under test.
    type Store: QueueAdmin + Clone + 'static;
    /// What connecting a store fails with.
    type ConnectError: std::error::Error + Send + Sync + 'static;
    /// A plain connection of the driver, outside any pool.
    type Connection: Send + 'static;

    /// Connect a store to `url` with `pool`'s settings. The url may carry `options=-c
    /// search_path=...`, which every connection of the store then uses.
    ///
    /// # Errors
    /// The backend's connect error.
    async fn connect(url: &str, pool: &PoolSettings) -> Result<Self::Store, Self::ConnectError>;

    /// What kind of failure `error` is.
    fn connect_failure(error: &Self::ConnectError) -> ConnectFailure;

    /// The store's `migrate`: apply every pending migration.
    ///
    /// # Errors
    /// As the store's.
    async fn migrate(store: &Self::Store) -> Result<Vec<Migration>, MigrateError>;

    /// The store's `revert_last_migration`.
    ///
    /// # Errors
    /// As the store's.
    async fn revert_last_migration(store: &Self::Store) -> Result<Option<Migration>, MigrateError>;

    /// The store's `migration_status`.
    ///
    /// # Errors
    /// As the store's.
    async fn migration_status(store: &Self::Store) -> Result<Vec<MigrationStatus>, MigrateError>;

    /// The store's `check_schema`.
    ///
    /// # Errors
    /// [`StoreError::NotMigrated`] naming what is missing.
    async fn check_schema(store: &Self::Store) -> Result<(), StoreError>;

    /// The store's `wait_listening`: true once its wake-up listener listens, within `timeout`.
    async fn wait_listening(store: &Self::Store, timeout: Duration) -> bool;

    /// The store's `explain_claim`: the plan of a claim with `params`.
    ///
    /// # Errors
    /// As for any store call.
    async fn explain_claim(store: &Self::Store, params: &ClaimParams) -> Result<Vec<String>, StoreError>;

    /// The store's `close`: close its pool and stop its listener.
    async fn close(store: &Self::Store);

    /// True when the store's own pool refuses work (after [`PgBackend::close`]).
    async fn pool_is_closed(store: &Self::Store) -> bool;

    /// Open a plain connection of the driver to `url`.
    ///
    /// # Errors
    /// The driver's error.
    async fn open(url: &str) -> Result<Self::Connection, BoxError>;

    /// `conn` as the backend's [`MigrationConnection`]: how the migration runner, and the
    /// harness's raw SQL, reach a plain connection.
    fn migration_connection(conn: &mut Self::Connection) -> Box<dyn MigrationConnection + '_>;
}
