//! The statements of the admin contract (`backtick_core::admin::QueueAdmin`, and the
//! runner-side `QueueStore` methods that came with it) against `migrations/0003_admin.up.sql`
//! and the read functions of `migrations/0005_admin_reads.up.sql` ([`COUNT_JOBS`] and the
//! listing pages call them), one copy for both Postgres backends, like [`crate::sql`].
//!
//! The queue's own writes that the admin schema changed live here too, as their only copy:
//! [`FINISH`] and [`REVIVE`] (attempt history, cancellation requests, `attempted_by`),
//! [`CANCEL`] and [`RETRY`] (the same bookkeeping), and [`ADVANCE_SCHEDULE`] (paused
//! schedules, last fire). The pause-aware claim is the
//! function `backtick_claim` of `migrations/0004_claim.up.sql`, called by [`crate::sql::CLAIM`]. `HEARTBEAT` is unchanged: a
//! runner learns of cancellation requests through [`CANCEL_REQUESTS`].
//!
//! Times come from `coalesce($now, now())`; state literals stay literals where a partial index
//! must match (see [`crate::sql`]); fenced writes find their jobs by id with `running!()`.

use std::time::Duration;

use backtick_core::admin::ScheduleAction;

/// The channel on which a cancellation request is announced; the payload is the job id.
/// Runners `LISTEN` on it beside `backtick_jobs`.
pub const CANCEL_CHANNEL: &str = "backtick_cancel";

/// The admin columns of a job row, after `job_columns!()` in [`JOB_DETAIL`].
macro_rules! detail_columns {
    () => {
        "attempted_at, attempted_by, attempts::text AS attempts, cancel_requested_at, cancel_reason"
    };
}

/// The history array of `$j` with its oldest record dropped when it holds 25 (the core's
/// `ATTEMPT_HISTORY_LIMIT`), ready for one more.
macro_rules! trimmed_history {
    ($j:literal) => {
        concat!(
            "(CASE WHEN jsonb_array_length(coalesce(",
            $j,
            "attempts, '[]'::jsonb)) >= 25 THEN coalesce(",
            $j,
            "attempts, '[]'::jsonb) - 0 ELSE coalesce(",
            $j,
            "attempts, '[]'::jsonb) END)"
        )
    };
}

/// True when a fenced write to `queued` meets a pending cancellation request: the job ends
/// `cancelled` instead.
macro_rules! cancel_wins {
    () => {
        "(i.target = 'queued' AND j.cancel_requested_at IS NOT NULL)"
    };
}

/// The state a fenced write leaves the job in.
macro_rules! target {
    () => {
        concat!("(CASE WHEN ", cancel_wins!(), " THEN 'cancelled' ELSE i.target END)")
    };
}

/// The fenced write shared by [`FINISH`] and [`REVIVE`]. `$1` now, `$2..$9` one array per
/// finish: id, attempt, owner, target state, run_at (or NULL), delay in microseconds (when
/// run_at is NULL), error (NULL keeps the old one), refund. For a job named twice, the first
/// finish whose token is live is the one applied: a job has at most one live token, so keeping
/// the first finish of each token and letting the fence pick the live one is the same thing.
/// Jobs are updated in id order, as the heartbeat does. Each array is read through a scalar
/// subquery, so that the planner never sees its length: it plans for a few input rows and finds
/// each job by primary key whatever the table's statistics. Planned with the arrays' real length
/// (a custom plan, as diesel's statements and sqlx's first five executions get), a
/// never-analyzed table got a sequential scan and a hash join instead (measured in `psql`:
/// 3.7 ms against 1.4 ms for 200 finishes on a table of 20,000 jobs). Returns the input positions (1-based)
/// that took effect. `$outcome` is the history outcome of a requeued attempt, `$extra` an
/// extra guard on `j` and `c`.
macro_rules! fenced_update {
    ($outcome:literal, $extra:literal) => {
        concat!(
            "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now),
input AS (
    SELECT *
    FROM unnest((SELECT $2::int8[]), (SELECT $3::int4[]), (SELECT $4::text[]), (SELECT $5::text[]),
                (SELECT $6::timestamptz[]), (SELECT $7::int8[]), (SELECT $8::text[]), (SELECT $9::bool[]))
        WITH ORDINALITY AS t(job_id, token_attempt, token_owner, target, target_run_at, delay_us,
                             error, refund, ord)
),
chosen AS (
    SELECT DISTINCT ON (job_id, token_attempt, token_owner) *
    FROM input
    ORDER BY job_id, token_attempt, token_owner, ord
)
UPDATE backtick_jobs j
SET state = ",
            target!(),
            ",
    run_at = CASE WHEN ",
            target!(),
            " = 'queued'
                  THEN coalesce(i.target_run_at, c.now + i.delay_us * interval '1 microsecond')
                  ELSE j.run_at END,
    last_error = CASE WHEN ",
            cancel_wins!(),
            " THEN j.cancel_reason ELSE coalesce(i.error, j.last_error) END,
    max_attempts = j.max_attempts + CASE WHEN i.refund AND NOT ",
            cancel_wins!(),
            " THEN 1 ELSE 0 END,
    attempts = CASE WHEN ",
            target!(),
            " = 'queued'
                    THEN ",
            trimmed_history!("j."),
            " || jsonb_build_array(jsonb_build_object(
                             'attempt', j.attempt, 'runner', j.lease_owner,
                             'started_at', j.attempted_at, 'finished_at', c.now,
                             'outcome', ",
            $outcome,
            ", 'error', left(i.error, 2048)))
                    ELSE j.attempts END,
    attempted_by = j.lease_owner,
    lease_owner = NULL,
    lease_expires_at = NULL,
    cancel_requested_at = NULL,
    cancel_reason = NULL,
    finished_at = CASE WHEN ",
            target!(),
            " = 'queued' THEN NULL ELSE c.now END,
    updated_at = c.now
FROM chosen i CROSS JOIN clock c
WHERE j.id = i.job_id AND j.state = ",
            running!(),
            " AND j.attempt = i.token_attempt AND j.lease_owner = i.token_owner",
            $extra,
            "
RETURNING i.ord"
        )
    };
}

