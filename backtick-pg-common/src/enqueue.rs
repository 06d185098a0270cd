//! Enqueueing, less the driver: [`enqueue`] validates the jobs, turns them into the columns
//! [`crate::sql::ENQUEUE`] and [`crate::sql::ENQUEUE_PLAIN`] take, picks the statements a batch
//! needs and resolves the ids of jobs whose unique key was already held. A backend implements
//! [`EnqueueConnection`]: it binds the columns, runs the statements (the unique path inside a
//! transaction or savepoint of its driver) and decodes the ids.

use backtick_core::telemetry::EnqueueCount;
use std::collections::HashMap;
use std::future::Future;

use backtick_core::{Enqueued, JobId, JobState, NewJob, RunAt, StoreError, Timestamp};

use crate::interval::micros;

/// The jobs of one enqueue as one array per column, in input order, for `unnest`.
#[derive(Debug, Default)]
pub struct JobColumns {
    /// `$2` worker names.
    pub worker: Vec<String>,
    /// `$3` queue names.
    pub queue: Vec<String>,
    /// `$4` encoded arguments.
    pub args: Vec<Vec<u8>>,
    /// `$5` codec names.
    pub codec: Vec<&'static str>,
    /// `$6` priorities.
    pub priority: Vec<i16>,
    /// `$7` attempt limits.
    pub max_attempts: Vec<i32>,
    /// `$8` due times given as a time, else NULL.
    pub run_at: Vec<Option<Timestamp>>,
    /// `$9` due times given as a delay from now, in microseconds, else NULL.
    pub delay_us: Vec<Option<i64>>,
    /// `$10` unique keys ([`crate::sql::ENQUEUE`] only).
    pub unique_key: Vec<Option<String>>,
    /// Trace contexts: `$11` of [`crate::sql::ENQUEUE`], `$10` of [`crate::sql::ENQUEUE_PLAIN`].
    pub trace_context: Vec<Option<String>>,
    /// `$12` unique periods in microseconds ([`crate::sql::ENQUEUE`] only).
    pub unique_period_us: Vec<Option<i64>>,
    /// `$13` unique states as array literals, `{queued,running}` ([`crate::sql::ENQUEUE`] only).
    pub unique_states: Vec<Option<String>>,
}

impl JobColumns {
    /// How many jobs.
    pub fn len(&self) -> usize {
        self.worker.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.worker.is_empty()
    }
}

impl From<Vec<NewJob>> for JobColumns {
    fn from(jobs: Vec<NewJob>) -> Self {
        let mut c = JobColumns::default();
        for job in jobs {
            let (run_at, delay) = match job.run_at {
                Some(RunAt::At(at)) => (Some(at), None),
                Some(RunAt::After(after)) => (None, Some(micros(after))),
                None => (None, None),
            };
            c.worker.push(job.worker);
            c.queue.push(job.queue);
            c.args.push(job.args);
            c.codec.push(job.codec.as_str());
            c.priority.push(job.priority);
            c.max_attempts.push(job.max_attempts);
            c.run_at.push(run_at);
            c.delay_us.push(delay);
            c.unique_key.push(job.unique_key);
            c.trace_context.push(job.trace_context);
            c.unique_period_us
                .push(job.unique_period.map(backtick_core::period_micros));
            c.unique_states
                .push(job.unique_states.map(|states| states_literal(&states)));
        }
        c
    }
}

/// `states` as a Postgres array literal: `{queued,running}`.
fn states_literal(states: &[JobState]) -> String {
    let names: Vec<&str> = states.iter().map(|state| state.as_str()).collect();
    format!("{{{}}}", names.join(","))
}

/// One row [`crate::sql::ENQUEUE`] returns: the job's id (NULL when a concurrent holder of its
/// key is not visible yet), whether this statement inserted it, and the key as held.
pub type EnqueueRow = (Option<i64>, bool, Option<String>);

