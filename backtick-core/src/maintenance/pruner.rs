//! The pruner: deletes finished jobs once their retention has passed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::job::Timestamp;
use crate::store::QueueStore;

/// How many jobs one delete removes at most, so a large backlog is pruned in short statements.
const BATCH: u32 = 10_000;

/// Deletes done, dead and cancelled jobs that finished more than `retention` ago. Queued and
/// running jobs are never touched.
///
/// # Examples
/// ```no_run
/// # async fn example(store: std::sync::Arc<dyn backtick_core::QueueStore>) -> Result<(), backtick_core::StoreError> {
/// use std::time::Duration;
/// use backtick_core::maintenance::Pruner;
/// let report = Pruner::new(store, Duration::from_secs(7 * 24 * 3600)).run_once(None).await?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Pruner {
    store: Arc<dyn QueueStore>,
    retention: Duration,
}

/// What one pruner pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Jobs deleted.
    pub deleted: u64,
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pruned {} finished jobs", self.deleted)
    }
}

impl Pruner {
    /// A pruner over `store` keeping finished jobs for `retention`.
    pub fn new(store: Arc<dyn QueueStore>, retention: Duration) -> Self {
        Pruner { store, retention }
    }

    /// One pass at time `now` (`None` for the store's clock).
    ///
    /// # Errors
    /// The store's error.
    pub async fn run_once(&self, now: Option<Timestamp>) -> Result<PruneReport, StoreError> {
        let now = match now {
            Some(now) => now,
            None => self.store.now().await?,
        };
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        let Some(before) = now.checked_sub_signed(retention) else {
            return Ok(PruneReport::default());
        };
        let mut report = PruneReport::default();
        loop {
            let deleted = self.store.prune_finished(before, BATCH).await?;
            report.deleted += deleted;
            if deleted < u64::from(BATCH) {
                return Ok(report);
            }
        }
    }
}