/// A runner's fenced finishes (see `fenced_update!` for the parameters and result).
///
/// Beside the transition: a finish that requeues the job appends the ended attempt to its
/// history (outcome `snoozed` when refunded, else `failed`; error cut to 2,048 characters),
/// unless a cancellation request is pending, which turns the requeue into `cancelled` with the
/// request's reason; every finish copies the lease owner to `attempted_by` and clears the
/// request. A finish to done, dead or cancelled appends nothing: the row itself describes the
/// final attempt, so the common case (done at the first attempt) costs one extra column copy.
pub const FINISH: &str = fenced_update!("CASE WHEN i.refund THEN 'snoozed' ELSE 'failed' END", "");

/// The reviver's fenced requeue, with [`FINISH`]'s parameters and result and its
/// bookkeeping: history outcome `lease_expired`, and only while the lease is still expired.
pub const REVIVE: &str = fenced_update!("'lease_expired'", " AND j.lease_expires_at <= c.now");

/// The immediate cancel of `QueueStore::cancel` (of a pending, queued or running job): `$1` id, `$2` reason, `$3` now. Also keeps the runner of a running job's attempt
/// in `attempted_by` and clears a pending cancellation request.
pub const CANCEL: &str = "
UPDATE backtick_jobs
SET state = 'cancelled',
    last_error = $2,
    finished_at = coalesce($3::timestamptz, now()),
    updated_at = coalesce($3::timestamptz, now()),
    attempted_by = CASE WHEN state = 'running' THEN lease_owner ELSE attempted_by END,
    lease_owner = NULL,
    lease_expires_at = NULL,
    cancel_requested_at = NULL,
    cancel_reason = NULL
WHERE id = $1 AND state IN ('pending', 'queued', 'running')";

/// The `SET` list of an operator retry at time `$now`: due now, one more attempt if all were
/// used, and the final attempt appended to the history unless it is there already (a job
/// cancelled while queued).
macro_rules! retry_set {
    ($now:literal) => {
        concat!(
            "
SET state = 'queued',
    run_at = ",
            $now,
            ",
    finished_at = NULL,
    max_attempts = greatest(max_attempts, attempt + 1),
    attempts = CASE WHEN attempt > coalesce((attempts -> -1 ->> 'attempt')::int4, 0)
                    THEN ",
            trimmed_history!(""),
            " || jsonb_build_array(jsonb_build_object(
                             'attempt', attempt, 'runner', attempted_by,
                             'started_at', attempted_at, 'finished_at', finished_at,
                             'outcome', CASE WHEN state = 'dead' THEN 'dead' ELSE 'cancelled' END,
                             'error', left(last_error, 2048)))
                    ELSE attempts END,
    updated_at = ",
            $now
        )
    };
}

/// `QueueStore::retry` of a dead or cancelled job: `$1` id, `$2` now. Keeps the history whole
/// (see `retry_set!`).
pub const RETRY: &str = concat!(
    "UPDATE backtick_jobs",
    retry_set!("coalesce($2::timestamptz, now())"),
    "
WHERE id = $1 AND state IN ('dead', 'cancelled')"
);

/// `$1` name, `$2` the fire time being consumed, `$3` the next one (or NULL), `$4` now, `$5`
/// whether the fire carries a job. The compare-and-set that makes each fire time enqueue
/// exactly once (the row lock makes a concurrent runner wait, then find `next_run_at` moved); returns one row, `enqueue`, when it advanced: false for a paused schedule,
/// whose fire then enqueues nothing. Records `last_fired_at` (= `$2`) when it enqueues.
pub const ADVANCE_SCHEDULE: &str = "
UPDATE backtick_schedules
SET next_run_at = $3,
    last_fired_at = CASE WHEN $5::bool AND paused_at IS NULL THEN $2 ELSE last_fired_at END,
    updated_at = coalesce($4::timestamptz, now())
WHERE name = $1 AND next_run_at = $2
RETURNING paused_at IS NULL AS enqueue";