/// The statements of one enqueue on one connection, run with a backend's driver. See
/// [`enqueue`].
pub trait EnqueueConnection: Send {
    /// Run [`crate::sql::ENQUEUE_PLAIN`] with `columns` (no job has a unique key) and return
    /// the ids through [`ids_in_input_order`].
    ///
    /// # Errors
    /// The mapped driver error, or [`ids_in_input_order`]'s.
    fn insert_plain(
        &mut self,
        columns: JobColumns,
        now: Option<Timestamp>,
    ) -> impl Future<Output = Result<Vec<JobId>, StoreError>> + Send;

    /// In a transaction (a savepoint when the connection already is in one) that is rolled
    /// back on any error: run [`crate::sql::ENQUEUE`] with `columns` and [`UniqueKeys::resolve`]
    /// the rows it returned (`id`, `inserted`).
    ///
    /// # Errors
    /// The mapped driver error, or [`UniqueKeys::resolve`]'s.
    fn insert_unique(
        &mut self,
        columns: JobColumns,
        keys: UniqueKeys,
        now: Option<Timestamp>,
    ) -> impl Future<Output = Result<Vec<Enqueued>, StoreError>> + Send;
}

/// Put `jobs` on the queue through `conn`, atomically; what happened to each job (its id and
/// whether it was a duplicate) in input order. Validates every job first; runs nothing for no
/// jobs, one plain insert when no job has a unique key (every job fresh), else the unique
/// insert.
///
/// # Errors
/// [`StoreError::InvalidJob`] for the first invalid job (nothing runs); otherwise `conn`'s.
pub async fn enqueue<C: EnqueueConnection>(
    conn: &mut C,
    jobs: Vec<NewJob>,
    now: Option<Timestamp>,
) -> Result<Vec<Enqueued>, StoreError> {
    // Counted here, the one enqueue path of both backends (see `EnqueueCount`).
    let count = EnqueueCount::of(&jobs);
    let ids = match Plan::of(jobs)? {
        Plan::Nothing => Vec::new(),
        Plan::Plain(columns) => conn
            .insert_plain(columns, now)
            .await?
            .into_iter()
            .map(Enqueued::fresh)
            .collect(),
        Plan::Unique(columns, keys) => conn.insert_unique(columns, keys, now).await?,
    };
    count.record();
    Ok(ids)
}

/// What one enqueue call has to run.
#[derive(Debug)]
enum Plan {
    /// No jobs: run nothing, return no ids.
    Nothing,
    /// No job has a unique key.
    Plain(JobColumns),
    /// Some job has a unique key.
    Unique(JobColumns, UniqueKeys),
}

impl Plan {
    /// Validate every job, then pick the statements.
    fn of(jobs: Vec<NewJob>) -> Result<Self, StoreError> {
        for job in &jobs {
            job.validate()?;
        }
        if jobs.is_empty() {
            return Ok(Plan::Nothing);
        }
        if jobs.iter().all(|job| job.unique_key.is_none()) {
            return Ok(Plan::Plain(JobColumns::from(jobs)));
        }
        let keys = UniqueKeys(jobs.len());
        Ok(Plan::Unique(JobColumns::from(jobs), keys))
    }
}

/// How many jobs an enqueue with unique keys has: [`crate::sql::ENQUEUE`] returns a row for
/// each, with the key as held (a unique period appended by the statement).
#[derive(Debug)]
pub struct UniqueKeys(usize);

