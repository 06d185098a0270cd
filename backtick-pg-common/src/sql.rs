//! Every statement the two backends run against the schema, as one copy: `PgStore`
//! (sqlx) binds them through `sqlx::query`, `DieselStore` through `diesel::sql_query`, with the
//! same parameters. Keeping one text for both is what keeps them behaving alike (a plan fix
//! made for one reaches the other). Each store method is one statement; times come from
//! `coalesce($now, now())` so tests can inject a clock and production uses the database's.
//! The literals `state = 'queued'` / `'running'` / finished states must stay literals: they
//! are what lets the planner match the partial indexes of `migrations/0001_jobs.up.sql`. The
//! one exception is the fenced writes, which look jobs up by id and must not use a partial
//! index (see `running!`).

/// The columns every job query returns, in the order both backends decode them.
macro_rules! job_columns {
    () => {
        "id, worker, queue, args, codec, priority, state, attempt, max_attempts, run_at, lease_owner, \
         lease_expires_at, last_error, unique_key, trace_context, created_at, updated_at, finished_at"
    };
}

/// The predicate of the unique index `backtick_jobs_unique_key_idx`
/// (`migrations/0007_unique_states.up.sql`), verbatim: a job holds its key while it is in one of
/// its own `unique_states` (every state when NULL). `ON CONFLICT` names it so that the index is
/// the arbiter, and the lookups of holders repeat it.
macro_rules! holds_key {
    () => {
        "unique_key IS NOT NULL AND (unique_states IS NULL OR state = ANY (unique_states))"
    };
    ($t:literal) => {
        concat!(
            $t,
            ".unique_key IS NOT NULL AND (",
            $t,
            ".unique_states IS NULL OR ",
            $t,
            ".state = ANY (",
            $t,
            ".unique_states))"
        )
    };
}

/// `$1` now, `$2..$11` one array per `NewJob` field (`run_at` as a timestamp or a delay in
/// microseconds), `$12` unique periods in microseconds (NULL for none), `$13` unique states as
/// array literals (`{queued,running}`, NULL for every state). A job unique per period holds
/// its key with `@` and the start of its due time's bucket appended
/// (`backtick_core::unique_period_key`, in integer microseconds so that it matches exactly).
/// Ids are drawn from the sequence per input row before inserting, so each input row knows its
/// own id; `ON CONFLICT DO NOTHING` skips a held unique key, and the id is then taken from the
/// row inserted earlier in this batch, or from the existing holder when this statement's
/// snapshot sees it. A key committed by a concurrent insert after the snapshot leaves the id
/// NULL: [`SELECT_IDS_BY_UNIQUE_KEY`] resolves it. Returns `id`, `inserted` (true for a row this
/// statement inserted, false for a duplicate) and `key`, the key as held.
/// The wake-up NOTIFY comes from the statement trigger `backtick_jobs_notify`.
pub const ENQUEUE: &str = concat!(
    "
WITH clock AS (
    SELECT coalesce($1::timestamptz, now()) AS now,
           pg_get_serial_sequence('backtick_jobs', 'id')::regclass AS seq
),
due AS MATERIALIZED (
    SELECT t.*, nextval(c.seq) AS new_id,
           coalesce(t.run_at, c.now + coalesce(t.delay_us, 0) * interval '1 microsecond') AS due_at,
           t.states_text::text[] AS states
    FROM clock c,
         unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::int2[], $7::int4[],
                $8::timestamptz[], $9::int8[], $10::text[], $11::text[], $12::int8[], $13::text[])
             WITH ORDINALITY AS t(worker, queue, args, codec, priority, max_attempts,
                                  run_at, delay_us, base_key, trace_context, period_us, states_text, ord)
),
input AS MATERIALIZED (
    SELECT d.*,
           CASE WHEN d.period_us IS NULL OR d.base_key IS NULL THEN d.base_key
                ELSE d.base_key || '@' || (e.us - ((e.us % d.period_us) + d.period_us) % d.period_us)::text
           END AS unique_key
    FROM due d
    CROSS JOIN LATERAL (SELECT (extract(epoch FROM d.due_at) * 1000000)::int8 AS us) e
),
inserted AS (
    INSERT INTO backtick_jobs
        (id, worker, queue, args, codec, priority, max_attempts, run_at, unique_key, unique_states,
         trace_context, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    SELECT i.new_id, i.worker, i.queue, i.args, i.codec, i.priority, i.max_attempts, i.due_at,
           i.unique_key, i.states, i.trace_context, c.now, c.now
    FROM input i CROSS JOIN clock c
    ORDER BY i.ord
    ON CONFLICT (unique_key) WHERE ",
    holds_key!(),
    " DO NOTHING
    RETURNING id, unique_key
)
SELECT coalesce(mine.id, same_key.id, existing.id) AS id, mine.id IS NOT NULL AS inserted, i.unique_key AS key
FROM input i
LEFT JOIN inserted mine ON mine.id = i.new_id
LEFT JOIN inserted same_key ON same_key.unique_key = i.unique_key
LEFT JOIN backtick_jobs existing ON existing.unique_key = i.unique_key AND ",
    holds_key!("existing"),
    "
ORDER BY i.ord"
);

