//! Why a running job was asked to stop: the cancellation signal a worker sees through
//! [`crate::JobContext`], and the handle the runner stops a job with.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// Why a job's run was asked to stop. The first reason given wins; later ones are ignored.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::CancelReason;
/// let reason = CancelReason::Requested { reason: "duplicate order".into() };
/// assert_eq!(reason.to_string(), "cancellation requested: duplicate order");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// The run took longer than its timeout.
    TimedOut,
    /// The runner is shutting down and stopped waiting for the job.
    ShuttingDown,
    /// The job's lease was lost (revived elsewhere, or cancelled outright by an operator):
    /// whatever the run reports will be fenced off.
    LeaseLost,
    /// An operator asked for the job to be cancelled
    /// ([`crate::admin::JobAction::Cancel`] on a running job). Whatever the worker returns
    /// except success, the job ends `cancelled` with this reason.
    Requested {
        /// The operator's reason.
        reason: String,
    },
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelReason::TimedOut => f.write_str("timed out"),
            CancelReason::ShuttingDown => f.write_str("the runner is shutting down"),
            CancelReason::LeaseLost => f.write_str("the job's lease was lost"),
            CancelReason::Requested { reason } => write!(f, "cancellation requested: {reason}"),
        }
    }
}

/// The runner's handle on one run's cancellation: a [`CancellationToken`] plus the reason it
/// fired. Clones share the same signal. The runner keeps one per running job and hands a
/// [`crate::JobContext`] built with [`crate::JobContext::with_cancellation`] to the worker.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{CancelReason, JobCancellation};
/// let cancellation = JobCancellation::new(tokio_util::sync::CancellationToken::new());
/// assert!(cancellation.cancel(CancelReason::Requested { reason: "stop".into() }));
/// assert!(!cancellation.cancel(CancelReason::TimedOut), "the first reason wins");
/// assert!(cancellation.is_cancelled());
/// assert_eq!(cancellation.reason(), Some(CancelReason::Requested { reason: "stop".into() }));
/// ```
#[derive(Debug, Clone, Default)]
pub struct JobCancellation {
    token: CancellationToken,
    reason: Arc<OnceLock<CancelReason>>,
}

impl JobCancellation {
    /// A cancellation that fires with `token` (a child of the runner's shutdown token, say).
    /// A token cancelled without [`JobCancellation::cancel`] has no reason.
    pub fn new(token: CancellationToken) -> Self {
        JobCancellation {
            token,
            reason: Arc::new(OnceLock::new()),
        }
    }

    /// Stop the run for `reason`. Returns true when this call gave the reason (the first
    /// one); the token is cancelled either way.
    pub fn cancel(&self, reason: CancelReason) -> bool {
        let first = self.reason.set(reason).is_ok();
        self.token.cancel();
        first
    }

    /// Why the run was stopped, if it was stopped through [`JobCancellation::cancel`].
    pub fn reason(&self) -> Option<CancelReason> {
        self.reason.get().cloned()
    }

    /// True once the token fired, with or without a reason.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The underlying token.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}
