//! Recurring and cron schedules as an operator sees them.

use crate::job::{RunnerId, Timestamp};

/// One stored schedule. See [`crate::admin::QueueAdmin::list_schedules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    /// The schedule's name.
    pub name: String,
    /// The worker its jobs run on.
    pub worker: String,
    /// The canonical schedule text (`every 5m`, `cron 0 0 9 * * MON-FRI Europe/Paris`).
    pub spec: String,
    /// The time zone of a cron schedule ([`spec_time_zone`]); `None` for an interval.
    pub time_zone: Option<String>,
    /// The next fire time; `None` when it never fires again.
    pub next_run_at: Option<Timestamp>,
    /// The fire time of the last fire that enqueued a job (or the time of the last run-now);
    /// `None` before the first.
    pub last_fired_at: Option<Timestamp>,
    /// When it was paused; `None` while it is not. A paused schedule's fire times pass
    /// without enqueueing anything.
    pub paused_at: Option<Timestamp>,
    /// A pending run-now request: a runner enqueues one extra job and clears it.
    pub run_requested_at: Option<Timestamp>,
    /// The live runners that declare it.
    pub declared_by: Vec<RunnerId>,
}

/// What an operator can do to a stored schedule; see
/// [`crate::admin::QueueAdmin::apply_to_schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleAction {
    /// Its fire times pass without enqueueing until it is resumed. Changes nothing (returns
    /// false) when it is already paused.
    Pause,
    /// It fires again from its next fire time. Changes nothing when it is not paused.
    Resume,
    /// One extra run now, paused or not, outside its fire times: a runner that declares the
    /// schedule enqueues the job (the job is defined in the application's code, not stored)
    /// and clears the request with a compare-and-set, so one request enqueues exactly one
    /// job however many runners see it. Changes nothing when a request is already pending:
    /// requests do not pile up.
    RunNow,
    /// Forget a stale schedule ([`ScheduleInfo::is_stale`]); refused with
    /// [`crate::admin::AdminError::ScheduleInUse`] while a live runner declares it (it would
    /// store it again).
    Remove,
}

impl ScheduleAction {
    /// Every action, in the order above.
    pub const ALL: [ScheduleAction; 4] = [Self::Pause, Self::Resume, Self::RunNow, Self::Remove];

    /// The action's name as operators type it: `pause`, `resume`, `run-now`, `remove`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::RunNow => "run-now",
            Self::Remove => "remove",
        }
    }
}

impl ScheduleInfo {
    /// True when no live runner declares the schedule any more: nothing fires it, and
    /// [`crate::admin::QueueAdmin::remove_schedule`] may remove it.
    pub fn is_stale(&self) -> bool {
        self.declared_by.is_empty()
    }
}

/// The time zone named in a canonical schedule text: the last word of a cron spec
/// (`cron <six fields> <zone>`), `None` for anything else.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::spec_time_zone;
/// assert_eq!(spec_time_zone("cron 0 0 9 * * MON-FRI America/Los_Angeles"), Some("America/Los_Angeles"));
/// assert_eq!(spec_time_zone("every 5m"), None);
/// ```
pub fn spec_time_zone(spec: &str) -> Option<&str> {
    let mut words = spec.split_whitespace();
    if words.next() != Some("cron") {
        return None;
    }
    let words: Vec<&str> = words.collect();
    // Six cron fields, then the zone.
    (words.len() == 7).then(|| words[6])
}

/// A pending run-now request for a schedule, as a runner sees it
/// ([`crate::QueueStore::schedule_run_requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRunRequest {
    /// The schedule.
    pub name: String,
    /// When the run was asked for: the compare-and-set value that makes it run once.
    pub requested_at: Timestamp,
}