/// [`ENQUEUE`] for a batch without unique keys, the common case: a plain insert, without the
/// conflict handling and the id bookkeeping (measured: 1,000 rows in 5 ms instead of 9 ms).
/// `$1` now, `$2..$9` as for [`ENQUEUE`] less the unique keys, `$10` the trace contexts. Identity values are drawn as
/// rows are inserted, in input order, so the returned ids sorted ascending are in input order.
pub const ENQUEUE_PLAIN: &str = "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
INSERT INTO backtick_jobs
    (worker, queue, args, codec, priority, max_attempts, run_at, trace_context, created_at, updated_at)
SELECT t.worker, t.queue, t.args, t.codec, t.priority, t.max_attempts,
       coalesce(t.run_at, c.now + coalesce(t.delay_us, 0) * interval '1 microsecond'), t.trace_context,
       c.now, c.now
FROM clock c,
     unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::int2[], $7::int4[],
            $8::timestamptz[], $9::int8[], $10::text[])
         WITH ORDINALITY AS t(worker, queue, args, codec, priority, max_attempts, run_at, delay_us,
                              trace_context, ord)
ORDER BY t.ord
RETURNING id";

/// `$1` unique keys: the ids holding them now (a fresh statement, so a fresh snapshot).
pub const SELECT_IDS_BY_UNIQUE_KEY: &str = concat!(
    "SELECT id, unique_key FROM backtick_jobs j WHERE j.unique_key = ANY($1::text[]) AND ",
    holds_key!("j")
);

/// `$1` now, `$2` workers, `$3` queues or NULL, `$4` limit, `$5` runner id, `$6` lease in
/// microseconds: one call of the function `backtick_claim` (`migrations/0004_claim.up.sql`),
/// which picks due jobs in claim order through `backtick_jobs_claim_idx`, skipping rows
/// another claimer has locked and jobs on paused queues, and claims them in the same
/// statement. The statement lives in the function so that it is planned with sorting
/// disabled, whatever the table's statistics say (see docs/design.md, "Claim plans").
pub const CLAIM: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM backtick_claim($1::timestamptz, $2::text[], $3::text[], $4::int8, $5::text, $6::int8)"
);

/// The source of `backtick_claim` as installed, for [`explain_claim`]: one row, `prosrc`.
pub const CLAIM_FUNCTION_SOURCE: &str = "SELECT prosrc FROM pg_proc \
     WHERE oid = 'backtick_claim(timestamptz, text[], text[], int8, text, int8)'::regprocedure";

/// The setting `backtick_claim` is planned under (its `SET` clause), for a transaction that
/// explains its statement with [`explain_claim`].
pub const CLAIM_PLAN_SETTING: &str = "SET LOCAL enable_sort = off";

/// `EXPLAIN` of the statement `backtick_claim` runs, taken from its installed source (`prosrc`,
/// from [`CLAIM_FUNCTION_SOURCE`]): the text between `RETURN QUERY` and the closing `;`, which
/// refers to the arguments as `$1..$6`, so it takes [`CLAIM`]'s parameters. Run it in a
/// transaction after [`CLAIM_PLAN_SETTING`] to see the plan the function gets. `None` when the
/// source has no such statement.
///
/// # Examples
/// ```
/// let body = "BEGIN\n    RETURN QUERY\nSELECT 1 WHERE $4 > 0;\nEND;";
/// assert_eq!(
///     backtick_pg_common::sql::explain_claim(body).as_deref(),
///     Some("EXPLAIN SELECT 1 WHERE $4 > 0")
/// );
/// ```
pub fn explain_claim(function_source: &str) -> Option<String> {
    let (_, rest) = function_source.split_once("RETURN QUERY")?;
    let (statement, _) = rest.split_once(';')?;
    Some(format!("EXPLAIN {}", statement.trim()))
}

