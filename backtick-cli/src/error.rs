//! What a command reports when it fails, and the exit code each failure means.

use backtick_core::admin::AdminError;
use backtick_core::{DecodeError, StoreError};
use backtick_postgres::{MigrateError, PgError};

/// Why a command failed. Every message is one line that says what to do; the binary prints
/// it as `error: <message>` on stderr.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The arguments do not fit together (exit code 2, like clap's own usage errors).
    #[error("{message}")]
    Usage {
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A value given on the command line is not valid.
    #[error("{message}")]
    BadInput {
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A bulk action was asked for without `--yes` or `--dry-run`; nothing changed.
    #[error(
        "{action} would touch {count} job(s); nothing changed: pass --yes to {action} them, or --dry-run to only count"
    )]
    NeedsConfirmation {
        /// The action's name.
        action: &'static str,
        /// How many jobs it would touch.
        count: u64,
    },
    /// Connecting failed: no url, a malformed url, no server, a refusal.
    #[error("{0}")]
    Connect(#[from] PgError),
    /// The database has no (or an older) backtick schema.
    #[error("the database is not migrated ({message}); run `backtick migrate up` first")]
    NotMigrated {
        /// What is missing.
        message: String,
    },
    /// An admin call refused the request or the store failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A store call failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A migration failed or its state could not be read.
    #[error("{0}")]
    Migrate(#[from] MigrateError),
    /// A stored payload does not decode.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// Some doctor checks failed (their fixes are printed above).
    #[error("{failed} check(s) failed; apply the fixes listed above")]
    ChecksFailed {
        /// How many.
        failed: usize,
    },
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// A [`CliError::BadInput`].
    pub fn bad_input(message: impl Into<String>) -> Self {
        CliError::BadInput {
            message: message.into(),
        }
    }

    /// A [`CliError::Usage`].
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage {
            message: message.into(),
        }
    }

    /// The process exit code: 2 for a usage error, 1 for every other error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage { .. } => 2,
            _ => 1,
        }
    }

    /// The message on one line: the sources it does not already include are appended, and
    /// multi-line driver messages are joined with `; `, so that a script reading stderr sees
    /// one line per failure.
    pub fn one_line(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        lines.join("; ")
    }

    /// [`CliError::NotMigrated`] for [`StoreError::NotMigrated`], else [`CliError::Store`].
    pub fn from_schema_check(error: StoreError) -> Self {
        match error {
            StoreError::NotMigrated { message } => CliError::NotMigrated { message },
            other => CliError::Store(other),
        }
    }
}
