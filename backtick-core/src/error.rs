//! Errors at the core's boundary.

use crate::codec::EncodeError;
use crate::job::{InvalidJob, JobId};

/// A boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a [`crate::QueueStore`] reports when an operation could not be performed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The job was rejected before it reached storage.
    #[error(transparent)]
    InvalidJob(#[from] InvalidJob),
    /// Queue limits were rejected before they reached storage.
    #[error(transparent)]
    InvalidLimits(#[from] crate::flow::LimitError),
    /// A job graph was rejected: nothing was stored.
    #[error(transparent)]
    InvalidGraph(#[from] crate::flow::GraphError),
    /// The database has no backtick schema, or an older one. Call the store's `migrate()`
    /// (`PgStore::migrate`, `DieselStore::migrate`) on start-up, before the first job, or run
    /// `backtick migrate up` (the command line of `backtick-cli`) before deploying.
    #[error(
        "the database is not migrated: {message}; call the store's `migrate()` on start-up \
         (e.g. `PgStore::migrate` or `DieselStore::migrate`), or run `backtick migrate up`, before using it"
    )]
    NotMigrated {
        /// What is missing.
        message: String,
    },
    /// The connection to the database failed or was lost. Transient: the runner retries.
    #[error("lost or failed database connection: {source}")]
    Connection {
        /// The driver error.
        #[source]
        source: BoxError,
    },
    /// The connection pool was closed (the application is shutting down).
    #[error("the connection pool is closed")]
    PoolClosed,
    /// A write conflicted with a concurrent one (serialization failure, deadlock).
    #[error("conflicting concurrent write: {source}")]
    Conflict {
        /// The driver error.
        #[source]
        source: BoxError,
    },
    /// A stored row could not be read back (an unknown state or codec name, say).
    #[error("corrupt row{}: {message}", .job_id.map(|id| format!(" for job {id}")).unwrap_or_default())]
    Corrupt {
        /// The job whose row it is, when its id could be read.
        job_id: Option<JobId>,
        /// What was wrong.
        message: String,
    },
    /// The change would give a job a unique key another job holds now: an operator retry of a
    /// finished job whose key ([`crate::NewJob::unique`] held only in chosen states) was taken
    /// by a newer job after it finished. Nothing was changed.
    #[error(
        "another job holds this job's unique key now ({message}); cancel that job or wait until it \
         finishes, then try again"
    )]
    UniqueKeyHeld {
        /// What the store reported.
        message: String,
    },
    /// Anything else the backend reported.
    #[error("store error: {source}")]
    Other {
        /// The driver error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// True for errors that may go away on their own (lost connection, conflict): the runner
    /// backs off and tries again rather than giving up.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Connection { .. } | StoreError::Conflict { .. })
    }
}

/// The top-level error of backtick's public API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Job arguments could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A worker registration was rejected.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A worker needs a state the runner was not given ([`crate::RunnerBuilder::state`]).
    #[error(transparent)]
    MissingState(#[from] crate::shared::MissingState),
}

/// A configuration value is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {option} {problem}")]
pub struct ConfigError {
    /// The option, as named on its config struct.
    pub option: &'static str,
    /// What is wrong and what is allowed.
    pub problem: String,
}

impl ConfigError {
    /// A config error for `option`.
    pub fn new(option: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            option,
            problem: problem.into(),
        }
    }
}