/// `$1` workers, `$2` queues or NULL, `$3` the window in microseconds, `$4` now: `due_in_us`,
/// the microseconds from now until the next job a claim with these workers and queues could
/// take falls due, within the window; NULL when none does. Through the function
/// `backtick_next_due` (`migrations/0004_claim.up.sql`): a loose index scan of
/// `backtick_jobs_claim_idx` over the distinct priorities, so its cost does not grow with the
/// number of queued jobs. Rounded up, so that a runner sleeping that long wakes once the job is
/// due, not just before.
///
/// Or sooner, the end of the full rate window of a limited queue with due jobs
/// (`backtick_window_reopens`, `migrations/0008_flow.up.sql`), when jobs stay queued for it.
pub const NEXT_DUE: &str = "
WITH clock AS (SELECT coalesce($4::timestamptz, now()) AS now)
SELECT ceil(extract(epoch FROM
           least(backtick_next_due($1::text[], $2::text[], c.now, c.now + $3::int8 * interval '1 microsecond'),
                 backtick_window_reopens($1::text[], $2::text[], c.now, c.now + $3::int8 * interval '1 microsecond'))
           - c.now
       ) * 1000000)::int8 AS due_in_us
FROM clock c";

/// The state test of the fenced writes, which find their jobs by id: `(SELECT 'running')`
/// rather than the literal, so that the planner cannot prove the partial index
/// `backtick_jobs_lease_idx` (`WHERE state = 'running'`) applies. With the literal it may drive
/// the join from that index, whose row estimate (from statistics taken when few jobs were
/// running) is about one row, and rescan the whole input for every running job: quadratic in
/// the batch. Measured on a generic plan: 256 finishes took 30-50 ms that way and 1.6 ms
/// through the primary key.
macro_rules! running {
    () => {
        "(SELECT 'running'::text)"
    };
}

/// `$1` now, `$2..$4` ids, attempts, owners, `$5` lease in microseconds. Returns the id of
/// every input token (in input order, duplicates kept) whose lease was extended. Finds its
/// jobs by id, like the fenced writes (see `running!`), in id order as they do, so that a
/// heartbeat and a concurrent finish of the same jobs lock them in the same order instead of
/// deadlocking.
pub const HEARTBEAT: &str = concat!(
    "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now),
input AS (
    SELECT * FROM unnest((SELECT $2::int8[]), (SELECT $3::int4[]), (SELECT $4::text[]))
        WITH ORDINALITY AS t(job_id, token_attempt, token_owner, ord)
),
extended AS (
    UPDATE backtick_jobs j
    SET lease_expires_at = c.now + $5::int8 * interval '1 microsecond',
        updated_at = c.now
    FROM (SELECT DISTINCT job_id, token_attempt, token_owner FROM input ORDER BY job_id) i CROSS JOIN clock c
    WHERE j.id = i.job_id AND j.state = ",
    running!(),
    " AND j.attempt = i.token_attempt AND j.lease_owner = i.token_owner
    RETURNING j.id, j.attempt, j.lease_owner
)
SELECT i.job_id
FROM input i
JOIN extended e ON e.id = i.job_id AND e.attempt = i.token_attempt AND e.lease_owner = i.token_owner
ORDER BY i.ord"
);

/// `$1` now, `$2` limit. Through `backtick_jobs_lease_idx`.
pub const EXPIRED_LEASES: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM backtick_jobs
WHERE state = 'running' AND lease_expires_at <= coalesce($1::timestamptz, now())
ORDER BY lease_expires_at, id
LIMIT $2"
);

/// `$1` id.
pub const GET: &str = concat!("SELECT ", job_columns!(), " FROM backtick_jobs WHERE id = $1");

/// `$1` state, `$2` queue, `$3` worker (each NULL for any), `$4` limit.
pub const LIST: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM backtick_jobs
WHERE ($1::text IS NULL OR state = $1::text)
  AND ($2::text IS NULL OR queue = $2::text)
  AND ($3::text IS NULL OR worker = $3::text)
ORDER BY id
LIMIT $4"
);

/// `$1` queue or NULL.
pub const COUNT_BY_STATE: &str = "
SELECT state, count(*) AS n FROM backtick_jobs
WHERE ($1::text IS NULL OR queue = $1::text)
GROUP BY state";

