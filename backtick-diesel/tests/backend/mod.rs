//! `DieselStore` in the Postgres harness of `backtick-testkit`: what depends on diesel-async.

use backtick_diesel::diesel_async::{AsyncConnection, AsyncPgConnection};
use backtick_diesel::{DieselError, DieselMigrationConnection, DieselStore, DieselStoreConfig};

backtick_testkit::pg_backend! {
    /// `DieselStore` (diesel-async) for the shared Postgres harness.
    pub struct Diesel {
        name: "diesel",
        store: DieselStore,
        config: DieselStoreConfig,
        error: DieselError,
        connection: AsyncPgConnection,
        open: |url| AsyncPgConnection::establish(url).await?,
        migration_connection: DieselMigrationConnection,
        pool_is_closed: |store| store.pool().get().await.is_err(),
    }
}
