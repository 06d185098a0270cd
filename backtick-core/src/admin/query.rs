//! Which jobs an admin call is about: [`JobQuery`] (filters) and [`JobSelection`] (what a
//! bulk action touches).

use serde_json::Value;

use crate::admin::error::AdminError;
use crate::admin::payload::{json_contains, payload_to_json};
use crate::job::{Job, JobId, JobState, RunnerId, Timestamp};

/// A half-open time range: `from <= t < until`; an open end is unbounded.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::TimeRange;
/// let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let range = TimeRange::between(t("2030-01-01T00:00:00Z"), t("2030-01-02T00:00:00Z"));
/// assert!(range.contains(t("2030-01-01T12:00:00Z")));
/// assert!(!range.contains(t("2030-01-02T00:00:00Z")), "the end is excluded");
/// assert!(TimeRange::default().is_unbounded());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// The first instant in the range (inclusive).
    pub from: Option<Timestamp>,
    /// The first instant after the range (exclusive).
    pub until: Option<Timestamp>,
}

impl TimeRange {
    /// `from <= t < until`.
    pub fn between(from: Timestamp, until: Timestamp) -> Self {
        TimeRange {
            from: Some(from),
            until: Some(until),
        }
    }

    /// `from <= t`.
    pub fn since(from: Timestamp) -> Self {
        TimeRange {
            from: Some(from),
            until: None,
        }
    }

    /// `t < until`.
    pub fn before(until: Timestamp) -> Self {
        TimeRange {
            from: None,
            until: Some(until),
        }
    }

    /// True when neither end is set.
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.until.is_none()
    }

    /// True when `t` is in the range.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|from| from <= t) && self.until.is_none_or(|until| t < until)
    }

    /// True when the range is unbounded, or `t` is set and in it.
    fn admits(&self, t: Option<Timestamp>) -> bool {
        self.is_unbounded() || t.is_some_and(|t| self.contains(t))
    }
}

/// A filter over jobs for [`crate::admin::QueueAdmin::list_jobs`] and bulk actions. Every field
/// narrows the match; the default matches every job.
///
/// | field | matches jobs | cost on a large table |
/// |---|---|---|
/// | `ids` | with one of these ids | primary key |
/// | `states` | in one of these states | a partial index per state group (see `docs/design.md`) |
/// | `queue`, `worker` | on this queue, of this worker | a filter within the page's scan |
/// | `runner` | running under this runner's claim (`lease_owner`) | the running jobs' index |
/// | `args_contain` | whose decoded arguments contain this JSON value (`jsonb @>` semantics, [`json_contains`]) | decoded by the store, within the scan |
/// | `error_contains` | whose `last_error` contains this text, ignoring case | a filter within the scan |
/// | `created`, `finished` | created / finished in this range | a filter within the scan |
/// | `up_to_id` | with an id at or below this one | primary key |
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobState;
/// use backtick_postgres::admin::JobQuery;
/// let query = JobQuery::default()
///     .state(JobState::Dead)
///     .queue("mail")
///     .args_contain(serde_json::json!({"user_id": 42}));
/// assert!(!query.is_empty());
/// assert!(JobQuery::default().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobQuery {
    /// Only jobs with one of these ids; empty for any id.
    pub ids: Vec<JobId>,
    /// Only jobs in one of these states; empty for every state.
    pub states: Vec<JobState>,
    /// Only jobs on this queue.
    pub queue: Option<String>,
    /// Only jobs of this worker.
    pub worker: Option<String>,
    /// Only running jobs whose current claim this runner holds.
    pub runner: Option<RunnerId>,
    /// Only jobs whose arguments, decoded to JSON ([`payload_to_json`]), contain this value.
    pub args_contain: Option<Value>,
    /// Only jobs whose `last_error` contains this text, ignoring case.
    pub error_contains: Option<String>,
    /// Only jobs created in this range.
    pub created: TimeRange,
    /// Only jobs that finished in this range (unfinished jobs never match a bounded range).
    pub finished: TimeRange,
    /// Only jobs whose id is at most this one (bulk actions use it to leave alone the jobs
    /// enqueued after they began).
    pub up_to_id: Option<JobId>,
}

impl JobQuery {
    /// Only the job `id` (adds to earlier ids).
    pub fn id(mut self, id: JobId) -> Self {
        self.ids.push(id);
        self
    }

    /// Only jobs in `state` (adds to earlier states).
    pub fn state(mut self, state: JobState) -> Self {
        self.states.push(state);
        self
    }