// ---------------------------------------------------------------------------------------
// Jobs: listing, detail, counts.

/// A listing page: a call of the function `backtick_list_jobs`
/// (`migrations/0005_admin_reads.up.sql`) for one state group and order. The function plans
/// the group's statement for the actual values, with the group's state literal visible (so its
/// partial index applies), walks an id-ordered index where the group has one (whatever the
/// table's statistics), and stops examining jobs once the page is full.
///
/// `$1` states (text[], NULL for any), `$2` ids (int8[], only in the by-ids form), `$3` the
/// cursor's id (exclusive; `i64::MAX` newest-first or 0 oldest-first for the first page:
/// never NULL, so that it is an index bound), `$4` the highest id (`up_to_id`, else
/// `i64::MAX`), `$5` scan limit, `$6` queue, `$7` worker, `$8` runner, `$9` an `ILIKE` pattern
/// for `last_error` ([`contains_pattern`]), `$10`/`$11` created from/until, `$12`/`$13`
/// finished from/until (each NULL for no bound), `$14` page limit.
///
/// Returns one row: `ids` (int8[], the page in order), `scanned` (int8, jobs examined: up to
/// the page's last job when the page is full, else up to the scan limit), `last_scanned`
/// (int8, the last examined id, NULL when none). Read the jobs with [`GET_JOBS`]. The backend
/// then ends the page with `backtick_core::admin::PageRequest::next_cursor`. With an
/// `args_contain` filter, which SQL cannot evaluate on CBOR, pass the scan limit as page
/// limit, filter the rows with `JobQuery::matches_args` and keep the first `limit`.
macro_rules! list_jobs {
    ($group:literal, $newest_first:literal) => {
        concat!(
            "SELECT ids, scanned, last_scanned FROM backtick_list_jobs('",
            $group,
            "', ",
            $newest_first,
            ", $1::text[], $2::int8[], $3::int8, $4::int8, $5::int8, $6::text, $7::text, $8::text, $9::text,
       $10::timestamptz, $11::timestamptz, $12::timestamptz, $13::timestamptz, $14::int8)"
        )
    };
}

/// Jobs in `queued` only (through `backtick_jobs_claim_idx`, sorted), newest first. See
/// `list_jobs!`.
pub const LIST_QUEUED_NEWEST: &str = list_jobs!("queued", "true");
/// Jobs in `queued` only, oldest first. See `list_jobs!`.
pub const LIST_QUEUED_OLDEST: &str = list_jobs!("queued", "false");
/// Jobs in `running` only (through `backtick_jobs_lease_idx`, sorted), newest first.
pub const LIST_RUNNING_NEWEST: &str = list_jobs!("running", "true");
/// Jobs in `running` only, oldest first.
pub const LIST_RUNNING_OLDEST: &str = list_jobs!("running", "false");
/// Jobs in `dead` only (walking `backtick_jobs_dead_idx`), newest first.
pub const LIST_DEAD_NEWEST: &str = list_jobs!("dead", "true");
/// Jobs in `dead` only, oldest first.
pub const LIST_DEAD_OLDEST: &str = list_jobs!("dead", "false");
/// Jobs in `cancelled` only (walking `backtick_jobs_cancelled_idx`), newest first.
pub const LIST_CANCELLED_NEWEST: &str = list_jobs!("cancelled", "true");
/// Jobs in `cancelled` only, oldest first.
pub const LIST_CANCELLED_OLDEST: &str = list_jobs!("cancelled", "false");
/// Jobs in `dead` or `cancelled` (through both their indexes, sorted), newest first.
pub const LIST_FAILED_NEWEST: &str = list_jobs!("failed", "true");
/// Jobs in `dead` or `cancelled`, oldest first.
pub const LIST_FAILED_OLDEST: &str = list_jobs!("failed", "false");
/// Jobs in any states (walking the primary key), newest first.
pub const LIST_ANY_NEWEST: &str = list_jobs!("any", "true");
/// Jobs in any states, oldest first.
pub const LIST_ANY_OLDEST: &str = list_jobs!("any", "false");
/// Jobs with one of the ids `$2` (primary key lookups), newest first.
pub const LIST_IDS_NEWEST: &str = list_jobs!("ids", "true");
/// Jobs with one of the ids `$2`, oldest first.
pub const LIST_IDS_OLDEST: &str = list_jobs!("ids", "false");

