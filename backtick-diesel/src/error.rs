//! Errors: every driver error (diesel query errors, connection errors, pool errors) becomes a
//! [`StoreError`] in [`store_error`], the one place that knows what a driver error means;
//! [`DieselError`] covers connecting and configuring.

use backtick_core::{BoxError, ConfigError, StoreError};
use backtick_migrations::MigrateError;
use diesel::ConnectionError;
use diesel::result::{DatabaseErrorKind, Error as QueryError};

/// The pool's error type.
pub(crate) type PoolError = deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>;

/// Why a [`crate::DieselStore`] could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DieselError {
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
    /// A [`crate::DieselStoreConfig`] value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Migrating failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Anything the driver stack reports: a query error, a failed connect, or the pool.
#[derive(Debug)]
pub(crate) enum DriverError {
    Query(QueryError),
    Connect(ConnectionError),
    Pool(PoolError),
}

impl From<QueryError> for DriverError {
    fn from(error: QueryError) -> Self {
        DriverError::Query(error)
    }
}

impl From<ConnectionError> for DriverError {
    fn from(error: ConnectionError) -> Self {
        DriverError::Connect(error)
    }
}

impl From<PoolError> for DriverError {
    fn from(error: PoolError) -> Self {
        DriverError::Pool(error)
    }
}

/// The one mapping from driver errors to [`StoreError`].
///
/// - pool closed: [`StoreError::PoolClosed`];
/// - no free connection in time, a connect that failed, a connection lost or closed, the
///   server shutting down or out of connection slots: [`StoreError::Connection`] (transient);
/// - serialization failure, deadlock: [`StoreError::Conflict`] (transient);
/// - undefined table or column: [`StoreError::NotMigrated`];
/// - a value that does not decode: [`StoreError::Corrupt`];
/// - anything else: [`StoreError::Other`].
///
/// diesel-async keeps the SQLSTATE of only a few errors (serialization failure, constraint
/// violations); the others arrive as [`DatabaseErrorKind::Unknown`] with the server's message,
/// so deadlocks, missing tables and shutdowns are recognised by Postgres' message text
/// ([`Recognised::from_message`]). With a translated `lc_messages` they fall to `Other`.
pub(crate) fn store_error(error: impl Into<DriverError>) -> StoreError {
    match error.into() {
        DriverError::Pool(deadpool::managed::PoolError::Closed) => StoreError::PoolClosed,
        DriverError::Pool(deadpool::managed::PoolError::Backend(
            diesel_async::pooled_connection::PoolError::ConnectionError(e),
        ))
        | DriverError::Connect(e) => match e {
            ConnectionError::CouldntSetupConfiguration(query) => store_error(query),
            ConnectionError::InvalidConnectionUrl(_) => other(e),
            _ => connection(e),
        },
        DriverError::Pool(deadpool::managed::PoolError::Backend(
            diesel_async::pooled_connection::PoolError::QueryError(e),
        )) => store_error(e),
        DriverError::Pool(e @ deadpool::managed::PoolError::Timeout(_)) => connection(e),
        DriverError::Pool(e) => other(e),
        DriverError::Query(QueryError::DatabaseError(kind, info)) => {
            let message = info.message().to_owned();
            let source = || QueryError::DatabaseError(kind, info);
            match (kind, Recognised::from_message(&message)) {
                (DatabaseErrorKind::SerializationFailure, _) | (_, Some(Recognised::Deadlock)) => {
                    StoreError::Conflict {
                        source: Box::new(source()),
                    }
                }
                (DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection, _)
                | (_, Some(Recognised::ConnectionLost)) => connection(source()),
                (_, Some(Recognised::MissingTable)) => StoreError::NotMigrated {
                    message: format!("{message} (the backtick tables are missing)"),
                },
                (_, Some(Recognised::MissingColumn)) => StoreError::NotMigrated {
                    message: format!("{message} (the backtick schema is older than this build)"),
                },
                _ => other(source()),
            }
        }
        DriverError::Query(e @ QueryError::DeserializationError(_)) => StoreError::Corrupt {
            job_id: -1,
            message: e.to_string(),
        },
        // The connection's transaction state is unusable; the pool drops it, a retry gets a fresh one.
        DriverError::Query(e @ QueryError::BrokenTransactionManager) => connection(e),
        DriverError::Query(e) => other(e),
    }
}

fn connection(source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Connection {
        source: Box::new(source),
    }
}

fn other(source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Other {
        source: Box::new(source),
    }
}

/// Server errors recognised by their (English) message, for the SQLSTATEs diesel-async drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recognised {
    /// 40P01.
    Deadlock,
    /// 42P01.
    MissingTable,
    /// 42703.
    MissingColumn,
    /// 57P01-57P03, 53300, and the connection closing under a query.
    ConnectionLost,
}

