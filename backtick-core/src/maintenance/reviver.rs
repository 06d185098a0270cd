//! The reviver: puts back jobs whose runner died (their lease ran out without a heartbeat).

use std::fmt;
use std::sync::Arc;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::state::{self, Transition};
use crate::store::QueueStore;

/// How many expired leases one pass handles at most.
const BATCH: u32 = 1000;

/// Revives jobs whose lease expired: another attempt if any remain, else dead
/// ([`state::transition_for_expired_lease`]). The write is fenced by the claim token and by the
/// lease still being expired, so a late heartbeat wins and two revivers never both act.
///
/// # Examples
/// ```no_run
/// # async fn example(store: std::sync::Arc<dyn backtick_core::QueueStore>) -> Result<(), backtick_core::StoreError> {
/// use std::sync::Arc;
/// use backtick_core::{StoreClock, maintenance::Reviver};
/// let report = Reviver::new(store, Arc::new(StoreClock)).run_once().await?;
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
    /// A reviver over `store`, reading time from `clock`.
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>) -> Self {
        Reviver { store, clock }
    }

    /// One pass: revive every job whose lease has expired.
    ///
    /// # Errors
    /// The store's error; nothing is half-applied.
    pub async fn run_once(&self) -> Result<ReviveReport, StoreError> {
        let mut report = ReviveReport::default();
        loop {
            let now = self.clock.now();
            let expired = self.store.expired_leases(BATCH, now).await?;
            let revivals: Vec<_> = expired.iter().filter_map(state::revive).collect();
            if revivals.is_empty() {
                return Ok(report);
            }
            let written = self.store.revive_many(&revivals, now).await?;
            for revival in revivals.iter().filter(|r| written.applied.contains(&r.token.job_id)) {
                tracing::warn!(token = %revival.token, "revived a job whose lease expired");
                match revival.transition {
                    Transition::Dead { .. } => report.dead += 1,
                    _ => report.requeued += 1,
                }
            }
            report.skipped += written.stale.len();
            if expired.len() < BATCH as usize || written.applied.is_empty() {
                return Ok(report);
            }
        }
    }
}
