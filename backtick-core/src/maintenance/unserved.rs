//! The unserved-worker warner: logs a warning when due jobs wait for a worker that no live
//! runner has (misspelt, removed, or not deployed yet). Such jobs stay queued by design; this
//! makes them visible in every runner's log, not only to an operator who asks
//! ([`crate::admin::QueueAdmin::unserved_workers`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::Timestamp;
use crate::maintenance::{Service, now_or_store};
use crate::store::QueueStore;

/// Looks for workers whose due jobs no live runner serves ([`QueueStore::unserved_jobs`]) and
/// warns of each worker at most once per `repeat` (default an hour), so a lasting problem
/// does not flood the log.
///
/// # Examples
/// ```no_run
/// # extern crate backtick_core as backtick_postgres;
/// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::StoreError> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use backtick_postgres::{StoreClock, maintenance::UnservedWarner};
/// let warner = UnservedWarner::new(store, Arc::new(StoreClock), Duration::from_secs(60));
/// let report = warner.run_once(None).await?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
pub struct UnservedWarner {
    store: Arc<dyn QueueStore>,
    clock: Arc<dyn Clock>,
    waited: Duration,
    repeat: Duration,
    /// Worker name -> when it was last warned of.
    warned: Mutex<HashMap<String, Timestamp>>,
}

/// What one warner pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnservedReport {
    /// Workers with unserved due jobs.
    pub workers: usize,
    /// Of them, those warned of in this pass (the others were warned of recently).
    pub warned: usize,
}

impl fmt::Display for UnservedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} unserved worker(s), {} warned of", self.workers, self.warned)
    }
}

impl UnservedWarner {
    /// A warner over `store` for jobs due for longer than `waited`; a runner's loop reads each
    /// pass's time from `clock`.
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>, waited: Duration) -> Self {
        UnservedWarner {
            store,
            clock,
            waited,
            repeat: Duration::from_secs(3600),
            warned: Mutex::new(HashMap::new()),
        }
    }

    /// Warn of one worker again at the earliest `repeat` after the last warning.
    #[must_use]
    pub fn repeat(mut self, repeat: Duration) -> Self {
        self.repeat = repeat;
        self
    }

    /// One pass at `now` (`None` for the store's clock): a `warn` line per unserved worker not
    /// warned of within `repeat`.
    ///
    /// # Errors
    /// The store's error.
    pub async fn run_once(&self, now: Option<Timestamp>) -> Result<UnservedReport, StoreError> {
        let now = now_or_store(self.store.as_ref(), now).await?;
        let unserved = self.store.unserved_jobs(self.waited, Some(now)).await?;
        let repeat = chrono::Duration::from_std(self.repeat).unwrap_or(chrono::Duration::MAX);
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = UnservedReport::default();
        let mut seen: Vec<&str> = Vec::new();
        for entry in &unserved {
            if seen.contains(&entry.worker.as_str()) {
                continue;
            }
            seen.push(&entry.worker);
            report.workers += 1;
            let recently = warned
                .get(&entry.worker)
                .is_some_and(|last| now.signed_duration_since(*last) < repeat);
            if recently {
                continue;
            }
            let jobs: u64 = unserved
                .iter()
                .filter(|u| u.worker == entry.worker)
                .map(|u| u.jobs)
                .sum();
            tracing::warn!(
                worker = %entry.worker,
                queue = %entry.queue,
                jobs,
                oldest_job = %entry.oldest_job,
                oldest_due = %entry.oldest_due,
                "jobs are due for a worker that no live runner has; they wait until a runner with \
                 this worker starts (a misspelt or removed worker name?)"
            );
            warned.insert(entry.worker.clone(), now);
            report.warned += 1;
        }
        Ok(report)
    }
}

impl Service for UnservedWarner {
    const NAME: &'static str = "unserved";
    type Report = UnservedReport;

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn run_once(&self, now: Option<Timestamp>) -> Result<UnservedReport, StoreError> {
        UnservedWarner::run_once(self, now).await
    }
}