impl Recognised {
    pub(crate) fn from_message(message: &str) -> Option<Recognised> {
        const LOST: [&str; 7] = [
            "terminating connection",
            "the database system is",
            "sorry, too many clients",
            "remaining connection slots are reserved",
            "connection closed",
            "server closed the connection",
            "connection reset",
        ];
        if message.starts_with("deadlock detected") {
            Some(Recognised::Deadlock)
        } else if message.starts_with("relation ") && message.ends_with(" does not exist") {
            Some(Recognised::MissingTable)
        } else if message.starts_with("column ") && message.ends_with(" does not exist") {
            Some(Recognised::MissingColumn)
        } else if LOST.iter().any(|prefix| message.starts_with(prefix)) {
            Some(Recognised::ConnectionLost)
        } else {
            None
        }
    }
}

/// A failed connect of tokio-postgres as diesel reports connect errors: a server's refusal
/// keeps its message (so [`store_error`] can recognise "too many clients"), anything else is
/// a bad connection.
pub(crate) fn connect_error(error: &tokio_postgres::Error) -> ConnectionError {
    match error.as_db_error() {
        Some(db) => ConnectionError::CouldntSetupConfiguration(QueryError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(db.message().to_owned()),
        )),
        None => ConnectionError::BadConnection(error.to_string()),
    }
}

/// `url` with the password (if any) replaced by `***`. Works on text that does not parse as a
/// url, so that an error message about a malformed url never shows the password: text without
/// `://` is not shown at all, since there is no telling which part is a password.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return "(not shown: it is not a url)".to_owned();
    };
    let (prefix, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!("{}:***{}", &rest[..colon], &rest[at..]),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    format!("{prefix}{}", redact_password_parameter(&rest))
}

/// `...?password=secret&x=1` becomes `...?password=***&x=1`.
fn redact_password_parameter(text: &str) -> String {
    let Some(query) = text.find('?') else {
        return text.to_owned();
    };
    let (path, params) = text.split_at(query + 1);
    let params: Vec<String> = params
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{path}{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> QueryError {
        QueryError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn redact_url_hides_the_password_and_keeps_everything_else() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/app"),
            "postgres://bob:***@db:5432/app"
        );
        assert_eq!(
            redact_url("postgres://bob:p@ss@db/app?x=1"),
            "postgres://bob:***@db/app?x=1"
        );
        assert_eq!(redact_url("postgres://bob@db/app"), "postgres://bob@db/app");
        assert_eq!(
            redact_url("postgres://db/app?user=bob&password=s3cret"),
            "postgres://db/app?user=bob&password=***"
        );
        assert!(!redact_url("bob:s3cret@db/app").contains("s3cret"));
    }

    #[test]
    fn lost_connections_and_conflicts_are_transient() {
        let unknown = DatabaseErrorKind::Unknown;
        for error in [
            db_error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            db_error(unknown, "terminating connection due to administrator command"),
            db_error(unknown, "the database system is shutting down"),
            db_error(DatabaseErrorKind::SerializationFailure, "could not serialize access"),
            db_error(unknown, "deadlock detected"),
        ] {
            let mapped = store_error(error);
            assert!(mapped.is_transient(), "{mapped:?}");
        }
        assert!(store_error(ConnectionError::BadConnection("refused".into())).is_transient());
        let timeout = PoolError::Timeout(deadpool::managed::TimeoutType::Wait);
        assert!(store_error(timeout).is_transient());
        assert!(matches!(store_error(PoolError::Closed), StoreError::PoolClosed));
    }

    #[test]
    fn missing_tables_and_columns_are_not_migrated_and_the_rest_is_other() {
        let unknown = DatabaseErrorKind::Unknown;
        let table = store_error(db_error(unknown, "relation \"backtick_jobs\" does not exist"));
        assert!(matches!(table, StoreError::NotMigrated { .. }), "{table:?}");
        let column = store_error(db_error(unknown, "column j.lease_owner does not exist"));
        assert!(matches!(column, StoreError::NotMigrated { .. }), "{column:?}");
        let check = store_error(db_error(
            DatabaseErrorKind::CheckViolation,
            "new row violates check constraint",
        ));
        assert!(
            matches!(check, StoreError::Other { .. }) && !check.is_transient(),
            "{check:?}"
        );
        assert!(matches!(store_error(QueryError::NotFound), StoreError::Other { .. }));
        let corrupt = store_error(QueryError::DeserializationError("bad".into()));
        assert!(matches!(corrupt, StoreError::Corrupt { job_id: -1, .. }));
    }
}