/// The listing statement for a query with these `states` (their names; empty for every
/// state), `by_ids` (the query names ids) and order.
///
/// # Examples
/// ```
/// use backtick_pg_common::admin_sql;
/// assert_eq!(admin_sql::list_jobs_statement(&["dead"], false, true), admin_sql::LIST_DEAD_NEWEST);
/// assert_eq!(admin_sql::list_jobs_statement(&["cancelled", "dead"], false, false), admin_sql::LIST_FAILED_OLDEST);
/// assert_eq!(admin_sql::list_jobs_statement(&["done", "dead"], false, true), admin_sql::LIST_ANY_NEWEST);
/// assert_eq!(admin_sql::list_jobs_statement(&["queued"], true, false), admin_sql::LIST_IDS_OLDEST);
/// ```
pub fn list_jobs_statement(states: &[&str], by_ids: bool, newest_first: bool) -> &'static str {
    let within = |group: &[&str]| !states.is_empty() && states.iter().all(|s| group.contains(s));
    let (newest, oldest) = if by_ids {
        (LIST_IDS_NEWEST, LIST_IDS_OLDEST)
    } else if within(&["queued"]) {
        (LIST_QUEUED_NEWEST, LIST_QUEUED_OLDEST)
    } else if within(&["running"]) {
        (LIST_RUNNING_NEWEST, LIST_RUNNING_OLDEST)
    } else if within(&["dead"]) {
        (LIST_DEAD_NEWEST, LIST_DEAD_OLDEST)
    } else if within(&["cancelled"]) {
        (LIST_CANCELLED_NEWEST, LIST_CANCELLED_OLDEST)
    } else if within(&["dead", "cancelled"]) {
        (LIST_FAILED_NEWEST, LIST_FAILED_OLDEST)
    } else {
        (LIST_ANY_NEWEST, LIST_ANY_OLDEST)
    };
    if newest_first { newest } else { oldest }
}

/// An `ILIKE` pattern matching text that contains `needle` (its `%`, `_` and `\` escaped).
///
/// # Examples
/// ```
/// assert_eq!(backtick_pg_common::admin_sql::contains_pattern("50%_off"), r"%50\%\_off%");
/// ```
pub fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `$1` ids: those jobs, in the order of `$1`.
pub const GET_JOBS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM backtick_jobs WHERE id = ANY($1::int8[]) ORDER BY array_position($1::int8[], id)"
);

/// `$1` id: the job, then its admin columns (`attempted_at`, `attempted_by`, `attempts` as the
/// text of its jsonb or NULL, `cancel_requested_at`, `cancel_reason`) for `JobDetail::assemble`.
pub const JOB_DETAIL: &str = concat!(
    "SELECT ",
    job_columns!(),
    ", ",
    detail_columns!(),
    " FROM backtick_jobs WHERE id = $1"
);

/// `$1` cap (int8), `$2` group by: `'state'`, `'queue'` or `'worker'`, `$3` states (text[],
/// NULL for all). Rows: `key`, `state`, `n` (int8), `capped` (bool), sorted by key and state.
///
/// A call of the function `backtick_count_jobs` (`migrations/0005_admin_reads.up.sql`). The
/// cap as `CountQuery` documents it: each state's sample reads at most `cap + 1` rows through
/// that state's index (`queued`: the claim index, `running`: the lease index, `dead` and
/// `cancelled`: their own indexes, `done`: the prune index or the table, where nearly every
/// row is done), and counts the first `cap`; a state whose sample overflowed has all its
/// groups marked capped. The function plans without bitmap scans, which on a table never
/// analyzed would read each state's whole index before the limit applies.
pub const COUNT_JOBS: &str = "SELECT key, state, n, capped FROM backtick_count_jobs($1::int8, $2::text, $3::text[])";

// ---------------------------------------------------------------------------------------
// Actions on jobs, by id. Each re-checks the state as it writes, and returns the ids touched.

/// `$1` ids, `$2` now. The operator retry of [`RETRY`] for many jobs; wakes their queues.
pub const RETRY_JOBS: &str = concat!(
    "
WITH retried AS (
    UPDATE backtick_jobs",
    retry_set!("coalesce($2::timestamptz, now())"),
    "
    WHERE id = ANY($1::int8[]) AND state IN ('dead', 'cancelled')
    RETURNING id, queue
)
SELECT r.id FROM retried r, LATERAL (SELECT pg_notify('backtick_jobs', r.queue)) AS wake"
);

/// `$1` ids, `$2` reason, `$3` now. Pending and queued jobs are cancelled at once; running jobs without a
/// pending request get one (`cancel_requested_at`, `cancel_reason`), announced on
/// [`CANCEL_CHANNEL`]. Rows: `id`, `requested` (false: cancelled, true: request stored).
pub const CANCEL_JOBS: &str = "
WITH clock AS (SELECT coalesce($3::timestamptz, now()) AS now),
cancelled AS (
    UPDATE backtick_jobs
    SET state = 'cancelled', last_error = $2, finished_at = clock.now, updated_at = clock.now
    FROM clock
    WHERE id = ANY($1::int8[]) AND state IN ('pending', 'queued')
    RETURNING id
),
requested AS (
    UPDATE backtick_jobs
    SET cancel_requested_at = clock.now, cancel_reason = $2, updated_at = clock.now
    FROM clock
    WHERE id = ANY($1::int8[]) AND state = 'running' AND cancel_requested_at IS NULL
    RETURNING id
)
SELECT id, false AS requested FROM cancelled
UNION ALL
SELECT r.id, true FROM requested r, LATERAL (SELECT pg_notify('backtick_cancel', r.id::text)) AS announce";

/// `$1` ids. Deletes the jobs that are not running.
pub const DELETE_JOBS: &str = "
DELETE FROM backtick_jobs
WHERE id = ANY($1::int8[]) AND state IN ('pending', 'queued', 'done', 'dead', 'cancelled')
RETURNING id";

