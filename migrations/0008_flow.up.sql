-- Flow control across the cluster: per-queue limits held by every runner together (a global
-- concurrency and a fixed-window rate limit), and job dependencies. The rules are in
-- backtick-core's `flow` module; this is their translation. See docs/design.md, "Flow control".
--
-- The plain claim's statement is unchanged but for the list of queues it skips, read once per
-- statement from this small table: paused queues as before, and now limited ones too, which
-- the runner claims through backtick_claim_limited with the slots the plain claim left.

ALTER TABLE backtick_queues
    -- At most this many of the queue's jobs running at once, across every runner.
    ADD COLUMN concurrency_limit integer CHECK (concurrency_limit >= 1),
    -- At most rate_limit job starts per rate_period_us, in a fixed window that opens at the
    -- first claim after the previous one ended: rate_window_start, with rate_window_count
    -- starts so far.
    ADD COLUMN rate_limit integer CHECK (rate_limit >= 1),
    ADD COLUMN rate_period_us bigint CHECK (rate_period_us >= 1000),
    ADD COLUMN rate_window_start timestamptz,
    ADD COLUMN rate_window_count integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT backtick_queues_rate_check CHECK ((rate_limit IS NULL) = (rate_period_us IS NULL));

-- 'pending': waiting for the jobs it depends on (backtick_job_deps). NOT VALID: every stored
-- row satisfies the old list, a subset, so there is nothing to check, and validating would
-- scan the whole table.
ALTER TABLE backtick_jobs
    DROP CONSTRAINT backtick_jobs_state_check,
    ADD CONSTRAINT backtick_jobs_state_check
        CHECK (state IN ('pending', 'queued', 'running', 'done', 'dead', 'cancelled')) NOT VALID,
    -- Some pending job waits for this one: its finish runs the trigger below. A constant
    -- default, so adding it rewrites no row; false for every job outside a dependency graph,
    -- so the trigger's WHEN is all those jobs' finishes pay.
    ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;

-- The parents a pending job still waits for: one row per (parent, pending job), deleted as the
-- parent finishes done, or with the job when it is cancelled. Empty outside dependency graphs.
CREATE TABLE backtick_job_deps (
    parent_id bigint NOT NULL,
    job_id    bigint NOT NULL,
    PRIMARY KEY (parent_id, job_id)
);
CREATE INDEX backtick_job_deps_job_idx ON backtick_job_deps (job_id);

-- The dependency rule of backtick_core::flow::readiness, applied when a parent finishes: done
-- releases each waiting job that has no other parent left (pending -> queued, due at its
-- run_at); dead or cancelled cancels each waiting job (and, through this same trigger on
-- them, their own dependents). The waiting jobs are locked first, in id order, so that two
-- parents of one job finishing at once take turns and the second sees the first's edge gone.
-- Times are the finishing write's (its updated_at), so an injected clock carries through.
CREATE FUNCTION backtick_jobs_resolve_dependents() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    waiting int8[];
    released record;
