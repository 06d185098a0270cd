//! Errors: every driver error (diesel query errors, connection errors, pool errors) becomes a
//! [`StoreError`] in [`store_error`], the one place that knows what a driver error means;
//! [`DieselError`] covers connecting and configuring.

use backtick_core::StoreError;
use backtick_pg_common::ServerError;
use backtick_pg_common::decode::corrupt;
use diesel::ConnectionError;
use diesel::result::{DatabaseErrorKind, Error as QueryError};

/// The pool's error type.
pub(crate) type PoolError = deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>;

/// Why a [`crate::DieselStore`] could not be created: [`backtick_pg_common::ConnectError`],
/// the error both backends share (`backtick_postgres::PgError` is the same type).
pub type DieselError = backtick_pg_common::ConnectError;

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
/// - a unique violation of the jobs' unique key index: [`StoreError::UniqueKeyHeld`];
/// - a value that does not decode: [`StoreError::Corrupt`];
/// - anything else: [`StoreError::Other`].
///
/// diesel-async keeps the SQLSTATE of only a few errors (serialization failure, constraint
/// violations); the others arrive as [`DatabaseErrorKind::Unknown`] with the server's message,
/// so deadlocks, missing tables and shutdowns are recognised by Postgres' message text
/// ([`ServerError::from_message`]). With a translated `lc_messages` they fall to `Other`.
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
            match server_error(kind, &message) {
                Some(class) => class.into_store_error(&message, Box::new(QueryError::DatabaseError(kind, info))),
                None => other(QueryError::DatabaseError(kind, info)),
            }
        }
        DriverError::Query(e @ QueryError::DeserializationError(_)) => corrupt(None, e.to_string()),
        // The connection's transaction state is unusable; the pool drops it, a retry gets a fresh one.
        DriverError::Query(e @ QueryError::BrokenTransactionManager) => connection(e),
        DriverError::Query(e) => other(e),
    }
}

/// The class of a server error from the kinds diesel keeps, else from its message. A
/// serialization failure or a deadlock is a conflict before anything else.
/// Whether `error` says the statement's connection is gone (terminated, closed, the server
/// shutting down): the connection is unusable, and the pool's other connections may be too.
pub(crate) fn is_connection_lost(error: &QueryError) -> bool {
    match error {
        QueryError::DatabaseError(kind, info) => {
            matches!(server_error(*kind, info.message()), Some(ServerError::ConnectionLost))
        }
        _ => false,
    }
}

fn server_error(kind: DatabaseErrorKind, message: &str) -> Option<ServerError> {
    let by_message = ServerError::from_message(message);
    match (kind, by_message) {
        (DatabaseErrorKind::SerializationFailure, _) | (_, Some(ServerError::Conflict)) => Some(ServerError::Conflict),
        (DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection, _) => {
            Some(ServerError::ConnectionLost)
        }
        (DatabaseErrorKind::UniqueViolation, _) => Some(ServerError::UniqueViolation),
        _ => by_message,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> QueryError {
        QueryError::DatabaseError(kind, Box::new(message.to_owned()))
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
        assert!(matches!(corrupt, StoreError::Corrupt { job_id: None, .. }));
    }
}
