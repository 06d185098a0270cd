-- Admin reads whose cost does not depend on statistics: counts and listings on a table of
-- millions of finished jobs answer by reading a bounded number of rows even when the table has
-- never been analyzed (a bulk load, a restored dump, a server without autovacuum), when the
-- planner's default estimates would make it read whole indexes. See docs/design.md, "Admin
-- reads do not depend on statistics".
--
-- The hot path (enqueue, claim, finish) is unchanged: a job that dies or is cancelled gets one
-- index entry, as before, in the index of its state instead of a shared one.

-- One partial index per rare finished state, instead of one for both: a count of cancelled
-- jobs no longer walks (and visits the rows of) every dead job to find the cancelled ones, and
-- a listing of dead jobs walks dead jobs only.
DROP INDEX backtick_jobs_failed_idx;
CREATE INDEX backtick_jobs_dead_idx ON backtick_jobs (id) WHERE state = 'dead';
CREATE INDEX backtick_jobs_cancelled_idx ON backtick_jobs (id) WHERE state = 'cancelled';

-- Jobs per state, grouped by state, queue or worker, each state capped: $1 cap, $2 'state',
-- 'queue' or 'worker', $3 states (NULL: all). Rows key, state, n, capped, by key and state.
--
-- Each state's sample is `WHERE state = '<state>' LIMIT cap + 1`. On a table never analyzed
-- the planner expects a few thousand rows per state, fewer than the limit, so it plans a bitmap
-- scan that first reads the state's whole index (a million entries for 'done'). Without bitmap
-- scans the sample is an index scan (or a sequential scan) that stops at cap + 1 rows, whatever
-- the estimates. JIT and parallel workers cost more to start than such a query takes.
CREATE FUNCTION backtick_count_jobs(count_cap int8, count_group_by text, count_states text[])
RETURNS TABLE (key text, state text, n int8, capped bool)
    LANGUAGE plpgsql
    STABLE
    SET enable_bitmapscan = off
    SET jit = off
    SET max_parallel_workers_per_gather = 0
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
WITH sample AS (
    (SELECT 'queued'::text AS state, queue, worker FROM backtick_jobs
     WHERE state = 'queued' AND ($3::text[] IS NULL OR 'queued' = ANY($3::text[])) LIMIT $1 + 1)
    UNION ALL
    (SELECT 'running'::text AS state, queue, worker FROM backtick_jobs
     WHERE state = 'running' AND ($3::text[] IS NULL OR 'running' = ANY($3::text[])) LIMIT $1 + 1)
    UNION ALL
    (SELECT 'done'::text AS state, queue, worker FROM backtick_jobs
     WHERE state = 'done' AND ($3::text[] IS NULL OR 'done' = ANY($3::text[])) LIMIT $1 + 1)
    UNION ALL
    (SELECT 'dead'::text AS state, queue, worker FROM backtick_jobs
     WHERE state = 'dead' AND ($3::text[] IS NULL OR 'dead' = ANY($3::text[])) LIMIT $1 + 1)
    UNION ALL
    (SELECT 'cancelled'::text AS state, queue, worker FROM backtick_jobs
     WHERE state = 'cancelled' AND ($3::text[] IS NULL OR 'cancelled' = ANY($3::text[])) LIMIT $1 + 1)
),
numbered AS (
    SELECT state,
           CASE $2::text WHEN 'queue' THEN queue WHEN 'worker' THEN worker ELSE state END AS key,
           row_number() OVER (PARTITION BY state) AS n,
           count(*) OVER (PARTITION BY state) AS sampled
    FROM sample
)
SELECT key, state, count(*) AS n, bool_or(sampled > $1) AS capped
FROM numbered
WHERE n <= $1
GROUP BY key, state
ORDER BY key, state;
END;
$$;