/// `$1` ids, `$2` now. Makes queued jobs due later due now; wakes their queues.
pub const RUN_JOBS_NOW: &str = "
WITH clock AS (SELECT coalesce($2::timestamptz, now()) AS now),
due AS (
    UPDATE backtick_jobs
    SET run_at = clock.now, updated_at = clock.now
    FROM clock
    WHERE id = ANY($1::int8[]) AND state = 'queued' AND run_at > clock.now
    RETURNING id, queue
)
SELECT d.id FROM due d, LATERAL (SELECT pg_notify('backtick_jobs', d.queue)) AS wake";

/// `$1` ids. The pending cancellation requests among them: rows `id`, `cancel_reason`,
/// `cancel_requested_at`. By primary key (see `running!`).
pub const CANCEL_REQUESTS: &str = concat!(
    "
SELECT id, cancel_reason, cancel_requested_at FROM backtick_jobs
WHERE id = ANY($1::int8[]) AND state = ",
    running!(),
    " AND cancel_requested_at IS NOT NULL"
);

// ---------------------------------------------------------------------------------------
// Queues.

/// `$1` now. Per queue, the oldest due job's `run_at` and the clock: rows `queue`, `oldest`,
/// `now`. Through `backtick_jobs_claim_idx`. `list_queues` merges it with [`COUNT_JOBS`]
/// (grouped by queue) and [`QUEUE_ROWS`] (`backtick_core::admin::assemble_queues`).
pub const OLDEST_DUE: &str = "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
SELECT queue, min(run_at) AS oldest, (SELECT now FROM clock) AS now
FROM backtick_jobs
WHERE state = 'queued' AND run_at <= (SELECT now FROM clock)
GROUP BY queue";

/// The `backtick_queues` rows: `name`, `paused_at`.
pub const QUEUE_ROWS: &str = "SELECT name, paused_at FROM backtick_queues ORDER BY name";

/// `$1` queue, `$2` now: whether the queue is known (`known`, bool): it has a queued, running,
/// dead or cancelled job, a live runner names it, or it has a `backtick_queues` row. Each
/// test goes through a small index (claim, lease, dead, cancelled) or table; done jobs are not looked
/// at, so an unknown name never costs a scan of the table.
pub const QUEUE_KNOWN: &str = "
SELECT EXISTS (SELECT 1 FROM backtick_queues WHERE name = $1)
    OR EXISTS (SELECT 1 FROM backtick_runners
               WHERE expires_at > coalesce($2::timestamptz, now()) AND $1 = ANY(queues))
    OR EXISTS (SELECT 1 FROM backtick_jobs WHERE state = 'queued' AND queue = $1)
    OR EXISTS (SELECT 1 FROM backtick_jobs WHERE state = 'running' AND queue = $1)
    OR EXISTS (SELECT 1 FROM backtick_jobs WHERE state = 'dead' AND queue = $1)
    OR EXISTS (SELECT 1 FROM backtick_jobs WHERE state = 'cancelled' AND queue = $1)
    AS known";

/// `$1` queue, `$2` now. Pauses it; returns a row only when it was not paused already. Run
/// after [`QUEUE_KNOWN`].
pub const PAUSE_QUEUE: &str = "
INSERT INTO backtick_queues AS q (name, paused_at, updated_at)
VALUES ($1, coalesce($2::timestamptz, now()), coalesce($2::timestamptz, now()))
ON CONFLICT (name) DO UPDATE SET paused_at = excluded.paused_at, updated_at = excluded.updated_at
    WHERE q.paused_at IS NULL
RETURNING name";

/// `$1` queue, `$2` now. Resumes it and wakes its runners; returns a row only when it was
/// paused (else check [`QUEUE_KNOWN`]).
pub const RESUME_QUEUE: &str = "
WITH resumed AS (
    UPDATE backtick_queues SET paused_at = NULL, updated_at = coalesce($2::timestamptz, now())
    WHERE name = $1 AND paused_at IS NOT NULL
    RETURNING name
)
SELECT r.name FROM resumed r, LATERAL (SELECT pg_notify('backtick_jobs', r.name)) AS wake";

// ---------------------------------------------------------------------------------------
// Schedules.

