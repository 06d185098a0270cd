//! Why a store could not be created.

use backtick_core::{BoxError, ConfigError, StoreError};

use crate::migrate::MigrateError;

/// Why a Postgres store could not be created. `backtick_postgres::PgError` and
/// `backtick_diesel::DieselError` are this type. No message shows a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// Neither `BT_DATABASE_URL` nor `DATABASE_URL` is set.
    #[error(
        "no database url: set BT_DATABASE_URL (or DATABASE_URL) to a url such as \
         postgres://user:password@localhost:5432/app"
    )]
    MissingUrl,
    /// The url does not parse. The password is never part of the message.
    #[error(
        "invalid database url {url}{}: {problem}; expected postgres://user:password@host:port/database",
        .variable.map(|v| format!(" (from {v})")).unwrap_or_default()
    )]
    InvalidUrl {
        /// The url with its password replaced by `***`.
        url: String,
        /// The environment variable it came from, if any.
        variable: Option<&'static str>,
        /// What is wrong with it.
        problem: String,
    },
    /// No Postgres answered at the url's host and port.
    #[error(
        "cannot reach postgres at {host}:{port}: {source}; check that the server is running and that \
         the url's host and port point at it"
    )]
    Unreachable {
        /// The host (or socket path) from the url.
        host: String,
        /// The port from the url.
        port: u16,
        /// What the driver reported.
        #[source]
        source: BoxError,
    },
    /// Postgres answered but refused the connection (bad password, unknown database, ...).
    #[error("postgres at {host}:{port} refused user {user:?} on database {database:?}: {message}")]
    Rejected {
        /// The host from the url.
        host: String,
        /// The port from the url.
        port: u16,
        /// The user name from the url.
        user: String,
        /// The database from the url (the user name when none is given).
        database: String,
        /// The server's message.
        message: String,
    },
    /// A [`crate::PoolConfig`] value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Migrating failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
