//! The schedule firer: stores a runner's recurring and cron schedules, then fires the due
//! ones. Every runner runs it; the store's compare-and-set of the next fire time decides
//! which runner enqueues each fire, so each fires exactly once (see [`crate::schedule`]).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{ConfigError, StoreError};
use crate::job::Timestamp;
use crate::maintenance::{Service, now_or_store};
use crate::registry::Registry;
use crate::schedule::{Periodic, ScheduleRecord};
use crate::store::QueueStore;

/// How many fires of one schedule a pass plans at most (fires due together after a pause).
const MAX_FIRES_PER_PASS: usize = 100;

/// How late a fire may be before it is missed, unless told otherwise: 10 seconds.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Fires recurring and cron schedules. Its first pass that succeeds registers them (stores
/// each with its next fire time, keeping the stored one when the spec did not change); every
/// later pass fires the due ones, each due fire time once, planned by [`Periodic::plan`].
///
/// | option | default | unit |
/// |---|---|---|
/// | [`ScheduleFirer::grace`] | 10 | seconds |
/// | [`ScheduleFirer::workers`] | the schedules' workers | |
///
/// # Examples
/// ```no_run
/// # async fn example(store: std::sync::Arc<dyn backtick_core::QueueStore>) -> Result<(), backtick_core::Error> {
/// use std::sync::Arc;
/// use backtick_core::{StoreClock, maintenance::ScheduleFirer, schedule::Periodic};
/// let firer = ScheduleFirer::new(store, Arc::new(StoreClock), Periodic::discovered()?);
/// firer.run_once(None).await?; // registers
/// firer.run_once(None).await?; // fires what is due
/// # Ok(())
/// # }
/// ```
pub struct ScheduleFirer {
    store: Arc<dyn QueueStore>,
    clock: Arc<dyn Clock>,
    periodics: Vec<Periodic>,
    workers: Vec<String>,
    grace: Duration,
    registered: AtomicBool,
}

/// What one firer pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    /// Schedules stored (the first pass).
    pub registered: usize,
    /// Fire times consumed by this runner (later passes).
    pub fired: usize,
    /// Jobs those fires enqueued (a skipped missed fire enqueues none).
    pub enqueued: usize,
}

impl fmt::Display for ScheduleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ScheduleReport {
            registered,
            fired,
            enqueued,
        } = self;
        write!(
            f,
            "registered {registered} schedules, fired {fired} ({enqueued} jobs enqueued)"
        )
    }
}

impl ScheduleFirer {
    /// A firer of `periodics` over `store`; a runner's loop reads each pass's time from
    /// `clock`.
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>, periodics: Vec<Periodic>) -> Self {
        let workers = periodics.iter().map(|p| p.job.worker.clone()).collect();
        ScheduleFirer {
            store,
            clock,
            periodics,
            workers,
            grace: DEFAULT_GRACE,
            registered: AtomicBool::new(false),
        }
    }

    /// A fire later than `grace` is missed and follows its schedule's catch-up policy.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Fire the stored schedules of these workers (a runner's: every worker it has).
    #[must_use]
    pub fn workers(mut self, workers: Vec<String>) -> Self {
        self.workers = workers;
        self
    }

    /// One pass at `now` (`None` for the store's clock): register the schedules if no pass
    /// has yet, else fire the due ones. Nothing to do without schedules.
    ///
    /// # Errors
    /// The store's error; fires written before it stay written.
    pub async fn run_once(&self, now: Option<Timestamp>) -> Result<ScheduleReport, StoreError> {
        if self.periodics.is_empty() {
            return Ok(ScheduleReport::default());
        }
        if self.registered.load(Ordering::Acquire) {
            return self.fire_due(now).await;
        }
        let report = self.register(now).await?;
        self.registered.store(true, Ordering::Release);
        Ok(report)
    }

    async fn register(&self, now: Option<Timestamp>) -> Result<ScheduleReport, StoreError> {
        let at = now_or_store(self.store.as_ref(), now).await?;
        let records: Vec<ScheduleRecord> = self.periodics.iter().map(|p| p.record(at)).collect();
        let stored = self.store.upsert_schedules(&records, now).await?;
        for record in &stored {
            tracing::info!(schedule = %record.name, spec = %record.spec, next = ?record.next_run_at, "schedule registered");
        }
        Ok(ScheduleReport {
            registered: stored.len(),
            ..ScheduleReport::default()
        })
    }

    async fn fire_due(&self, now: Option<Timestamp>) -> Result<ScheduleReport, StoreError> {
        let now = now_or_store(self.store.as_ref(), now).await?;
        let mut report = ScheduleReport::default();
        for record in self.store.due_schedules(&self.workers, Some(now)).await? {
            // A schedule stored by another deployment for a worker we also have, but under a
            // name we don't know, is left alone: we cannot compute its fire times.
            let periodic = self.periodics.iter().find(|p| p.name == record.name);
            if let (Some(periodic), Some(next)) = (periodic, record.next_run_at) {
                self.fire_series(periodic, next, now, &mut report).await?;
            }
        }
        self.serve_run_requests(now, &mut report).await?;
        Ok(report)
    }

    /// Serve the operators' run-now requests of the schedules this runner knows: one extra
    /// job each, enqueued by whichever runner wins the request's compare-and-set.
    async fn serve_run_requests(&self, now: Timestamp, report: &mut ScheduleReport) -> Result<(), StoreError> {
        for request in self.store.schedule_run_requests(&self.workers).await? {
            let Some(periodic) = self.periodics.iter().find(|p| p.name == request.name) else {
                continue; // declared by another deployment
            };
            if self
                .store
                .fire_schedule_request(&request, &periodic.job, Some(now))
                .await?
            {
                tracing::info!(schedule = %request.name, requested_at = %request.requested_at, "schedule run on request");
                report.enqueued += 1;
            }
        }
        Ok(())
    }

    /// Fire `periodic` from its stored fire time `next` while its fires are due at `now`.
    async fn fire_series(
        &self,
        periodic: &Periodic,
        mut next: Timestamp,
        now: Timestamp,
        report: &mut ScheduleReport,
    ) -> Result<(), StoreError> {
        for _ in 0..MAX_FIRES_PER_PASS {
            let fire = periodic.plan(next, now, self.grace);
            if !self.store.fire_schedule(&fire, Some(now)).await? {
                return Ok(()); // another runner fired it
            }
            tracing::debug!(schedule = %fire.name, at = %fire.expected, enqueued = fire.job.is_some(), "schedule fired");
            report.fired += 1;
            report.enqueued += usize::from(fire.job.is_some());
            match fire.next {
                Some(following) if following <= now => next = following,
                _ => return Ok(()),
            }
        }
        Ok(())
    }
}

impl Service for ScheduleFirer {
    const NAME: &'static str = "schedule firer";
    type Report = ScheduleReport;

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn run_once(&self, now: Option<Timestamp>) -> Result<ScheduleReport, StoreError> {
        ScheduleFirer::run_once(self, now).await
    }
}

/// Reject schedules whose worker is not registered, and duplicate schedule names.
pub(crate) fn check_periodics(periodics: &[Periodic], registry: &Registry) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for periodic in periodics {
        if registry.get(&periodic.job.worker).is_none() {
            return Err(ConfigError::new(
                "periodic",
                format!(
                    "schedule {:?} runs worker {:?}, which is not registered; register the worker too",
                    periodic.name, periodic.job.worker
                ),
            ));
        }
        if !seen.insert(periodic.name.as_str()) {
            return Err(ConfigError::new(
                "periodic",
                format!("two schedules are named {:?}", periodic.name),
            ));
        }
    }
    Ok(())
}
