//! Periodic schedules: recurring (`every`) and cron jobs, and how a due fire is planned.
//!
//! Every registered schedule is stored in the database with its next fire time. Any runner
//! may try to fire a due schedule; the store decides with a compare-and-set of the next fire
//! time in the same transaction as the job's insert, so each fire time enqueues exactly one
//! job however many runners are up.
//!
//! # Missed fires
//! When every runner was down across several fire times, the schedule does not fire a burst.
//! With [`CatchUp::Once`] (the default) the oldest missed fire enqueues one catch-up job and
//! the schedule continues from the first fire time after now; with [`CatchUp::Skip`] the missed
//! fires are dropped and the schedule continues from the first fire time after now.

mod cron;
mod every;

use std::sync::Arc;
use std::time::Duration;

pub use cron::Cron;
pub use every::Every;

use crate::job::{NewJob, RunAt, Timestamp};

/// When a periodic schedule fires. One method, like River's `PeriodicSchedule`: the runner
/// stores the next fire time in the database and asks for the one after it when it fires.
pub trait Scheduler: Send + Sync + std::fmt::Debug + 'static {
    /// The first fire time strictly after `after`, or `None` if the schedule never fires again.
    fn next_after(&self, after: Timestamp) -> Option<Timestamp>;
}

/// What to do about fires missed while no runner was up. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// One catch-up job for all the missed fires, then continue.
    #[default]
    Once,
    /// Drop missed fires; continue from the next fire time after now.
    Skip,
}

/// A recurring or cron job a runner keeps firing.
#[derive(Debug, Clone)]
pub struct Periodic {
    /// The schedule's unique name (the worker's name, for the attribute macros).
    pub name: String,
    /// When it fires.
    pub scheduler: Arc<dyn Scheduler>,
    /// A canonical text of the schedule (`every 5m`, `cron 0 0 14,16 * * * UTC`). When it
    /// changes between deployments the next fire time is recomputed; when it does not, the
    /// stored next fire time is kept.
    pub spec: String,
    /// The job each fire enqueues (its `run_at` is set to the fire time).
    pub job: NewJob,
    /// What to do about missed fires.
    pub catch_up: CatchUp,
}

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// The schedule's unique name.
    pub name: String,
    /// The worker its jobs run on: only runners that have it fire the schedule.
    pub worker: String,
    /// The canonical schedule text (see [`Periodic::spec`]).
    pub spec: String,
    /// The next fire time; `None` when it never fires again.
    pub next_run_at: Option<Timestamp>,
}

/// One fire of a schedule, for [`crate::QueueStore::fire_schedule`]: move `next_run_at` from
/// `expected` to `next` and, only if that compare-and-set succeeds, enqueue `job`, both in one
/// transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleFire {
    /// The schedule's name.
    pub name: String,
    /// The fire time being consumed: the stored `next_run_at` this runner read.
    pub expected: Timestamp,
    /// The fire time after it; `None` when it never fires again.
    pub next: Option<Timestamp>,
    /// The job to enqueue, or `None` when the fire is skipped (missed, [`CatchUp::Skip`]).
    pub job: Option<NewJob>,
}

impl Periodic {
    /// Every schedule declared with `#[recurring]` and `#[cron]` in the program, sorted by name.
    /// [`crate::RunnerBuilder::discovered`] takes them all.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a schedule cannot be built (the macros check specs at
    /// compile time, so this does not happen for them).
    pub fn discovered() -> Result<Vec<Periodic>, crate::Error> {
        crate::__private::discovered_periodics()
    }

    /// The record to store for this schedule, first firing after `now`.
    pub fn record(&self, now: Timestamp) -> ScheduleRecord {
        ScheduleRecord {
            name: self.name.clone(),
            worker: self.job.worker.clone(),
            spec: self.spec.clone(),
            next_run_at: self.scheduler.next_after(now),
        }
    }

