//! The reviver: puts back jobs whose runner died (their lease ran out without a heartbeat).

use std::fmt;
use std::sync::Arc;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::{Job, Timestamp};
use crate::maintenance::Contact;
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
/// With a [`Contact`] ([`Reviver::contact`], as every runner's reviver has), a pass reviving
/// nothing while the contact is lost or in its grace: leases that expired while the database
/// could not be reached are left to their owners for one more lease.
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
    contact: Option<Arc<Contact>>,
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
    /// Expired leases left alone because contact with the database was lost or had just come
    /// back ([`Contact`]): revived by a later pass unless their owner heartbeats first.
    pub deferred: usize,
}

impl fmt::Display for ReviveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "revived {} (requeued {}, dead {}), skipped {}, deferred {}",
            self.requeued + self.dead,
            self.requeued,
            self.dead,
            self.skipped,
            self.deferred
        )
    }
}

impl Reviver {
    /// A reviver over `store`; a runner's loop reads each pass's time from `clock`.
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>) -> Self {
        Reviver {
            store,
            clock,
            contact: None,
        }
    }

    /// Defer reviving while `contact` says the database was just lost (see [`Contact`]); every
    /// read of expired leases is recorded in it.
    pub fn contact(mut self, contact: Arc<Contact>) -> Self {
        self.contact = Some(contact);
        self
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
        let started = tokio::time::Instant::now();
        let expired = self.store.expired_leases(BATCH, now).await;
        if let Some(contact) = &self.contact {
            contact.observe(started.elapsed(), expired.is_ok());
        }
        let expired = expired?;
        let revivals: Vec<_> = expired.iter().filter_map(state::revive).collect();
        if revivals.is_empty() {
            return Ok(false);
        }
        if self.contact.as_ref().is_some_and(|contact| !contact.reviving_allowed()) {
            report.deferred += revivals.len();
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