/// `$1` now. Rows: `name`, `worker`, `spec`, `next_run_at`, `last_fired_at`, `paused_at`,
/// `run_requested_at`, `declared_by` (text[], the live runners declaring it), by name.
pub const LIST_SCHEDULES: &str = "
SELECT s.name, s.worker, s.spec, s.next_run_at, s.last_fired_at, s.paused_at, s.run_requested_at,
       coalesce(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'::text[]) AS declared_by
FROM backtick_schedules s
LEFT JOIN backtick_runners r
       ON r.expires_at > coalesce($1::timestamptz, now()) AND s.name = ANY(r.schedules)
GROUP BY s.name
ORDER BY s.name";

/// `$1` name, `$2` now: `exists` (bool) and `declared_by` (text[], live runners declaring it),
/// to tell an unknown schedule from one in use when a write returned no row.
pub const SCHEDULE_STATUS: &str = "
SELECT EXISTS (SELECT 1 FROM backtick_schedules WHERE name = $1) AS exists,
       ARRAY(SELECT id FROM backtick_runners
             WHERE expires_at > coalesce($2::timestamptz, now()) AND $1 = ANY(schedules)
             ORDER BY id) AS declared_by";

/// `$1` name, `$2` now. Returns a row only when it was not paused already.
pub const PAUSE_SCHEDULE: &str = "
UPDATE backtick_schedules SET paused_at = coalesce($2::timestamptz, now()), updated_at = coalesce($2::timestamptz, now())
WHERE name = $1 AND paused_at IS NULL
RETURNING name";

/// `$1` name, `$2` now. Returns a row only when it was paused.
pub const RESUME_SCHEDULE: &str = "
UPDATE backtick_schedules SET paused_at = NULL, updated_at = coalesce($2::timestamptz, now())
WHERE name = $1 AND paused_at IS NOT NULL
RETURNING name";

/// `$1` name, `$2` now. Stores a run-now request; returns a row only when none was pending.
pub const REQUEST_SCHEDULE_RUN: &str = "
UPDATE backtick_schedules SET run_requested_at = coalesce($2::timestamptz, now()), updated_at = coalesce($2::timestamptz, now())
WHERE name = $1 AND run_requested_at IS NULL
RETURNING name";

/// `$1` name, `$2` now. Deletes the schedule if no live runner declares it; returns a row only
/// then (else [`SCHEDULE_STATUS`]).
pub const REMOVE_SCHEDULE: &str = "
DELETE FROM backtick_schedules s
WHERE s.name = $1
  AND NOT EXISTS (SELECT 1 FROM backtick_runners r
                  WHERE r.expires_at > coalesce($2::timestamptz, now()) AND s.name = ANY(r.schedules))
RETURNING name";

/// The statement that applies `action` to a schedule: [`PAUSE_SCHEDULE`],
/// [`RESUME_SCHEDULE`], [`REQUEST_SCHEDULE_RUN`] or [`REMOVE_SCHEDULE`]. Each takes `$1` name
/// and `$2` now, and returns a row only when it changed something (else
/// [`SCHEDULE_STATUS`] tells why: [`crate::admin::schedule_not_written`]).
pub fn schedule_statement(action: ScheduleAction) -> &'static str {
    match action {
        ScheduleAction::Pause => PAUSE_SCHEDULE,
        ScheduleAction::Resume => RESUME_SCHEDULE,
        ScheduleAction::RunNow => REQUEST_SCHEDULE_RUN,
        ScheduleAction::Remove => REMOVE_SCHEDULE,
    }
}

/// `$1` workers. Pending run-now requests: rows `name`, `run_requested_at`, oldest first.
pub const SCHEDULE_RUN_REQUESTS: &str = "
SELECT name, run_requested_at FROM backtick_schedules
WHERE worker = ANY($1::text[]) AND run_requested_at IS NOT NULL
ORDER BY run_requested_at, name";

/// `$1` name, `$2` the request's `run_requested_at`, `$3` now. The compare-and-set that serves
/// a run-now request once; returns a row only when this caller won. Run in one transaction
/// with the job's [`crate::sql::ENQUEUE`], only when it returned a row.
pub const TAKE_SCHEDULE_RUN_REQUEST: &str = "
UPDATE backtick_schedules
SET run_requested_at = NULL, last_fired_at = coalesce($3::timestamptz, now()), updated_at = coalesce($3::timestamptz, now())
WHERE name = $1 AND run_requested_at = $2
RETURNING name";

// ---------------------------------------------------------------------------------------
// Runners.

/// `$1` the runner as a JSON object (`crate::admin::runner_record`: id, host, pid, version,
/// queues (null: every queue), workers, schedules, concurrency, started_at, ttl_us,
/// retention_us), `$2` now. Registers or refreshes the runner (live until now + ttl), and
/// forgets the runners stale for longer than the retention (core's `RUNNER_RETENTION`).
pub const REGISTER_RUNNER: &str = "
WITH runner AS (
    SELECT * FROM jsonb_to_record($1::jsonb) AS r(
        id text, host text, pid int8, version text, queues text[], workers text[], schedules text[],
        concurrency int4, started_at timestamptz, ttl_us int8, retention_us int8)
),
clock AS (SELECT coalesce($2::timestamptz, now()) AS now),
forgotten AS (
    DELETE FROM backtick_runners
    WHERE id <> (SELECT id FROM runner)
      AND expires_at < (SELECT now FROM clock) - (SELECT retention_us FROM runner) * interval '1 microsecond'
)
INSERT INTO backtick_runners
    (id, host, pid, version, queues, workers, schedules, concurrency, started_at, heartbeat_at, expires_at)
SELECT r.id, r.host, r.pid, r.version, r.queues, r.workers, r.schedules, r.concurrency, r.started_at,
       clock.now, clock.now + r.ttl_us * interval '1 microsecond'
