//! The reviver: puts back jobs whose runner died (their lease ran out without a heartbeat).

use std::fmt;
use std::sync::Arc;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::{Job, Timestamp};
use crate::maintenance::Service;
use crate::state::{self, Finish, Transition};
use crate::store::{FinishReport, QueueStore};
use crate::telemetry::JOBS_REVIVED;

/// How many expired leases one batch handles at most.
const BATCH: u32 = 1000;

/// Revives jobs whose lease expired: another attempt if any remain, else dead
/// ([`state::transition_for_expired_lease`]). The write is fenced by the claim token and by the
/// lease still being expired, so a late heartbeat wins and two revivers never both act.
///
/// # Examples
/// ```no_run
/// # extern crate backtick_core as backtick_postgres;
/// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::StoreError> {
/// use std::sync::Arc;
/// use backtick_postgres::{StoreClock, maintenance::Reviver};
/// let report = Reviver::new(store, Arc::new(StoreClock)).run_once(None).await?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Reviver {
    store: Arc<dyn QueueStore>,
    clock: Arc<dyn Clock>,
}

/// What one reviver pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviveReport {
    /// Jobs put back on the queue.
    pub requeued: usize,
    /// Jobs sent to dead (no attempts left).
    pub dead: usize,
    /// Jobs that were no longer expired when written (a heartbeat or another reviver won).
    pub skipped: usize,
}

impl fmt::Display for ReviveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "revived {} (requeued {}, dead {}), skipped {}",
            self.requeued + self.dead,
            self.requeued,
            self.dead,
            self.skipped
        )
    }
}

impl Reviver {
    /// A reviver over `store`; a runner's loop reads each pass's time from `clock`.
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>) -> Self {
        Reviver { store, clock }
    }

    /// One pass at `now` (`None` for the store's clock): revive every job whose lease has
    /// expired, a batch at a time.
    ///
    /// # Errors
    /// The store's error; each batch is applied whole or not at all.
    pub async fn run_once(&self, now: Option<Timestamp>) -> Result<ReviveReport, StoreError> {
        let mut report = ReviveReport::default();
        while self.revive_batch(now, &mut report).await? {}
        Ok(report)
    }

    /// Revive up to [`BATCH`] expired leases; `true` if there may be more.
    async fn revive_batch(&self, now: Option<Timestamp>, report: &mut ReviveReport) -> Result<bool, StoreError> {
        let expired = self.store.expired_leases(BATCH, now).await?;
        let revivals: Vec<_> = expired.iter().filter_map(state::revive).collect();
        if revivals.is_empty() {
            return Ok(false);
        }
        let written = self.store.revive_many(&revivals, now).await?;
        report.count(&revivals, &written);
        count_revived(&expired, &written);
        Ok(expired.len() >= BATCH as usize && !written.applied.is_empty())
    }
}

impl ReviveReport {
    fn count(&mut self, revivals: &[Finish], written: &FinishReport) {
        for revival in revivals.iter().filter(|r| written.applied.contains(&r.token.job_id)) {
            tracing::warn!(token = %revival.token, "revived a job whose lease expired");
            match revival.transition {
                Transition::Dead { .. } => self.dead += 1,
                _ => self.requeued += 1,
            }
        }
        self.skipped += written.stale.len();
    }
}

/// `backtick_jobs_revived_total{queue,worker}` for the revivals that took effect.
fn count_revived(expired: &[Job], written: &FinishReport) {
    for job in expired.iter().filter(|job| written.applied.contains(&job.id)) {
        metrics::counter!(JOBS_REVIVED, "queue" => job.queue.clone(), "worker" => job.worker.clone()).increment(1);
    }
}

impl Service for Reviver {
    const NAME: &'static str = "reviver";
    type Report = ReviveReport;

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn run_once(&self, now: Option<Timestamp>) -> Result<ReviveReport, StoreError> {
        Reviver::run_once(self, now).await
    }
}
