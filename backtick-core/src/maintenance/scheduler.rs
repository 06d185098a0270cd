//! The schedule firer: stores a runner's recurring and cron schedules, then fires the due
//! ones. Every runner runs it; the store's compare-and-set of the next fire time decides
//! which runner enqueues each fire, so each fires exactly once (see [`crate::schedule`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{ConfigError, StoreError};
use crate::job::Timestamp;
use crate::maintenance::{Service, now_or_store};
use crate::registry::Registry;
use crate::schedule::{Periodic, ScheduleFire, ScheduleRecord};
use crate::store::QueueStore;
use crate::telemetry::{SCHEDULE_FIRED, SCHEDULE_MISSED};

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
/// # extern crate backtick_core as backtick_postgres;
/// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::Error> {
/// use std::sync::Arc;
/// use backtick_postgres::{StoreClock, maintenance::ScheduleFirer, schedule::Periodic};
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
    upcoming: Mutex<Upcoming>,
}

/// The next fire time of each schedule as this firer last saw it, and the time of that pass:
/// what lets a runner sleep until the next fire rather than poll for it. A hint only: a
/// schedule changed elsewhere (another deployment, an operator) is caught by the next pass,
/// which the runner's schedule interval bounds.
#[derive(Debug, Default)]
struct Upcoming {
    pass_at: Option<Timestamp>,
    next: HashMap<String, Timestamp>,
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
            upcoming: Mutex::new(Upcoming::default()),
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

    /// How long after its last pass the next fire of this firer's schedules is due, as far
    /// as that pass saw (`Duration::ZERO` when one is due already); `None` before the first
    /// pass or when none fires again. A runner sleeps this long (bounded by its schedule
    /// interval) before the next pass, so fires start on time without a faster poll.
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(firer: backtick_postgres::maintenance::ScheduleFirer) -> Result<(), backtick_postgres::StoreError> {
    /// firer.run_once(None).await?;
    /// if let Some(wait) = firer.next_fire_in() {
    ///     tokio::time::sleep(wait).await;
    ///     firer.run_once(None).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn next_fire_in(&self) -> Option<Duration> {
        let upcoming = self.upcoming.lock().unwrap_or_else(PoisonError::into_inner);
        let pass_at = upcoming.pass_at?;
        let next = upcoming.next.values().min()?;
        Some((*next - pass_at).to_std().unwrap_or(Duration::ZERO))
    }

    /// Remember `name`'s next fire time (`None`: it fires no more) as of the pass at `pass_at`.
    fn remember(&self, pass_at: Timestamp, name: &str, next: Option<Timestamp>) {
        let mut upcoming = self.upcoming.lock().unwrap_or_else(PoisonError::into_inner);
        upcoming.pass_at = Some(pass_at);
        match next {
            Some(next) => upcoming.next.insert(name.to_owned(), next),
            None => upcoming.next.remove(name),
        };
    }

    /// Note a pass at `pass_at`.
    fn passed(&self, pass_at: Timestamp) {
        self.upcoming.lock().unwrap_or_else(PoisonError::into_inner).pass_at = Some(pass_at);
    }

    /// At the pass at `now`, which found `due` due: a remembered fire time that has passed
    /// but is not due any more was consumed by another runner; move it on to the schedule's
    /// first fire after `now` (the same series the other runner follows), so that this
    /// firer neither waits for a fire that is gone nor wakes again and again for it.
    fn catch_up_on_fires_elsewhere(&self, now: Timestamp, due: &[ScheduleRecord]) {
        let mut upcoming = self.upcoming.lock().unwrap_or_else(PoisonError::into_inner);
        upcoming.pass_at = Some(now);
        for periodic in &self.periodics {
            let Some(next) = upcoming.next.get(&periodic.name).copied() else {
                continue;
            };
            if next <= now && !due.iter().any(|record| record.name == periodic.name) {
                match periodic.first_fire_after(next, now) {
                    Some(following) => upcoming.next.insert(periodic.name.clone(), following),
                    None => upcoming.next.remove(&periodic.name),
                };
            }
        }
    }

    async fn register(&self, now: Option<Timestamp>) -> Result<ScheduleReport, StoreError> {
        let at = now_or_store(self.store.as_ref(), now).await?;
        let records: Vec<ScheduleRecord> = self.periodics.iter().map(|p| p.record(at)).collect();
        let stored = self.store.upsert_schedules(&records, now).await?;
        self.passed(at);
        for record in &stored {
            tracing::info!(schedule = %record.name, spec = %record.spec, next = ?record.next_run_at, "schedule registered");
            self.remember(at, &record.name, record.next_run_at);
        }
        Ok(ScheduleReport {
            registered: stored.len(),
            ..ScheduleReport::default()
        })
    }

    async fn fire_due(&self, now: Option<Timestamp>) -> Result<ScheduleReport, StoreError> {
        let now = now_or_store(self.store.as_ref(), now).await?;
        let mut report = ScheduleReport::default();
        let due = self.store.due_schedules(&self.workers, Some(now)).await?;
        self.catch_up_on_fires_elsewhere(now, &due);
        for record in due {
            // A schedule stored by another deployment for a worker we also have, but under a
            // name we don't know, is left alone: we cannot compute its fire times.
            let periodic = self.periodics.iter().find(|p| p.name == record.name);
            if let (Some(periodic), Some(next)) = (periodic, record.next_run_at) {
                let following = self.fire_series(periodic, next, now, &mut report).await?;
                self.remember(now, &record.name, following);
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
    /// Returns the fire time that follows the last one consumed (by this runner or, when it
    /// lost the compare-and-set, by another, which planned the same): the schedule's next.
    async fn fire_series(
        &self,
        periodic: &Periodic,
        mut next: Timestamp,
        now: Timestamp,
        report: &mut ScheduleReport,
    ) -> Result<Option<Timestamp>, StoreError> {
        for _ in 0..MAX_FIRES_PER_PASS {
            let fire = periodic.plan(next, now, self.grace);
            if !self.store.fire_schedule(&fire, Some(now)).await? {
                return Ok(fire.next); // another runner fired it
            }
            tracing::debug!(schedule = %fire.name, at = %fire.expected, enqueued = fire.job.is_some(), "schedule fired");
            report.fired += 1;
            report.enqueued += usize::from(fire.job.is_some());
            count_fire(&fire, now, self.grace);
            match fire.next {
                Some(following) if following <= now => next = following,
                following => return Ok(following),
            }
        }
        Ok(Some(next))
    }
}

/// `backtick_schedule_fired_total` when `fire` enqueued a job (on time, or a catch-up), and
/// `backtick_schedule_missed_total` when it was consumed later than `grace` after its time
/// (caught up or skipped, per [`crate::schedule::CatchUp`]): a missed series counts once.
fn count_fire(fire: &ScheduleFire, now: Timestamp, grace: Duration) {
    if fire.job.is_some() {
        metrics::counter!(SCHEDULE_FIRED).increment(1);
    }
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    if now
        .checked_sub_signed(grace)
        .is_some_and(|horizon| fire.expected < horizon)
    {
        metrics::counter!(SCHEDULE_MISSED).increment(1);
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

    fn next_pass_in(&self) -> Option<Duration> {
        self.next_fire_in()
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