impl UniqueKeys {
    /// Every job's id and whether it was a duplicate, in input order, from the rows
    /// [`crate::sql::ENQUEUE`] returned for them (`id`, `inserted`, `key`): a job's own id, or
    /// that of the job holding its key. A key committed by a concurrent insert after the
    /// statement's snapshot leaves its id NULL; `lookup` finds those with
    /// [`crate::sql::SELECT_IDS_BY_UNIQUE_KEY`] (a second statement, so a fresh snapshot),
    /// given the keys to look up and returning the id holding each. It is not called when
    /// every id is known.
    ///
    /// # Errors
    /// `lookup`'s error; [`StoreError::Conflict`] (transient) when a key's holder is still
    /// not visible, and the caller must roll the whole call back; [`StoreError::Other`] when
    /// a job without a unique key got no id, or the rows are not one per job.
    pub async fn resolve<F, Fut>(self, rows: Vec<EnqueueRow>, lookup: F) -> Result<Vec<Enqueued>, StoreError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<HashMap<String, i64>, StoreError>>,
    {
        if rows.len() != self.0 {
            return Err(missing_id());
        }
        let unresolved = unresolved(&rows);
        let found = if unresolved.is_empty() {
            HashMap::new()
        } else {
            lookup(unresolved).await?
        };
        resolve_from(rows, &found)
    }
}

/// The keys whose id is NULL in `rows`.
fn unresolved(rows: &[EnqueueRow]) -> Vec<String> {
    rows.iter()
        .filter(|(id, _, _)| id.is_none())
        .filter_map(|(_, _, key)| key.clone())
        .collect()
}

/// Every id from `rows`, else from `found` by key (a duplicate: a concurrent insert holds
/// the key).
fn resolve_from(rows: Vec<EnqueueRow>, found: &HashMap<String, i64>) -> Result<Vec<Enqueued>, StoreError> {
    rows.into_iter()
        .map(|(id, inserted, key)| match (id, key) {
            (Some(id), _) => Ok(Enqueued {
                id: JobId(id),
                duplicate: !inserted,
            }),
            (None, Some(key)) => found
                .get(&key)
                .copied()
                .map(|id| Enqueued::duplicate_of(JobId(id)))
                .ok_or_else(|| vanished_key(&key)),
            (None, None) => Err(missing_id()),
        })
        .collect()
}

/// The ids [`crate::sql::ENQUEUE_PLAIN`] returned for `jobs` jobs, in input order. Identity
/// values are drawn as rows are inserted, in input order, so sorted ascending they are in
/// input order.
///
/// # Errors
/// [`StoreError::Other`] ([`missing_id`]) when there are fewer or more ids than jobs.
pub fn ids_in_input_order(mut ids: Vec<JobId>, jobs: usize) -> Result<Vec<JobId>, StoreError> {
    if ids.len() != jobs {
        return Err(missing_id());
    }
    ids.sort_unstable();
    Ok(ids)
}

/// The error of an insert that returned no id for a job without a unique key.
pub fn missing_id() -> StoreError {
    StoreError::Other {
        source: "the insert returned no id for a job without a unique key".into(),
    }
}

