//! `PgStore` in the Postgres harness of `backtick-testkit`, for test databases of their own
//! (`TestDatabase::<Sqlx>::migrated()`, dropped with their guard).

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