-- One page of a job listing: the jobs of `list_group` ('queued', 'running', 'dead',
-- 'cancelled', 'failed' = dead or cancelled, 'any', 'ids' = the ids $2), in id order
-- (`newest_first`: descending), after the cursor's id $3, up to id $4, examining at most $5
-- jobs, matching the filters $6..$13 (queue, worker, runner holding it, ILIKE pattern of the
-- error, created from/until, finished from/until; NULL: no filter), at most $14 of them.
-- Returns one row: ids (the page, in order), scanned (jobs examined), last_scanned (the last
-- examined id, NULL when none).
--
-- Two things keep a page cheap on a big table:
-- - It stops examining jobs once the page is full: the running count of matches is a window
--   function whose run condition ends the scan (PostgreSQL 15; older servers read up to the
--   scan limit, as before). A page of 50 dead jobs reads about 50 rows, not 10,000.
-- - Where an index is in id order (the primary key, the dead and the cancelled indexes), the
--   scan walks it in that order. On a table never analyzed the planner expects a handful of
--   rows and prefers to read and sort all of them (every dead job; for 'any', the whole table),
--   so sorting is off for those groups. Queued and running jobs are in no id-ordered index,
--   nor are dead and cancelled jobs together: sorting those sets (as large as the backlog, or
--   as the failed jobs) stays allowed.
-- Each call plans its statement for the actual values (dynamic SQL): the group's state literal
-- is visible to the planner, so partial indexes apply.
CREATE FUNCTION backtick_list_jobs(
    list_group text,
    newest_first bool,
    list_states text[],
    list_ids int8[],
    after_id int8,
    up_to_id int8,
    scan_limit int8,
    list_queue text,
    list_worker text,
    list_runner text,
    error_pattern text,
    created_from timestamptz,
    created_until timestamptz,
    finished_from timestamptz,
    finished_until timestamptz,
    page_limit int8
) RETURNS TABLE (ids int8[], scanned int8, last_scanned int8)
    LANGUAGE plpgsql
    STABLE
    SET enable_sort = off
    SET jit = off
    SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
    source text := CASE list_group
        WHEN 'queued' THEN 'backtick_jobs WHERE state = ''queued'''
        WHEN 'running' THEN 'backtick_jobs WHERE state = ''running'''
        WHEN 'dead' THEN 'backtick_jobs WHERE state = ''dead'''
        WHEN 'cancelled' THEN 'backtick_jobs WHERE state = ''cancelled'''
        -- Through both indexes (a BitmapOr), then sorted: see below.
        WHEN 'failed' THEN 'backtick_jobs WHERE (state = ''dead'' OR state = ''cancelled'')'
        WHEN 'any' THEN 'backtick_jobs WHERE true'
        WHEN 'ids' THEN 'backtick_jobs WHERE id = ANY($2::int8[])'
    END;
    dir text := CASE WHEN newest_first THEN 'DESC' ELSE 'ASC' END;
    cmp text := CASE WHEN newest_first THEN '<' ELSE '>' END;
    last_of text := CASE WHEN newest_first THEN 'min' ELSE 'max' END;
BEGIN
    IF source IS NULL OR newest_first IS NULL THEN
        RAISE EXCEPTION 'backtick_list_jobs: unknown listing group %', list_group;
    END IF;
    IF list_group IN ('queued', 'running', 'failed') THEN
        -- Restored when the function returns, like the SET clause.
        PERFORM set_config('enable_sort', 'on', true);
    END IF;
    RETURN QUERY EXECUTE format($sql$
WITH walked AS MATERIALIZED (
    SELECT id, hit
    FROM (
        SELECT id, hit,
               count(*) FILTER (WHERE hit)
                   OVER (ORDER BY id %1$s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS hits_before
        FROM (
            SELECT id,
                   ($6::text IS NULL OR queue = $6::text)
                   AND ($7::text IS NULL OR worker = $7::text)
                   AND ($8::text IS NULL OR (state = 'running' AND lease_owner = $8::text))
                   AND ($9::text IS NULL OR last_error ILIKE $9::text)
                   AND ($10::timestamptz IS NULL OR created_at >= $10::timestamptz)
                   AND ($11::timestamptz IS NULL OR created_at < $11::timestamptz)
                   AND ($12::timestamptz IS NULL OR finished_at >= $12::timestamptz)
                   AND ($13::timestamptz IS NULL OR finished_at < $13::timestamptz) AS hit
            FROM %2$s
              AND ($1::text[] IS NULL OR state = ANY($1::text[]))
              AND id %3$s $3::int8 AND id <= $4::int8
            ORDER BY id %1$s
            LIMIT $5::int8
        ) AS scan
    ) AS counted
    WHERE hits_before < $14::int8
)
SELECT coalesce((SELECT array_agg(id ORDER BY id %1$s) FROM walked WHERE hit), '{}'::int8[]),
       (SELECT count(*) FROM walked),
       (SELECT %4$s(id) FROM walked)
$sql$, dir, source, cmp, last_of)
    USING list_states, list_ids, after_id, up_to_id, scan_limit, list_queue, list_worker, list_runner,
          error_pattern, created_from, created_until, finished_from, finished_until, page_limit;
END;
$$;