fn vanished_key(key: &str) -> StoreError {
    let message = format!(
        "unique key {key:?} is held by a job this transaction cannot see (inserted concurrently, then pruned, \
         or hidden by a repeatable-read snapshot); nothing was enqueued, try again"
    );
    StoreError::Conflict { source: message.into() }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn job(key: Option<&str>) -> NewJob {
        let job = NewJob::new("w", &1_i64).unwrap();
        match key {
            Some(key) => job.unique_key(key),
            None => job,
        }
    }

    #[test]
    fn a_batch_without_unique_keys_is_plain_and_an_empty_one_runs_nothing() {
        assert!(matches!(Plan::of(Vec::new()).unwrap(), Plan::Nothing));
        let Plan::Plain(columns) = Plan::of(vec![job(None), job(None)]).unwrap() else {
            panic!("expected a plain insert")
        };
        assert_eq!(columns.len(), 2);
        assert!(matches!(
            Plan::of(vec![job(None), job(Some("k"))]).unwrap(),
            Plan::Unique(..)
        ));
    }

    #[test]
    fn an_invalid_job_fails_the_plan() {
        let invalid = NewJob::new("", &1_i64).unwrap();
        assert!(matches!(
            Plan::of(vec![job(None), invalid]),
            Err(StoreError::InvalidJob(_))
        ));
    }

    #[test]
    fn run_at_becomes_a_time_or_a_delay_in_microseconds() {
        let at = chrono::Utc::now();
        let jobs = vec![
            job(None).run_at(at),
            job(None).run_after(Duration::from_millis(5)),
            job(None),
        ];
        let c = JobColumns::from(jobs);
        assert_eq!(c.run_at, vec![Some(at), None, None]);
        assert_eq!(c.delay_us, vec![None, Some(5_000), None]);
    }

    fn keys() -> UniqueKeys {
        UniqueKeys(3)
    }

    fn row(id: Option<i64>, inserted: bool, key: Option<&str>) -> EnqueueRow {
        (id, inserted, key.map(str::to_owned))
    }

    #[tokio::test]
    async fn unresolved_keys_are_looked_up_and_a_vanished_one_is_a_conflict() {
        let rows = vec![
            row(None, false, Some("a")),
            row(Some(2), true, None),
            row(None, false, Some("b")),
        ];
        let resolved = keys()
            .resolve(rows.clone(), |unresolved| async move {
                assert_eq!(unresolved, vec!["a".to_owned(), "b".to_owned()]);
                Ok(HashMap::from([("a".to_owned(), 7), ("b".to_owned(), 9)]))
            })
            .await
            .unwrap();
        let expected = vec![
            Enqueued::duplicate_of(JobId(7)),
            Enqueued::fresh(JobId(2)),
            Enqueued::duplicate_of(JobId(9)),
        ];
        assert_eq!(resolved, expected);
        let only_a = keys().resolve(rows, |_| async { Ok(HashMap::from([("a".to_owned(), 7)])) });
        assert!(matches!(only_a.await, Err(StoreError::Conflict { .. })));
    }

    #[tokio::test]
    async fn known_ids_need_no_lookup_and_a_job_without_key_or_id_is_an_error() {
        let ids = keys()
            .resolve(
                vec![
                    row(Some(1), true, Some("a")),
                    row(Some(2), true, None),
                    row(Some(1), false, Some("a")),
                ],
                |_| async { unreachable!("nothing to look up") },
            )
            .await
            .unwrap();
        let expected = vec![
            Enqueued::fresh(JobId(1)),
            Enqueued::fresh(JobId(2)),
            Enqueued::duplicate_of(JobId(1)),
        ];
        assert_eq!(ids, expected);
        let short = keys().resolve(vec![row(Some(1), true, None)], |_| async {
            unreachable!("rows are short")
        });
        assert!(matches!(short.await, Err(StoreError::Other { .. })));
        let missing = keys().resolve(
            vec![
                row(Some(1), true, None),
                row(None, false, None),
                row(Some(3), true, None),
            ],
            |_| async { unreachable!("no key to look up") },
        );
        assert!(matches!(missing.await, Err(StoreError::Other { .. })));
    }

    #[test]
    fn unique_options_become_periods_in_microseconds_and_state_literals() {
        let unique = backtick_core::Unique::by_args()
            .period(Duration::from_secs(2))
            .states([JobState::Running, JobState::Queued]);
        let c = JobColumns::from(vec![job(None).unique(unique), job(None)]);
        assert_eq!(c.unique_period_us, vec![Some(2_000_000), None]);
        assert_eq!(c.unique_states, vec![Some("{queued,running}".to_owned()), None]);
    }

    #[test]
    fn plain_ids_come_back_sorted_and_must_be_one_per_job() {
        let ids = ids_in_input_order(vec![JobId(3), JobId(1), JobId(2)], 3).unwrap();
        assert_eq!(ids, vec![JobId(1), JobId(2), JobId(3)]);
        assert!(matches!(
            ids_in_input_order(vec![JobId(1)], 2),
            Err(StoreError::Other { .. })
        ));
    }
}