/// `$1` before, `$2` limit. Through `backtick_jobs_prune_idx`; rows locked elsewhere are left
/// for the next pass.
pub const PRUNE: &str = "
WITH doomed AS (
    SELECT id FROM backtick_jobs
    WHERE state IN ('done', 'dead', 'cancelled') AND finished_at < $1
    ORDER BY finished_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
DELETE FROM backtick_jobs j
USING doomed d
WHERE j.id = d.id AND j.state IN ('done', 'dead', 'cancelled')";

/// The jobs table's (`c`) own autovacuum settings as `o`: `enabled` (NULL when unset),
/// `threshold` and `scale` (NULL when unset: the server's apply).
macro_rules! autovacuum_options {
    () => {
        "CROSS JOIN LATERAL (
    SELECT bool_and(CASE WHEN option_name = 'autovacuum_enabled' THEN option_value::bool END) AS enabled,
           max(CASE WHEN option_name = 'autovacuum_vacuum_threshold' THEN option_value::float8 END) AS threshold,
           max(CASE WHEN option_name = 'autovacuum_vacuum_scale_factor' THEN option_value::float8 END) AS scale
    FROM pg_options_to_table(c.reloptions)
) o"
    };
}

/// Whether the jobs table is due for a vacuum by its own autovacuum settings (its reloptions,
/// else the server's): dead row versions at least the threshold plus the scale factor times
/// its rows, autovacuum not turned off for it, and the current user allowed to vacuum it (for
/// anyone else `VACUUM` only warns). No row before the table has statistics.
pub const VACUUM_DUE: &str = concat!(
    "
SELECT coalesce(o.enabled, true)
       AND pg_has_role(c.relowner, 'USAGE')
       AND s.n_dead_tup >= coalesce(o.threshold, current_setting('autovacuum_vacuum_threshold')::float8)
           + coalesce(o.scale, current_setting('autovacuum_vacuum_scale_factor')::float8) * greatest(c.reltuples, 0)
       AS due
FROM pg_class c
JOIN pg_stat_user_tables s ON s.relid = c.oid
",
    autovacuum_options!(),
    "
WHERE c.oid = 'backtick_jobs'::regclass"
);

/// Vacuum the jobs table, unless another vacuum (autovacuum, another runner) holds it. Not in
/// a transaction: run with the simple protocol.
pub const VACUUM: &str = "VACUUM (SKIP_LOCKED) backtick_jobs";

/// Run on the vacuum's connection before [`VACUUM`]: a vacuum that finds the table locked
/// (another runner's vacuum, say) is skipped with a WARNING the drivers would log at warn
/// level on every collision; it is routine, so the server does not send it.
pub const VACUUM_QUIET: &str = "SET client_min_messages = error";

/// Run on the vacuum's connection after [`VACUUM`]: the connection goes back to the pool as
/// it came.
pub const VACUUM_LOUD_AGAIN: &str = "RESET client_min_messages";

/// The database clock.
pub const NOW: &str = "SELECT now() AS now";

/// The versions of applied migrations, to check the schema without the migration lock.
pub const APPLIED_VERSIONS: &str = "SELECT version FROM backtick_migrations";

/// `$1` now, `$2..$5` names, workers, specs, next fire times. Inserts new schedules; an
/// existing one keeps its `next_run_at` unless its spec changed. (In `SET`, `backtick_schedules`
/// is the old row, so the `CASE` compares the old spec with the new one.)
pub const UPSERT_SCHEDULES: &str = "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
INSERT INTO backtick_schedules (name, worker, spec, next_run_at, updated_at)
SELECT i.name, i.worker, i.spec, i.next_run_at, clock.now
FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS i(name, worker, spec, next_run_at), clock
ON CONFLICT (name) DO UPDATE SET
    worker = excluded.worker,
    spec = excluded.spec,
    next_run_at = CASE WHEN backtick_schedules.spec = excluded.spec
                       THEN backtick_schedules.next_run_at ELSE excluded.next_run_at END,
    updated_at = excluded.updated_at
RETURNING name, worker, spec, next_run_at";

/// `$1` workers, `$2` now. Through `backtick_schedules_due_idx`.
pub const DUE_SCHEDULES: &str = "
SELECT name, worker, spec, next_run_at FROM backtick_schedules
WHERE worker = ANY($1::text[]) AND next_run_at <= coalesce($2::timestamptz, now())
ORDER BY next_run_at, name";
