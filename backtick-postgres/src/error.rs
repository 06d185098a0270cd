//! Errors: every sqlx error becomes a [`StoreError`] in [`store_error`], the one place that
//! knows what a driver error means; [`PgError`] covers connecting and configuring.

use backtick_core::{BoxError, ConfigError, StoreError};
use backtick_migrations::MigrateError;
use sqlx::error::DatabaseError;

/// Why a [`crate::PgStore`] could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
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
    /// A [`crate::PgStoreConfig`] value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Migrating failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The one mapping from sqlx errors to [`StoreError`].
///
/// - pool closed: [`StoreError::PoolClosed`];
/// - connection lost, I/O, TLS, pool timeout, server shutting down (class 08, 57P01-57P03,
///   53300): [`StoreError::Connection`] (transient);
/// - serialization failure, deadlock (40001, 40P01): [`StoreError::Conflict`] (transient);
/// - undefined table or column (42P01, 42703): [`StoreError::NotMigrated`];
/// - a value that does not decode: [`StoreError::Corrupt`];
/// - anything else: [`StoreError::Other`].
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolClosed => StoreError::PoolClosed,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => {
            StoreError::Connection {
                source: Box::new(error),
            }
        }
        sqlx::Error::Protocol(_) => StoreError::Connection {
            source: Box::new(error),
        },
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
            StoreError::Corrupt {
                job_id: -1,
                message: error.to_string(),
            }
        }
        sqlx::Error::Database(db) => database_error(db),
        other => StoreError::Other {
            source: Box::new(other),
        },
    }
}

fn database_error(db: Box<dyn DatabaseError>) -> StoreError {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    match code.as_str() {
        "40001" | "40P01" => StoreError::Conflict {
            source: Box::new(sqlx::Error::Database(db)),
        },
        "42P01" => StoreError::NotMigrated {
            message: format!("{} (the backtick tables are missing)", db.message()),
        },
        "42703" => StoreError::NotMigrated {
            message: format!("{} (the backtick schema is older than this build)", db.message()),
        },
        "57P01" | "57P02" | "57P03" | "53300" => StoreError::Connection {
            source: Box::new(sqlx::Error::Database(db)),
        },
        c if c.starts_with("08") => StoreError::Connection {
            source: Box::new(sqlx::Error::Database(db)),
        },
        _ => StoreError::Other {
            source: Box::new(sqlx::Error::Database(db)),
        },
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
        assert_eq!(redact_url("postgres://db:notaport/app"), "postgres://db:notaport/app");
        assert_eq!(
            redact_url("postgres://db/app?user=bob&password=s3cret"),
            "postgres://db/app?user=bob&password=***"
        );
        assert!(!redact_url("bob:s3cret").contains("s3cret"));
        assert!(!redact_url("bob:s3cret@db/app").contains("s3cret"));
    }

    #[test]
    fn pool_and_io_errors_are_transient_and_decode_errors_are_corrupt() {
        assert!(matches!(store_error(sqlx::Error::PoolClosed), StoreError::PoolClosed));
        assert!(store_error(sqlx::Error::PoolTimedOut).is_transient());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(store_error(sqlx::Error::Io(io)).is_transient());
        assert!(matches!(
            store_error(sqlx::Error::Decode("bad".into())),
            StoreError::Corrupt { .. }
        ));
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound),
            StoreError::Other { .. }
        ));
    }
}
