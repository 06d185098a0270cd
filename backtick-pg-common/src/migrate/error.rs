//! Errors of the migration runner.

use super::file_name::Direction;

/// A boxed driver error, as returned by a [`crate::MigrationConnection`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why migrating failed. A failed migration is rolled back, so the schema is left at the
/// last migration that succeeded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A bookkeeping statement (lock, tracking table) failed.
    #[error("cannot {action}: {source}")]
    Database {
        /// What the runner was doing, e.g. "read the applied migrations".
        action: &'static str,
        /// The driver error.
        #[source]
        source: BoxError,
    },
    /// An applied migration's SQL differs from the embedded one.
    #[error(
        "migration {version} ({name}) was changed after it was applied: the database recorded checksum \
         {applied}, this build has {embedded}; restore the original file and put the change in a new migration"
    )]
    ChecksumMismatch {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// The checksum recorded in `backtick_migrations`.
        applied: String,
        /// The checksum of the embedded `up` SQL.
        embedded: String,
    },
    /// A migration's own SQL failed; its transaction was rolled back.
    #[error("migration {version} ({name}) failed going {direction} and was rolled back: {source}")]
    Failed {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Applying or reverting.
        direction: Direction,
        /// The driver error.
        #[source]
        source: BoxError,
    },
    /// The last applied migration is not in this build, so there is no down SQL to revert it.
    #[error(
        "cannot revert migration {version} ({name}): this build does not contain it; \
         revert it with the release that added it"
    )]
    UnknownMigration {
        /// The applied migration's version.
        version: i64,
        /// The applied migration's name.
        name: String,
    },
    /// A hand-built migration list is malformed.
    #[error("invalid migration list: {problem}")]
    InvalidList {
        /// What is wrong with it.
        problem: String,
    },
}