FROM runner r CROSS JOIN clock
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, version = excluded.version, queues = excluded.queues,
    workers = excluded.workers, schedules = excluded.schedules, concurrency = excluded.concurrency,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at";

/// `$1` id.
pub const DEREGISTER_RUNNER: &str = "DELETE FROM backtick_runners WHERE id = $1";

/// `$1` now, `$2` how long a job must have been due, in microseconds, `$3` how many jobs to
/// look at: [`backtick_core::QueueStore::unserved_jobs`]. Of the queued jobs due at or before
/// `now - $2`, the first `$3` in claim order (through `backtick_jobs_claim_idx`), those whose
/// worker no live runner registers. Rows `worker`, `queue`, `jobs` (int8), `oldest_due`,
/// `oldest_job`; oldest due first.
pub const UNSERVED_JOBS: &str = "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now),
served AS (
    SELECT DISTINCT unnest(r.workers) AS worker
    FROM backtick_runners r CROSS JOIN clock c
    WHERE r.expires_at > c.now
),
looked_at AS (
    SELECT j.id, j.worker, j.queue, j.run_at
    FROM backtick_jobs j CROSS JOIN clock c
    WHERE j.state = 'queued' AND j.run_at <= c.now - $2::int8 * interval '1 microsecond'
    ORDER BY j.priority, j.run_at, j.id
    LIMIT $3
)
SELECT l.worker, l.queue, count(*)::int8 AS jobs, min(l.run_at) AS oldest_due,
       (array_agg(l.id ORDER BY l.run_at, l.id))[1] AS oldest_job
FROM looked_at l
WHERE NOT EXISTS (SELECT 1 FROM served s WHERE s.worker = l.worker)
GROUP BY l.worker, l.queue
ORDER BY oldest_due, oldest_job";

/// `$1` now. Rows: the runner's columns (`id`, `host`, `pid`, `version`, `queues`, `workers`,
/// `schedules`, `concurrency`, `started_at`, `heartbeat_at`, `expires_at`), `stale` (bool),
/// `running_jobs` (int8, through `backtick_jobs_lease_idx`); live first, then by id.
pub const LIST_RUNNERS: &str = "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now),
held AS (
    SELECT lease_owner, count(*) AS n FROM backtick_jobs WHERE state = 'running' GROUP BY lease_owner
)
SELECT r.id, r.host, r.pid, r.version, r.queues, r.workers, r.schedules, r.concurrency, r.started_at,
       r.heartbeat_at, r.expires_at, r.expires_at <= clock.now AS stale, coalesce(h.n, 0) AS running_jobs
FROM backtick_runners r
CROSS JOIN clock
LEFT JOIN held h ON h.lease_owner = r.id
ORDER BY stale, r.id";

// ---------------------------------------------------------------------------------------
// Throughput and database health.

/// The statement that begins an admin read (a listing, a count, the queues, schedules or
/// runners, a job's page): a read-only transaction in which the server cancels any statement
/// running longer than `timeout` (`SET LOCAL statement_timeout`, in whole milliseconds, at
/// least 1; `None`: the server's own setting). The setting ends with the transaction, so the
/// pooled connection goes back to the runners' statements unbounded. A cancelled statement
/// fails with SQLSTATE 57014, "canceling statement due to statement timeout".
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_pg_common::admin_sql::admin_read_begin;
/// assert_eq!(
///     admin_read_begin(Some(Duration::from_secs(5))),
///     "BEGIN READ ONLY; SET LOCAL statement_timeout = 5000"
/// );
/// assert_eq!(admin_read_begin(None), "BEGIN READ ONLY");
/// ```
pub fn admin_read_begin(timeout: Option<Duration>) -> String {
    match admin_read_settings(timeout) {
        Some(settings) => format!("BEGIN READ ONLY; {settings}"),
        None => "BEGIN READ ONLY".to_owned(),
    }
}

/// The settings of an admin read, for a driver that begins the read-only transaction itself
/// (see [`admin_read_begin`]): `SET LOCAL statement_timeout = <ms>`, or nothing.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_pg_common::admin_sql::admin_read_settings;
/// assert_eq!(
///     admin_read_settings(Some(Duration::from_micros(1_500))).as_deref(),
///     Some("SET LOCAL statement_timeout = 1")
/// );
/// ```
pub fn admin_read_settings(timeout: Option<Duration>) -> Option<String> {
    timeout.map(|timeout| format!("SET LOCAL statement_timeout = {}", timeout.as_millis().max(1)))
}

/// The planner settings [`COUNT_FINISHED`] runs under, in the transaction of an admin read
/// (local to it, one statement that either protocol runs). Without statistics (a table filled by a burst and not
/// analyzed yet) the planner estimates a handful of rows in any finish-time range and plans a
/// bitmap scan of the whole range plus a sort; with sorting disabled the only plan that yields
/// the newest finishes first is the backward walk of `backtick_jobs_prune_idx`, which stops
/// after `cap + 1` rows. Measured on 1,000,000 done jobs, never analyzed: 212 ms with the
/// bitmap plan, 27 ms with this one (cap 10,000).
///
/// JIT is off as well: a disabled sort still appears in the plan (the final `ORDER BY state`
/// of a few rows) at a cost of 10^10, far above `jit_above_cost`, so the server compiled the
/// statement with inlining and optimization: 183 ms of JIT for a count that reads 111 rows in
/// 1 ms (a one-minute range on 1,000,000 finished jobs).
pub const COUNT_FINISHED_SETTINGS: &str =
    "SELECT set_config('enable_sort', 'off', true), set_config('jit', 'off', true)";

