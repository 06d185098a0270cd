-- The claim as a function whose plan does not depend on statistics.
--
-- The claim wants the index scan of backtick_jobs_claim_idx in claim order, stopped after
-- `limit` rows. The planner picks it only when it believes many rows are due: on a table
-- filled by a burst and not yet analyzed it estimates a handful, and plans a bitmap scan of
-- every due row plus a sort of the whole backlog (measured on 20,000 queued jobs: 8.8 ms per
-- claim instead of 0.16 ms). With sorting disabled the sort-free index scan is the only
-- plan left, whatever the estimates. The SET clause scopes that setting to this function
-- (restored on exit, even on error), and PL/pgSQL keeps the statement's plan per session,
-- custom or generic, planned under the setting. See docs/design.md, "Claim plans".
--
-- The statement refers to its arguments as $1..$6 so that its text can be explained as is
-- (PgStore::explain_claim and DieselStore::explain_claim read it from pg_proc): $1 now or
-- NULL for the database clock, $2 workers, $3 queues or NULL for all, $4 limit, $5 the
-- runner id (lease owner), $6 the lease in microseconds. Jobs on paused queues are skipped;
-- the claim sets attempted_at. The rows come back in no particular order.
CREATE FUNCTION backtick_claim(
    claim_now timestamptz,
    claim_workers text[],
    claim_queues text[],
    claim_limit int8,
    claim_owner text,
    claim_lease_us int8
) RETURNS SETOF backtick_jobs
    LANGUAGE plpgsql
    VOLATILE
    SET enable_sort = off
AS $$
BEGIN
    RETURN QUERY
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now),
picked AS (
    SELECT id AS picked_id
    FROM backtick_jobs
    WHERE state = 'queued'
      AND run_at <= (SELECT now FROM clock)
      AND worker = ANY($2::text[])
      AND ($3::text[] IS NULL OR queue = ANY($3::text[]))
      AND queue <> ALL (ARRAY(SELECT name FROM backtick_queues WHERE paused_at IS NOT NULL))
    ORDER BY priority, run_at, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
UPDATE backtick_jobs
SET state = 'running',
    attempt = attempt + 1,
    lease_owner = $5,
    lease_expires_at = clock.now + $6::int8 * interval '1 microsecond',
    attempted_at = clock.now,
    updated_at = clock.now
FROM clock
WHERE id = ANY (ARRAY(SELECT picked_id FROM picked))
RETURNING backtick_jobs.*;
END;
$$;

-- When the next job a claim could take falls due: the smallest run_at in (due_after,
-- due_before] among queued jobs for these workers and queues, on queues not paused, across
-- every priority; NULL when there is none. An idle runner sleeps until then.
--
-- The claim index is ordered by priority first, so its first entry after due_after is not the
-- earliest run_at: this walks the few distinct priorities (a loose index scan: one descent of
-- backtick_jobs_claim_idx per priority) and, in each, the window of run_at in claim-index
-- order, stopping at the first match and narrowing the window to it. Cheap however many jobs
-- are queued: it never reads the jobs due already, nor those beyond the window. Planned
-- without sorting, like backtick_claim, so that no estimate turns the window into a sort.
CREATE FUNCTION backtick_next_due(
    due_workers text[],
    due_queues text[],
    due_after timestamptz,
    due_before timestamptz
) RETURNS timestamptz
    LANGUAGE plpgsql
    STABLE
    SET enable_sort = off
AS $$
DECLARE
    paused text[] := ARRAY(SELECT name FROM backtick_queues WHERE paused_at IS NOT NULL);
    prio smallint;
    found_at timestamptz;
    earliest timestamptz;
BEGIN
    SELECT min(priority) INTO prio FROM backtick_jobs WHERE state = 'queued';
    WHILE prio IS NOT NULL LOOP
        SELECT run_at INTO found_at
        FROM backtick_jobs
        WHERE state = 'queued'
          AND priority = prio
          AND run_at > due_after
          AND run_at <= coalesce(earliest, due_before)
          AND worker = ANY(due_workers)
          AND (due_queues IS NULL OR queue = ANY(due_queues))
          AND queue <> ALL (paused)
        ORDER BY run_at
        LIMIT 1;
        IF FOUND THEN
            earliest := found_at;
        END IF;
        SELECT min(priority) INTO prio FROM backtick_jobs WHERE state = 'queued' AND priority > prio;
    END LOOP;
    RETURN earliest;
END;
$$;