BEGIN
    SELECT array_agg(id) INTO waiting FROM (
        SELECT j.id FROM backtick_jobs j
        WHERE j.id IN (SELECT d.job_id FROM backtick_job_deps d WHERE d.parent_id = NEW.id)
          AND j.state = 'pending'
        ORDER BY j.id
        FOR UPDATE
    ) AS locked;
    IF NEW.state = 'done' THEN
        DELETE FROM backtick_job_deps WHERE parent_id = NEW.id;
        -- Released jobs wake their queues' runners, as an insert does (a hint; NOTIFY is
        -- sent at commit).
        FOR released IN
            WITH queued AS (
                UPDATE backtick_jobs j
                SET state = 'queued', updated_at = NEW.updated_at
                WHERE j.id = ANY (coalesce(waiting, '{}'))
                  AND j.state = 'pending'
                  AND NOT EXISTS (SELECT 1 FROM backtick_job_deps d WHERE d.job_id = j.id)
                RETURNING j.queue
            )
            SELECT DISTINCT queue FROM queued
        LOOP
            PERFORM pg_notify('backtick_jobs', released.queue);
        END LOOP;
    ELSE
        DELETE FROM backtick_job_deps WHERE parent_id = NEW.id OR job_id = ANY (coalesce(waiting, '{}'));
        UPDATE backtick_jobs j
        SET state = 'cancelled',
            last_error = format('parent job %s ended %s', NEW.id, NEW.state),
            finished_at = NEW.updated_at,
            updated_at = NEW.updated_at
        WHERE j.id = ANY (coalesce(waiting, '{}'))
          AND j.state = 'pending';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER backtick_jobs_resolve_dependents
    AFTER UPDATE OF state ON backtick_jobs
    FOR EACH ROW
    WHEN (NEW.has_dependents AND NEW.state IN ('done', 'dead', 'cancelled') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION backtick_jobs_resolve_dependents();

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
      AND queue <> ALL (ARRAY(SELECT name FROM backtick_queues
                              WHERE paused_at IS NOT NULL OR concurrency_limit IS NOT NULL
                                 OR rate_limit IS NOT NULL))
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

-- The claim of limited queues, the rule of backtick_core::flow::allowance: for each limited
-- queue (not paused, among claim_queues, in name order) with a due job for these workers, lock
-- its backtick_queues row (concurrent claimers of the queue take turns, to the end of their
-- transactions), count its running jobs and read its rate window, and claim at most what both
-- allow, in claim order; then record the starts in the window. Arguments as backtick_claim.
-- Each statement takes a fresh snapshot (READ COMMITTED), so the count after the lock sees the
-- claims of the claimer that held it before.
--
-- Running jobs are counted through backtick_jobs_lease_idx (every running job, of any queue):
-- bounded by the jobs running in the cluster. A limited queue's due jobs are found through
-- backtick_jobs_claim_idx, filtered by queue, past the due jobs of other queues that come
-- first in claim order.
CREATE FUNCTION backtick_claim_limited(
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
DECLARE
    clock_now timestamptz := coalesce(claim_now, now());
    q record;
    locked backtick_queues;
    left_over int8 := claim_limit;
    allowed int8;
    running int8;
    window_start timestamptz;
    window_count int;
    taken int8;
    claimed backtick_jobs;
BEGIN
    FOR q IN
        SELECT name FROM backtick_queues
        WHERE (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL)
          AND paused_at IS NULL
          AND (claim_queues IS NULL OR name = ANY (claim_queues))
        ORDER BY name
    LOOP
        EXIT WHEN left_over <= 0;
        PERFORM 1 FROM backtick_jobs
        WHERE state = 'queued' AND run_at <= clock_now AND queue = q.name AND worker = ANY (claim_workers)
        LIMIT 1;
        CONTINUE WHEN NOT FOUND;
        SELECT * INTO locked FROM backtick_queues WHERE name = q.name FOR UPDATE;
        CONTINUE WHEN NOT FOUND OR locked.paused_at IS NOT NULL
            OR (locked.concurrency_limit IS NULL AND locked.rate_limit IS NULL);
        allowed := left_over;
        IF locked.concurrency_limit IS NOT NULL THEN
            SELECT count(*) INTO running FROM backtick_jobs WHERE state = 'running' AND queue = q.name;
            allowed := least(allowed, locked.concurrency_limit - running);
        END IF;
        IF locked.rate_limit IS NOT NULL THEN
            IF locked.rate_window_start IS NULL
               OR clock_now >= locked.rate_window_start + locked.rate_period_us * interval '1 microsecond' THEN
                window_start := clock_now;
                window_count := 0;
            ELSE
                window_start := locked.rate_window_start;
                window_count := locked.rate_window_count;
            END IF;
            allowed := least(allowed, locked.rate_limit - window_count);
        END IF;
        CONTINUE WHEN allowed <= 0;
        taken := 0;
        FOR claimed IN
            WITH picked AS (
                SELECT id AS picked_id
                FROM backtick_jobs
                WHERE state = 'queued'
                  AND run_at <= clock_now
                  AND worker = ANY (claim_workers)
                  AND queue = q.name
                ORDER BY priority, run_at, id
                LIMIT allowed
                FOR UPDATE SKIP LOCKED
            )
            UPDATE backtick_jobs
            SET state = 'running',
                attempt = attempt + 1,
                lease_owner = claim_owner,
                lease_expires_at = clock_now + claim_lease_us * interval '1 microsecond',
                attempted_at = clock_now,
                updated_at = clock_now
            WHERE id = ANY (ARRAY(SELECT picked_id FROM picked))
            RETURNING backtick_jobs.*
        LOOP
            taken := taken + 1;
            RETURN NEXT claimed;
        END LOOP;
        IF locked.rate_limit IS NOT NULL AND taken > 0 THEN
            UPDATE backtick_queues
            SET rate_window_start = window_start, rate_window_count = window_count + taken
            WHERE name = q.name;
        END IF;
        left_over := left_over - taken;
    END LOOP;
END;
$$;

-- When a rate-limited queue with due jobs for these workers may start jobs again: the
-- earliest end, in (due_after, due_before], of a full rate window (backtick_core::flow::
-- window_reopens); NULL when none. An idle runner sleeps until then, not polling meanwhile.
CREATE FUNCTION backtick_window_reopens(
    due_workers text[],
    due_queues text[],
    due_after timestamptz,
    due_before timestamptz
) RETURNS timestamptz
    LANGUAGE sql
    STABLE
AS $$
    SELECT min(q.rate_window_start + q.rate_period_us * interval '1 microsecond')
    FROM backtick_queues q
    WHERE q.rate_limit IS NOT NULL
      AND q.paused_at IS NULL
      AND (due_queues IS NULL OR q.name = ANY (due_queues))
      AND q.rate_window_count >= q.rate_limit
      AND q.rate_window_start + q.rate_period_us * interval '1 microsecond' > due_after
      AND q.rate_window_start + q.rate_period_us * interval '1 microsecond' <= due_before
      AND EXISTS (
          SELECT 1 FROM backtick_jobs j
          WHERE j.state = 'queued' AND j.run_at <= due_after AND j.queue = q.name
            AND j.worker = ANY (due_workers)
      );
$$;
