//! [`pg_backend!`](crate::pg_backend): [`PgBackend`](super::PgBackend) written out for a store
//! with the API both backtick backends share.

/// Implements [`PgBackend`](crate::pgsuite::PgBackend) on a new unit struct for a store with the
/// API both backtick backends share: `connect_with(url, config)`, `migrate`,
/// `revert_last_migration`, `migration_status`, `check_schema`, `wait_listening`,
/// `explain_claim` and `close`, a config struct with `max_connections`, `connect_timeout`,
/// `idle_timeout` and `admin_statement_timeout`, and a connect error with the variants `InvalidUrl`, `Unreachable`,
/// `Rejected` and `Config`. What depends on the driver is given: the plain connection and how
/// to open it, its migration connection, and how to tell that the store's pool is closed.
///
/// # Examples
/// ```ignore
/// backtick_testkit::pg_backend! {
///     /// `PgStore` in the shared Postgres harness.
///     pub struct Sqlx {
///         name: "pg",
///         store: PgStore,
///         config: PgStoreConfig,
///         error: PgError,
///         connection: PgConnection,
///         open: |url| PgConnection::connect(url).await?,
///         migration_connection: PgMigrationConnection,
///         pool_is_closed: |store| store.pool().execute("SELECT 1").await.is_err(),
///     }
/// }
/// ```
#[macro_export]
macro_rules! pg_backend {
    (
        $(#[$meta:meta])*
        $vis:vis struct $backend:ident {
            name: $name:literal,
            store: $store:ty,
            config: $config:ident,
            error: $error:ident,
            connection: $connection:ty,
            open: |$url:ident| $open:expr,
            migration_connection: $wrap:expr,
            pool_is_closed: |$closed:ident| $is_closed:expr $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $backend;

        #[$crate::pgsuite::__private::async_trait]
        impl $crate::pgsuite::PgBackend for $backend {
            const NAME: &'static str = $name;
            type Store = $store;
            type ConnectError = $error;
            type Connection = $connection;

            async fn connect(url: &str, pool: &$crate::pgsuite::PoolSettings) -> ::std::result::Result<$store, $error> {
                let config = $config {
                    max_connections: pool.max_connections,
                    connect_timeout: pool.connect_timeout,
                    idle_timeout: pool.idle_timeout,
                    admin_statement_timeout: pool.admin_statement_timeout,
                    ..$config::default()
                };
                <$store>::connect_with(url, config).await
            }

            fn connect_failure(error: &$error) -> $crate::pgsuite::ConnectFailure {
                use $crate::pgsuite::ConnectFailure;
                match error {
                    $error::InvalidUrl { .. } => ConnectFailure::InvalidUrl,
                    $error::Unreachable { port, .. } => ConnectFailure::Unreachable { port: *port },
                    $error::Rejected { database, .. } => ConnectFailure::Rejected {
                        database: database.clone(),
                    },
                    $error::Config(config) => ConnectFailure::Config { option: config.option },
                    _ => ConnectFailure::Other,
                }
            }

            async fn migrate(
                store: &$store,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::pgsuite::Migration>, $crate::pgsuite::MigrateError> {
                store.migrate().await
            }

            async fn revert_last_migration(
                store: &$store,
            ) -> ::std::result::Result<::std::option::Option<$crate::pgsuite::Migration>, $crate::pgsuite::MigrateError>
            {
                store.revert_last_migration().await
            }

            async fn migration_status(
                store: &$store,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::pgsuite::MigrationStatus>,
                $crate::pgsuite::MigrateError,
            > {
                store.migration_status().await
            }

            async fn check_schema(store: &$store) -> ::std::result::Result<(), $crate::pgsuite::StoreError> {
                store.check_schema().await
            }

            async fn wait_listening(store: &$store, timeout: ::std::time::Duration) -> bool {
                store.wait_listening(timeout).await
            }

            async fn explain_claim(
                store: &$store,
                params: &$crate::pgsuite::ClaimParams,
            ) -> ::std::result::Result<::std::vec::Vec<::std::string::String>, $crate::pgsuite::StoreError> {
                store.explain_claim(params).await
            }

            async fn close(store: &$store) {
                store.close().await
            }

            async fn pool_is_closed($closed: &$store) -> bool {
                $is_closed
            }

            async fn open($url: &str) -> ::std::result::Result<$connection, $crate::pgsuite::BoxError> {
                ::std::result::Result::Ok($open)
            }

            fn migration_connection(
                conn: &mut $connection,
            ) -> ::std::boxed::Box<dyn $crate::pgsuite::MigrationConnection + '_> {
                ::std::boxed::Box::new(($wrap)(conn))
            }
        }
    };
}
