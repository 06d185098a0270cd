//! Listing and counting jobs, and the queue overview: the parameters of
//! [`crate::admin_sql::list_jobs_statement`]'s statements and of
//! [`crate::admin_sql::COUNT_JOBS`], and the results assembled from their rows.

use std::future::Future;

use backtick_core::admin::{
    Count, CountQuery, GroupBy, GroupCount, JobCounts, JobCursor, JobPage, JobQuery, Order, PageRequest, QueueInfo,
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

/// What one listing statement found: the jobs of its `ids` (read with `GET_JOBS`, in page
/// order), and its `scanned` and `last_scanned` columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned {
    /// The jobs, in the page's order.
    pub jobs: Vec<Job>,
    /// How many jobs the statement examined.
    pub scanned: i64,
    /// The last job it examined, if any.
    pub last_scanned: Option<i64>,
}

/// Jobs examined by the first statement of a listing filtered by arguments: later ones
/// examine twice as many as the one before, up to [`ARGS_CHUNK_MAX`].
pub const ARGS_CHUNK_FIRST: u32 = 200;

/// The most jobs one statement of a listing filtered by arguments examines.
pub const ARGS_CHUNK_MAX: u32 = 2_000;

/// One page of `query`, each statement run by `scan` (the backend binds and runs
/// [`ListParams::statement`], then reads the jobs of its ids).
///
/// Without an arguments filter that is one statement. With one, the arguments can only be
/// tested once decoded, so every job the page examines is read in full: rather than read the
/// page's whole scan limit (10,000 jobs) at once, the page examines them in chunks
/// ([`ARGS_CHUNK_FIRST`], doubling up to [`ARGS_CHUNK_MAX`]) and stops as soon as it is full.
/// Either way no page examines more than `page.scan_limit` jobs, and a page cut short by that
/// limit carries a cursor to continue.
///
/// # Errors
/// Whatever `scan` returns.
pub async fn list_page<F, Fut>(query: &JobQuery, page: &PageRequest, mut scan: F) -> Result<JobPage, StoreError>
where
    F: FnMut(ListParams) -> Fut,
    Fut: Future<Output = Result<Scanned, StoreError>>,
{
    if query.args_contain.is_none() {
        let found = scan(ListParams::new(query, page)).await?;
        return Ok(finish_page(query, page, found.jobs, found.scanned, found.last_scanned));
    }
    let mut jobs = Vec::new();
    let (mut scanned, mut last_scanned) = (0_u32, None);
    let mut request = *page;
    let mut chunk = ARGS_CHUNK_FIRST.max(page.limit);
    loop {
        request.scan_limit = chunk.min(page.scan_limit - scanned);
        let found = scan(ListParams::new(query, &request)).await?;
        let examined = u32::try_from(found.scanned).unwrap_or(0).min(request.scan_limit);
        scanned += examined;
        last_scanned = found.last_scanned.or(last_scanned);
        jobs.extend(found.jobs.into_iter().filter(|job| query.matches_args(job)));
        let exhausted = examined < request.scan_limit;
        if jobs.len() >= page.limit as usize || exhausted || scanned >= page.scan_limit {
            break;
        }
        request.cursor = last_scanned.map(|id| JobCursor::after(JobId(id), page.order));
        chunk = chunk.saturating_mul(2).min(ARGS_CHUNK_MAX);
    }
    jobs.truncate(page.limit as usize);
    let next = page.next_cursor(
        jobs.last().map(|job| job.id),
        jobs.len(),
        u64::from(scanned),
        last_scanned.map(JobId),
    );
    Ok(JobPage { jobs, next })
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use backtick_core::Codec;

    use super::*;

    /// A job of `id` whose arguments are `{"id": id, "hit": true}` when `hit`.
    fn job(id: i64, hit: bool) -> Job {
        let now = chrono::Utc::now();
        Job {
            id: JobId(id),
            worker: "w".into(),
            queue: "q".into(),
            args: serde_json::to_vec(&serde_json::json!({"id": id, "hit": hit})).expect("json"),
            codec: Codec::Json,
            priority: 0,
            state: JobState::Done,
            attempt: 1,
            max_attempts: 3,
            run_at: now,
            lease_owner: None,
            lease_expires_at: None,
            last_error: None,
            unique_key: None,
            trace_context: None,
            created_at: now,
            updated_at: now,
            finished_at: Some(now),
        }
    }

    /// `list_page` over jobs `1..=n` (no SQL filter), newest first, whose arguments match when
    /// `hit(id)`: the page and the scan limit of each statement it ran.
    async fn listed(n: i64, hit: fn(i64) -> bool, page: PageRequest) -> (JobPage, Vec<i64>) {
        let statements = RefCell::new(Vec::new());
        let query = JobQuery::default().args_contain(serde_json::json!({"hit": true}));
        let found = list_page(&query, &page, |p: ListParams| {
            statements.borrow_mut().push(p.scan_limit);
            let examined: Vec<i64> = (1..=n.min(p.after - 1)).rev().take(p.scan_limit as usize).collect();
            async move {
                Ok(Scanned {
                    jobs: examined.iter().map(|&id| job(id, hit(id))).collect(),
                    scanned: examined.len() as i64,
                    last_scanned: examined.last().copied(),
                })
            }
        })
        .await
        .expect("no error");
        (found, statements.into_inner())
    }

    #[tokio::test]
    async fn an_args_filter_examines_growing_chunks_and_stops_when_the_page_is_full() {
        let (page, statements) = listed(5_000, |id| id % 100 == 0, PageRequest::first(10)).await;
        let ids: Vec<i64> = page.jobs.iter().map(|job| job.id.0).collect();
        assert_eq!(ids, (41..=50).rev().map(|i| i * 100).collect::<Vec<_>>());
        assert_eq!(
            page.next.map(|c| c.last_seen()),
            Some(JobId(4_100)),
            "after its last job"
        );
        assert_eq!(statements, vec![200, 400, 800], "stopped once 10 matched");
    }

    #[tokio::test]
    async fn an_args_filter_examines_at_most_the_scan_limit_and_continues_after_it() {
        let page = PageRequest::first(10).scan_limit(5_000);
        let (found, statements) = listed(20_000, |_| false, page).await;
        assert!(found.jobs.is_empty());
        assert_eq!(statements.iter().sum::<i64>(), 5_000);
        assert!(statements.iter().all(|&n| n <= i64::from(ARGS_CHUNK_MAX)));
        assert_eq!(
            found.next.map(|c| c.last_seen()),
            Some(JobId(15_001)),
            "after the last examined job"
        );
    }

    #[tokio::test]
    async fn an_args_filter_that_runs_out_of_jobs_ends_the_listing() {
        let (found, _) = listed(300, |id| id == 7, PageRequest::first(10)).await;
        assert_eq!(found.jobs.iter().map(|job| job.id.0).collect::<Vec<_>>(), vec![7]);
        assert_eq!(found.next, None);
    }
}
