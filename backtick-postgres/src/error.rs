//! Errors: every sqlx error becomes a [`StoreError`] in [`store_error`], the one place that
//! knows what a sqlx error means; [`PgError`] covers connecting and configuring.

use backtick_core::{BoxError, StoreError};
use backtick_pg_common::ServerError;
use backtick_pg_common::decode::corrupt;
use sqlx::error::DatabaseError;

/// Why a [`crate::PgStore`] could not be created: [`backtick_pg_common::ConnectError`], the
/// error both backends share (`backtick_diesel::DieselError` is the same type).
pub type PgError = backtick_pg_common::ConnectError;

/// The one mapping from sqlx errors to [`StoreError`].
///
/// - pool closed: [`StoreError::PoolClosed`];
/// - connection lost, I/O, TLS, pool timeout: [`StoreError::Connection`] (transient);
/// - a server error, by its SQLSTATE ([`ServerError::from_sqlstate`]): serialization failure
///   and deadlock are [`StoreError::Conflict`] (transient), a server shutting down or out of
///   connection slots is [`StoreError::Connection`], an undefined table or column is
///   [`StoreError::NotMigrated`], a unique violation of the jobs' unique key index is
///   [`StoreError::UniqueKeyHeld`];
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
            corrupt(None, error.to_string())
        }
        sqlx::Error::Database(db) => database_error(db),
        other => StoreError::Other {
            source: Box::new(other),
        },
    }
}

fn database_error(db: Box<dyn DatabaseError>) -> StoreError {
    let class = db.code().and_then(|code| ServerError::from_sqlstate(&code));
    let message = db.message().to_owned();
    let source: BoxError = Box::new(sqlx::Error::Database(db));
    match class {
        Some(class) => class.into_store_error(&message, source),
        None => StoreError::Other { source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_errors_are_transient_and_decode_errors_are_corrupt() {
        assert!(matches!(store_error(sqlx::Error::PoolClosed), StoreError::PoolClosed));
        assert!(store_error(sqlx::Error::PoolTimedOut).is_transient());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(store_error(sqlx::Error::Io(io)).is_transient());
        assert!(matches!(
            store_error(sqlx::Error::Decode("bad".into())),
            StoreError::Corrupt { job_id: None, .. }
        ));
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound),
            StoreError::Other { .. }
        ));
    }
}
