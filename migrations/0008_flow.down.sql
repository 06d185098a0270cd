DROP FUNCTION backtick_window_reopens(text[], text[], timestamptz, timestamptz);
DROP FUNCTION backtick_claim_limited(timestamptz, text[], text[], int8, text, int8);
-- The plain claim as 0004 made it: skipping paused queues only.
CREATE OR REPLACE FUNCTION backtick_claim(
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
DROP TRIGGER backtick_jobs_resolve_dependents ON backtick_jobs;
DROP FUNCTION backtick_jobs_resolve_dependents();
DROP TABLE backtick_job_deps;
-- Pending jobs have nowhere to go in the older schema: they are cancelled.
UPDATE backtick_jobs
SET state = 'cancelled', last_error = 'cancelled by the downgrade of migration 0008 (flow)', finished_at = now()
WHERE state = 'pending';
ALTER TABLE backtick_jobs
    DROP COLUMN has_dependents,
    DROP CONSTRAINT backtick_jobs_state_check,
    ADD CONSTRAINT backtick_jobs_state_check
        CHECK (state IN ('queued', 'running', 'done', 'dead', 'cancelled')) NOT VALID;
ALTER TABLE backtick_queues
    DROP CONSTRAINT backtick_queues_rate_check,
    DROP COLUMN rate_window_count,
    DROP COLUMN rate_window_start,
    DROP COLUMN rate_period_us,
    DROP COLUMN rate_limit,
    DROP COLUMN concurrency_limit;
