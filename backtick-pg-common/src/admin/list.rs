//! Listing and counting jobs, and the queue overview: the parameters of
//! [`crate::admin_sql::list_jobs_statement`]'s statements and of
//! [`crate::admin_sql::COUNT_JOBS`], and the results assembled from their rows.

use backtick_core::admin::{
    Count, CountQuery, GroupBy, GroupCount, JobCounts, JobPage, JobQuery, Order, PageRequest, QueueInfo,
    assemble_queues,
};
use backtick_core::{Job, JobId, JobState, StoreError, Timestamp};

use crate::admin_sql::{contains_pattern, list_jobs_statement};
use crate::decode::corrupt;

/// The statement and parameters of one listing page (`$1..$14`, see `admin_sql`'s
/// `list_jobs!`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// The statement for the query's states and the page's order.
    pub statement: &'static str,
    /// `$1` state names, `None` for every state.
    pub states: Option<Vec<&'static str>>,
    /// `$2` ids, `None` unless the query names ids.
    pub ids: Option<Vec<i64>>,
    /// `$3` the cursor's id (exclusive), or the bound that admits every id.
    pub after: i64,
    /// `$4` the highest id.
    pub up_to: i64,
    /// `$5` how many jobs the page examines.
    pub scan_limit: i64,
    /// `$6` queue.
    pub queue: Option<String>,
    /// `$7` worker.
    pub worker: Option<String>,
    /// `$8` runner holding the job.
    pub runner: Option<String>,
    /// `$9` `ILIKE` pattern of the error text.
    pub error_pattern: Option<String>,
    /// `$10` created from.
    pub created_from: Option<Timestamp>,
    /// `$11` created until (exclusive).
    pub created_until: Option<Timestamp>,
    /// `$12` finished from.
    pub finished_from: Option<Timestamp>,
    /// `$13` finished until (exclusive).
    pub finished_until: Option<Timestamp>,
    /// `$14` page size: the scan limit when the arguments are filtered in Rust.
    pub limit: i64,
}

impl ListParams {
    /// The parameters of `page` of `query`.
    pub fn new(query: &JobQuery, page: &PageRequest) -> Self {
        let states: Vec<&'static str> = query.states.iter().map(|s| s.as_str()).collect();
        let newest_first = page.order == Order::NewestFirst;
        let unbounded = if newest_first { i64::MAX } else { 0 };
        ListParams {
            statement: list_jobs_statement(&states, !query.ids.is_empty(), newest_first),
            states: (!states.is_empty()).then_some(states),
            ids: (!query.ids.is_empty()).then(|| query.ids.iter().map(|id| id.0).collect()),
            after: page.after_id().map_or(unbounded, |id| id.0),
            up_to: query.up_to_id.map_or(i64::MAX, |id| id.0),
            scan_limit: i64::from(page.scan_limit),
            queue: query.queue.clone(),
            worker: query.worker.clone(),
            runner: query.runner.as_ref().map(|r| r.as_str().to_owned()),
            error_pattern: query.error_contains.as_deref().map(contains_pattern),
            created_from: query.created.from,
            created_until: query.created.until,
            finished_from: query.finished.from,
            finished_until: query.finished.until,
            limit: i64::from(if query.args_contain.is_some() {
                page.scan_limit
            } else {
                page.limit
            }),
        }
    }
}

/// The page from the jobs of the listing's `ids` (read with `GET_JOBS`, in page order) and
/// its `scanned` / `last_scanned` columns: the arguments filter applied, cut to the page size,
/// with the cursor to continue.
pub fn finish_page(
    query: &JobQuery,
    page: &PageRequest,
    jobs: Vec<Job>,
    scanned: i64,
    last_scanned: Option<i64>,
) -> JobPage {
    let mut jobs: Vec<Job> = jobs.into_iter().filter(|job| query.matches_args(job)).collect();
    jobs.truncate(page.limit as usize);
    let next = page.next_cursor(
        jobs.last().map(|job| job.id),
        jobs.len(),
        u64::try_from(scanned).unwrap_or(0),
        last_scanned.map(JobId),
    );
    JobPage { jobs, next }
}

/// The parameters of [`crate::admin_sql::COUNT_JOBS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountParams {
    /// `$1` the cap per state.
    pub cap: i64,
    /// `$2` the grouping: `state`, `queue` or `worker`.
    pub group_by: &'static str,
    /// `$3` state names, `None` for every state.
    pub states: Option<Vec<&'static str>>,
}

impl CountParams {
    /// The parameters of `query`.
    pub fn new(query: &CountQuery) -> Self {
        CountParams {
            cap: i64::try_from(query.cap).unwrap_or(i64::MAX - 1),
            group_by: match query.group_by {
                GroupBy::State => "state",
                GroupBy::Queue => "queue",
                GroupBy::Worker => "worker",
            },
            states: (!query.states.is_empty()).then(|| query.states.iter().map(|s| s.as_str()).collect()),
        }
    }

    /// The counts from the statement's rows: `key`, `state`, `n`, `capped`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a state name that is not a state.
    pub fn counts(rows: impl IntoIterator<Item = (String, String, i64, bool)>) -> Result<JobCounts, StoreError> {
        let groups = rows
            .into_iter()
            .map(|(key, state, n, capped)| {
                Ok(GroupCount {
                    key,
                    state: state.parse::<JobState>().map_err(|e| corrupt(None, e.to_string()))?,
                    count: Count {
                        value: u64::try_from(n).unwrap_or(0),
                        capped,
                    },
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(JobCounts { groups })
    }
}

/// The queues from per-queue `counts`, the rows of `OLDEST_DUE` (`queue`, `oldest`, `now`)
/// and of `QUEUE_ROWS` (`name`, `paused_at`); `now` is the database clock when
/// `OLDEST_DUE` returned no row (then no age is computed and any time does).
pub fn queue_infos(
    counts: &JobCounts,
    oldest_due: Vec<(String, Timestamp, Timestamp)>,
    rows: &[(String, Option<Timestamp>)],
    now: Option<Timestamp>,
) -> Vec<QueueInfo> {
    let now = oldest_due
        .first()
        .map(|(_, _, now)| *now)
        .or(now)
        .unwrap_or_else(chrono::Utc::now);
    let oldest: Vec<(String, Timestamp)> = oldest_due.into_iter().map(|(q, at, _)| (q, at)).collect();
    assemble_queues(counts, &oldest, rows, now)
}
