//! What a Postgres error means for the queue, told apart by SQLSTATE or, where a driver drops
//! the SQLSTATE, by the server's (English) message. Each backend's one mapping from its
//! driver's errors to [`StoreError`] asks this for the server's errors, so both backends call
//! the same errors transient, conflicts or a missing schema.

use backtick_core::{BoxError, StoreError};

/// A server error the queue treats specially. Anything else is [`StoreError::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// Serialization failure or deadlock (40001, 40P01): [`StoreError::Conflict`], transient.
    Conflict,
    /// The connection failed, closed, or the server is shutting down or out of connection
    /// slots (class 08, 57P01-57P03, 53300): [`StoreError::Connection`], transient.
    ConnectionLost,
    /// Undefined table (42P01): [`StoreError::NotMigrated`].
    MissingTable,
    /// Undefined column (42703): [`StoreError::NotMigrated`], the schema is older than the
    /// build.
    MissingColumn,
    /// Unique violation (23505): [`StoreError::UniqueKeyHeld`] when it is the jobs' unique
    /// key index (`backtick_jobs_unique_key_idx`), else [`StoreError::Other`].
    UniqueViolation,
}

/// The index that holds each job's unique key while the job is in a holding state.
const UNIQUE_KEY_INDEX: &str = "backtick_jobs_unique_key_idx";

impl ServerError {
    /// The class of a SQLSTATE, `None` for one without special meaning.
    ///
    /// # Examples
    /// ```
    /// use backtick_pg_common::ServerError;
    /// assert_eq!(ServerError::from_sqlstate("40P01"), Some(ServerError::Conflict));
    /// assert_eq!(ServerError::from_sqlstate("08006"), Some(ServerError::ConnectionLost));
    /// assert_eq!(ServerError::from_sqlstate("23505"), Some(ServerError::UniqueViolation));
    /// assert_eq!(ServerError::from_sqlstate("23514"), None);
    /// ```
    pub fn from_sqlstate(code: &str) -> Option<ServerError> {
        match code {
            "40001" | "40P01" => Some(ServerError::Conflict),
            "42P01" => Some(ServerError::MissingTable),
            "42703" => Some(ServerError::MissingColumn),
            "23505" => Some(ServerError::UniqueViolation),
            "57P01" | "57P02" | "57P03" | "53300" => Some(ServerError::ConnectionLost),
            c if c.starts_with("08") => Some(ServerError::ConnectionLost),
            _ => None,
        }
    }

    /// The class of a server message, for drivers that keep only the text (diesel-async
    /// keeps the SQLSTATE of a few errors only). Under a translated `lc_messages` nothing is
    /// recognised, which costs a clearer message, never a job.
    ///
    /// # Examples
    /// ```
    /// use backtick_pg_common::ServerError;
    /// let missing = ServerError::from_message("relation \"backtick_jobs\" does not exist");
    /// assert_eq!(missing, Some(ServerError::MissingTable));
    /// ```
    pub fn from_message(message: &str) -> Option<ServerError> {
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
            Some(ServerError::Conflict)
        } else if message.starts_with("relation ") && message.ends_with(" does not exist") {
            Some(ServerError::MissingTable)
        } else if message.starts_with("column ") && message.ends_with(" does not exist") {
            Some(ServerError::MissingColumn)
        } else if message.starts_with("duplicate key value violates unique constraint") {
            Some(ServerError::UniqueViolation)
        } else if LOST.iter().any(|prefix| message.starts_with(prefix)) {
            Some(ServerError::ConnectionLost)
        } else {
            None
        }
    }

    /// The [`StoreError`] for this class: `message` is the server's message, `source` the
    /// driver's error (kept by the transient errors and [`StoreError::Other`]).
    pub fn into_store_error(self, message: &str, source: BoxError) -> StoreError {
        match self {
            ServerError::Conflict => StoreError::Conflict { source },
            ServerError::ConnectionLost => StoreError::Connection { source },
            ServerError::MissingTable => StoreError::NotMigrated {
                message: format!("{message} (the backtick tables are missing)"),
            },
            ServerError::MissingColumn => StoreError::NotMigrated {
                message: format!("{message} (the backtick schema is older than this build)"),
            },
            ServerError::UniqueViolation if message.contains(UNIQUE_KEY_INDEX) => StoreError::UniqueKeyHeld {
                message: message.to_owned(),
            },
            ServerError::UniqueViolation => StoreError::Other { source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_and_messages_agree_on_each_class() {
        for (code, message, class) in [
            ("40P01", "deadlock detected", ServerError::Conflict),
            (
                "42P01",
                "relation \"backtick_jobs\" does not exist",
                ServerError::MissingTable,
            ),
            (
                "42703",
                "column j.lease_owner does not exist",
                ServerError::MissingColumn,
            ),
            (
                "57P01",
                "terminating connection due to administrator command",
                ServerError::ConnectionLost,
            ),
            (
                "57P03",
                "the database system is shutting down",
                ServerError::ConnectionLost,
            ),
            ("53300", "sorry, too many clients already", ServerError::ConnectionLost),
            (
                "23505",
                "duplicate key value violates unique constraint \"backtick_jobs_unique_key_idx\"",
                ServerError::UniqueViolation,
            ),
        ] {
            assert_eq!(ServerError::from_sqlstate(code), Some(class), "{code}");
            assert_eq!(ServerError::from_message(message), Some(class), "{message}");
        }
        assert_eq!(ServerError::from_message("new row violates check constraint"), None);
    }

    #[test]
    fn a_missing_schema_says_so_and_transient_classes_keep_the_source() {
        let table = ServerError::MissingTable.into_store_error("relation x does not exist", "x".into());
        assert!(table.to_string().contains("the backtick tables are missing"), "{table}");
        let column = ServerError::MissingColumn.into_store_error("column y does not exist", "y".into());
        assert!(column.to_string().contains("older than this build"), "{column}");
        assert!(ServerError::Conflict.into_store_error("", "c".into()).is_transient());
        let held = ServerError::UniqueViolation.into_store_error(
            "duplicate key value violates unique constraint \"backtick_jobs_unique_key_idx\"",
            "u".into(),
        );
        assert!(matches!(held, StoreError::UniqueKeyHeld { .. }), "{held:?}");
        assert!(held.to_string().contains("cancel that job"), "{held}");
        let other = ServerError::UniqueViolation.into_store_error(
            "duplicate key value violates unique constraint \"backtick_schedules_pkey\"",
            "p".into(),
        );
        assert!(matches!(other, StoreError::Other { .. }), "{other:?}");
        assert!(
            ServerError::ConnectionLost
                .into_store_error("", "l".into())
                .is_transient()
        );
    }
}
