//! The pruner: deletes finished jobs once their retention has passed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::Timestamp;
use crate::maintenance::{Service, now_or_store};
use crate::store::QueueStore;

/// How many jobs one delete removes at most, so a large backlog is pruned in short statements.
const BATCH: u32 = 10_000;

/// How long finished jobs are kept unless told otherwise: 7 days.
pub(crate) const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Deletes done, dead and cancelled jobs that finished more than `retention` ago. Queued and
/// running jobs are never touched.
///
/// | option | default | unit |
/// |---|---|---|
/// | [`Pruner::retention`] | 7 | days |
///
/// # Examples
/// ```no_run
/// # extern crate backtick_core as backtick_postgres;
/// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::StoreError> {
/// use std::{sync::Arc, time::Duration};
/// use backtick_postgres::{StoreClock, maintenance::Pruner};
/// let pruner = Pruner::new(store, Arc::new(StoreClock)).retention(Duration::from_secs(24 * 3600));
/// let report = pruner.run_once(None).await?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Pruner {
    store: Arc<dyn QueueStore>,
    clock: Arc<dyn Clock>,
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
    /// A pruner over `store` keeping finished jobs for 7 days; a runner's loop reads each
    /// pass's time from `clock`.
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>) -> Self {
        Pruner {
            store,
            clock,
            retention: DEFAULT_RETENTION,
        }
    }

    /// Keep finished jobs for `retention` after they finished.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// One pass at `now` (`None` for the store's clock): delete every job finished before
    /// `now - retention`, a batch at a time.
    ///
    /// # Errors
    /// The store's error; the batches deleted before it stay deleted.
    pub async fn run_once(&self, now: Option<Timestamp>) -> Result<PruneReport, StoreError> {
        let now = now_or_store(self.store.as_ref(), now).await?;
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

impl Service for Pruner {
    const NAME: &'static str = "pruner";
    type Report = PruneReport;

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn run_once(&self, now: Option<Timestamp>) -> Result<PruneReport, StoreError> {
        Pruner::run_once(self, now).await
    }
}