/// `$1` from (inclusive), `$2` until (exclusive), each NULL for no bound, `$3` cap (int8).
/// Rows as [`COUNT_JOBS`] grouped by state: `key` (the state), `state`, `n` (int8), `capped`
/// (bool). Reads at most `cap + 1` finished jobs of the range, newest finish first, through
/// `backtick_jobs_prune_idx` (run it after [`COUNT_FINISHED_SETTINGS`]); when the range holds
/// more, every count is marked capped and counts the newest `cap` finishes only.
pub const COUNT_FINISHED: &str = "
WITH sample AS (
    SELECT state FROM backtick_jobs
    WHERE state IN ('done', 'dead', 'cancelled')
      AND finished_at >= coalesce($1::timestamptz, '-infinity')
      AND finished_at < coalesce($2::timestamptz, 'infinity')
    ORDER BY finished_at DESC
    LIMIT $3 + 1
),
numbered AS (SELECT state, row_number() OVER () AS n FROM sample)
SELECT state AS key, state, count(*) FILTER (WHERE n <= $3) AS n, (SELECT count(*) FROM sample) > $3 AS capped
FROM numbered
GROUP BY state
HAVING count(*) FILTER (WHERE n <= $3) > 0
ORDER BY state";

/// The index the claim statement walks: what [`DATABASE_DIAGNOSTICS`]'s caller looks for in
/// the claim plan.
pub const CLAIM_INDEX: &str = "backtick_jobs_claim_idx";

/// Every index the migrations leave on `backtick_jobs` (`0005_admin_reads` replaced
/// `0003_admin`'s `backtick_jobs_failed_idx` with the dead and cancelled ones), in the order
/// they are created. Bound as `$1` of [`DATABASE_DIAGNOSTICS`].
pub const EXPECTED_INDEXES: [&str; 7] = [
    "backtick_jobs_pkey",
    CLAIM_INDEX,
    "backtick_jobs_lease_idx",
    "backtick_jobs_prune_idx",
    "backtick_jobs_unique_key_idx",
    "backtick_jobs_dead_idx",
    "backtick_jobs_cancelled_idx",
];

/// `$1` the expected index names (text[], [`EXPECTED_INDEXES`]). One row, one column,
/// `diagnostics`: the text of a JSON object shaped as `backtick_core::admin::DatabaseDiagnostics`
/// less `claim_index` and `claim_plan` (the caller adds those): `indexes` (each expected name,
/// whether it exists on `backtick_jobs`, whether it is valid and ready), `table` (live and dead
/// rows from `pg_stat_user_tables`, the vacuum threshold computed as [`crate::sql::VACUUM_DUE`]
/// does, the last vacuum, autovacuum and analyze), `autovacuum` (the server's `autovacuum`
/// and `track_counts`, the table's `autovacuum_enabled` and storage parameters). Catalog
/// reads only, through `backtick_jobs`' `search_path`.
pub const DATABASE_DIAGNOSTICS: &str = concat!(
    "
SELECT jsonb_build_object(
    'indexes', (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'name', e.name,
                   'present', x.indexrelid IS NOT NULL,
                   'valid', coalesce(x.indisvalid AND x.indisready, false)) ORDER BY e.ord), '[]'::jsonb)
        FROM unnest($1::text[]) WITH ORDINALITY AS e(name, ord)
        LEFT JOIN (pg_index x JOIN pg_class i ON i.oid = x.indexrelid)
               ON x.indrelid = c.oid AND i.relname = e.name),
    'table', jsonb_build_object(
        'live_rows', coalesce(s.n_live_tup, 0),
        'dead_rows', coalesce(s.n_dead_tup, 0),
        'vacuum_threshold',
            coalesce(o.threshold, current_setting('autovacuum_vacuum_threshold')::float8)
            + coalesce(o.scale, current_setting('autovacuum_vacuum_scale_factor')::float8)
              * greatest(c.reltuples, 0),
        'last_vacuum', s.last_vacuum,
        'last_autovacuum', s.last_autovacuum,
        'last_analyze', greatest(s.last_analyze, s.last_autoanalyze)),
    'autovacuum', jsonb_build_object(
        'server_enabled', current_setting('autovacuum')::bool,
        'track_counts', current_setting('track_counts')::bool,
        'table_enabled', coalesce(o.enabled, true),
        'table_options', to_jsonb(coalesce(c.reloptions, '{}'::text[])))
)::text AS diagnostics
FROM pg_class c
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
",
    autovacuum_options!(),
    "
WHERE c.oid = 'backtick_jobs'::regclass"
);