    /// Only jobs on `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Only jobs of `worker`.
    pub fn worker(mut self, worker: impl Into<String>) -> Self {
        self.worker = Some(worker.into());
        self
    }

    /// Only running jobs held by `runner`.
    pub fn runner(mut self, runner: RunnerId) -> Self {
        self.runner = Some(runner);
        self
    }

    /// Only jobs whose arguments contain `value`.
    pub fn args_contain(mut self, value: Value) -> Self {
        self.args_contain = Some(value);
        self
    }

    /// Only jobs whose last error contains `text`, ignoring case.
    pub fn error_contains(mut self, text: impl Into<String>) -> Self {
        self.error_contains = Some(text.into());
        self
    }

    /// Only jobs created in `range`.
    pub fn created(mut self, range: TimeRange) -> Self {
        self.created = range;
        self
    }

    /// Only jobs finished in `range`.
    pub fn finished(mut self, range: TimeRange) -> Self {
        self.finished = range;
        self
    }

    /// True when the query matches every job: no field is set.
    pub fn is_empty(&self) -> bool {
        *self == JobQuery::default()
    }

    /// True when `job` matches every field. This is the reference semantics; a store may
    /// evaluate some fields in SQL, but must agree with it.
    pub fn matches(&self, job: &Job) -> bool {
        (self.ids.is_empty() || self.ids.contains(&job.id))
            && (self.states.is_empty() || self.states.contains(&job.state))
            && self.up_to_id.is_none_or(|max| job.id <= max)
            && self.queue.as_ref().is_none_or(|q| *q == job.queue)
            && self.worker.as_ref().is_none_or(|w| *w == job.worker)
            && self
                .runner
                .as_ref()
                .is_none_or(|r| job.state == JobState::Running && job.lease_owner.as_ref() == Some(r))
            && self.created.admits(Some(job.created_at))
            && self.finished.admits(job.finished_at)
            && self.matches_error(job)
            && self.matches_args(job)
    }

    /// True when `job`'s last error contains [`JobQuery::error_contains`], ignoring case (or it
    /// is unset).
    pub fn matches_error(&self, job: &Job) -> bool {
        let Some(needle) = &self.error_contains else {
            return true;
        };
        let needle = needle.to_lowercase();
        job.last_error
            .as_ref()
            .is_some_and(|error| error.to_lowercase().contains(&needle))
    }

    /// True when `job`'s decoded arguments contain [`JobQuery::args_contain`] (or it is unset).
    /// A payload that does not decode matches nothing. The Postgres backends store CBOR bytes
    /// that SQL cannot read, so they apply this one field in Rust to the rows their scan read.
    pub fn matches_args(&self, job: &Job) -> bool {
        let Some(needle) = &self.args_contain else {
            return true;
        };
        payload_to_json(job.codec, &job.args).is_ok_and(|args| json_contains(&args, needle))
    }
}

/// What a bulk action touches: the jobs matching a non-empty filter, or explicitly all jobs.
/// Either way only the jobs the action applies to are touched (see
/// [`crate::admin::JobAction::applies_to`]).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobState;
/// use backtick_postgres::admin::{JobQuery, JobSelection};
/// let dead = JobSelection::Matching(JobQuery::default().state(JobState::Dead));
/// assert!(dead.query("retry").is_ok());
/// assert!(JobSelection::Matching(JobQuery::default()).query("retry").is_err(), "an empty filter is refused");
/// assert!(JobSelection::All.query("retry").unwrap().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
// Built once per operator call: boxing the query would only make it clumsier to write.
#[allow(clippy::large_enum_variant)]
pub enum JobSelection {
    /// Every job the action applies to. Must be asked for explicitly.
    All,
    /// The jobs matching this filter, which must not be empty.
    Matching(JobQuery),
}

impl JobSelection {
    /// The filter to apply: empty for [`JobSelection::All`].
    ///
    /// # Errors
    /// [`AdminError::EmptySelection`] (naming `action`) for `Matching` an empty filter: an
    /// empty filter is much more likely a mistake than a wish to touch every job.
    pub fn query(&self, action: &'static str) -> Result<JobQuery, AdminError> {
        match self {
            JobSelection::All => Ok(JobQuery::default()),
            JobSelection::Matching(query) if query.is_empty() => Err(AdminError::EmptySelection { action }),
            JobSelection::Matching(query) => Ok(query.clone()),
        }
    }
}