    /// Plan the fire of `due`, a stored next fire time at or before `now`. A fire is *missed*
    /// when it is more than `grace` older than `now` (every runner was down).
    ///
    /// An on-time fire enqueues a job due at `due` and moves to the fire after it (which, if it
    /// is also due, is planned next). A missed fire enqueues one catch-up job
    /// ([`CatchUp::Once`]) or none ([`CatchUp::Skip`]) and jumps over every other passed fire,
    /// to the first fire time after `now`.
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use std::{sync::Arc, time::Duration};
    /// use backtick_postgres::NewJob;
    /// use backtick_postgres::schedule::{CatchUp, Every, Periodic};
    /// let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    /// let periodic = Periodic {
    ///     name: "heartbeat".into(),
    ///     scheduler: Arc::new(Every::new(Duration::from_secs(60))?),
    ///     spec: "every 60s".into(),
    ///     job: NewJob::new("heartbeat", &())?,
    ///     catch_up: CatchUp::Once,
    /// };
    /// let grace = Duration::from_secs(30);
    /// // On time: fire 12:00, next 12:01.
    /// let fire = periodic.plan(t("2030-01-01T12:00:00Z"), t("2030-01-01T12:00:00.2Z"), grace);
    /// assert_eq!(fire.next, Some(t("2030-01-01T12:01:00Z")));
    /// // Down for an hour: one catch-up job, then the first fire that is not missed.
    /// let fire = periodic.plan(t("2030-01-01T12:00:00Z"), t("2030-01-01T13:00:45Z"), grace);
    /// assert!(fire.job.is_some());
    /// assert_eq!(fire.next, Some(t("2030-01-01T13:01:00Z")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan(&self, due: Timestamp, now: Timestamp, grace: Duration) -> ScheduleFire {
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let horizon = now.checked_sub_signed(grace).unwrap_or(Timestamp::MIN_UTC);
        let on_time = due >= horizon;
        let next = if on_time {
            self.scheduler.next_after(due)
        } else {
            self.first_fire_after(due, now)
        };
        let job = (on_time || self.catch_up == CatchUp::Once).then(|| {
            let mut job = self.job.clone();
            job.run_at = Some(RunAt::At(due));
            job
        });
        ScheduleFire {
            name: self.name.clone(),
            expected: due,
            next,
            job,
        }
    }

    /// The first fire of the series through `due` that is after `now`. Walks the series so
    /// fixed intervals stay aligned; after many steps (a tiny interval over a long outage) it
    /// jumps straight to the first fire after `now`.
    pub(crate) fn first_fire_after(&self, due: Timestamp, now: Timestamp) -> Option<Timestamp> {
        const MAX_STEPS: usize = 10_000;
        let mut fire = due;
        for _ in 0..MAX_STEPS {
            fire = self.scheduler.next_after(fire)?;
            if fire > now {
                return Some(fire);
            }
        }
        self.scheduler.next_after(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(5);

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn periodic(catch_up: CatchUp) -> Periodic {
        Periodic {
            name: "tick".into(),
            scheduler: Arc::new(Every::new(Duration::from_secs(10)).unwrap()),
            spec: "every 10s".into(),
            job: NewJob::new("tick", &()).unwrap(),
            catch_up,
        }
    }

    #[test]
    fn an_on_time_fire_enqueues_for_its_due_time_and_moves_one_step() {
        let fire = periodic(CatchUp::Skip).plan(t("2030-01-01T00:00:10Z"), t("2030-01-01T00:00:11Z"), GRACE);
        assert_eq!(fire.expected, t("2030-01-01T00:00:10Z"));
        assert_eq!(fire.next, Some(t("2030-01-01T00:00:20Z")));
        let job = fire.job.expect("on-time fires enqueue even with Skip");
        assert_eq!(job.run_at, Some(RunAt::At(t("2030-01-01T00:00:10Z"))));
    }

    #[test]
    fn a_fire_late_within_the_grace_is_on_time_and_keeps_the_series_aligned() {
        let fire = periodic(CatchUp::Skip).plan(t("2030-01-01T00:00:10Z"), t("2030-01-01T00:00:14Z"), GRACE);
        assert!(fire.job.is_some());
        assert_eq!(fire.next, Some(t("2030-01-01T00:00:20Z")));
    }

    #[test]
    fn missed_fires_produce_one_catch_up_job_not_a_burst() {
        let fire = periodic(CatchUp::Once).plan(t("2030-01-01T00:00:10Z"), t("2030-01-01T01:00:05Z"), GRACE);
        assert!(fire.job.is_some());
        assert_eq!(
            fire.next,
            Some(t("2030-01-01T01:00:10Z")),
            "every other passed fire is skipped"
        );
    }

    #[test]
    fn missed_fires_are_dropped_with_skip() {
        let fire = periodic(CatchUp::Skip).plan(t("2030-01-01T00:00:10Z"), t("2030-01-01T01:00:07Z"), GRACE);
        assert_eq!(fire.job, None);
        assert_eq!(fire.next, Some(t("2030-01-01T01:00:10Z")));
    }

    #[test]
    fn a_long_outage_on_a_tiny_interval_jumps_without_walking_forever() {
        let tiny = Periodic {
            scheduler: Arc::new(Every::new(Duration::from_millis(1)).unwrap()),
            ..periodic(CatchUp::Skip)
        };
        let fire = tiny.plan(t("2030-01-01T00:00:00Z"), t("2030-02-01T00:00:00Z"), GRACE);
        let next = fire.next.expect("fires again");
        assert_eq!(next, t("2030-02-01T00:00:00.001Z"));
    }

    #[test]
    fn the_record_fires_first_after_now() {
        let record = periodic(CatchUp::Once).record(t("2030-01-01T00:00:00Z"));
        assert_eq!(record.next_run_at, Some(t("2030-01-01T00:00:10Z")));
        assert_eq!((record.worker.as_str(), record.spec.as_str()), ("tick", "every 10s"));
    }
}
