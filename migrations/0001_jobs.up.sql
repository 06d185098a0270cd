-- The job queue. One row per job; the state machine is documented in
-- docs/state-machine.md and enforced by the stores, not by triggers.
--
-- Requires PostgreSQL 13 or newer (autovacuum_vacuum_insert_scale_factor).

CREATE TABLE backtick_jobs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker           text        NOT NULL,
    queue            text        NOT NULL DEFAULT 'default',
    args             bytea       NOT NULL,
    -- No CHECK on codec: a newer release may add a codec without a migration; an older
    -- binary then reports the row as corrupt instead of the insert failing.
    codec            text        NOT NULL,
    priority         smallint    NOT NULL DEFAULT 0,
    -- text + CHECK rather than an enum type: the same column type for sqlx and diesel,
    -- and adding a state later is a one-line constraint change.
    state            text        NOT NULL DEFAULT 'queued',
    attempt          integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 20,
    run_at           timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    unique_key       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT backtick_jobs_state_check
        CHECK (state IN ('queued', 'running', 'done', 'dead', 'cancelled')),
    CONSTRAINT backtick_jobs_attempt_check CHECK (attempt >= 0),
    CONSTRAINT backtick_jobs_max_attempts_check CHECK (max_attempts >= 1),
    -- A running job always has a lease; no other state has one.
    CONSTRAINT backtick_jobs_lease_check
        CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
) WITH (
    -- Every job is updated several times (claim, heartbeats, finish): leave room on each
    -- page so the new row version lands on the same page.
    fillfactor = 70,
    -- The table churns: vacuum after ~1% of it is dead instead of the default 20%, so the
    -- partial claim index does not fill up with entries of jobs that already left 'queued'.
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 500,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0
);

-- The claim query, exactly: WHERE state = 'queued' ... ORDER BY priority, run_at, id.
-- run_at is checked inside the index, so jobs due later cost no heap visit.
CREATE INDEX backtick_jobs_claim_idx
    ON backtick_jobs (priority, run_at, id)
    WHERE state = 'queued';

-- The reviver: running jobs whose lease ran out, oldest lease first.
CREATE INDEX backtick_jobs_lease_idx
    ON backtick_jobs (lease_expires_at)
    WHERE state = 'running';

-- The pruner: finished jobs, oldest first.
CREATE INDEX backtick_jobs_prune_idx
    ON backtick_jobs (finished_at)
    WHERE state IN ('done', 'dead', 'cancelled');

-- At most one job per unique key until it is pruned.
CREATE UNIQUE INDEX backtick_jobs_unique_key_idx
    ON backtick_jobs (unique_key)
    WHERE unique_key IS NOT NULL;

-- Wake-up hints: one NOTIFY per distinct queue per INSERT statement, whichever backend,
-- caller transaction or hand-written SQL did the insert. NOTIFY is transactional, so a job
-- enqueued inside a transaction that rolls back wakes no one.
CREATE FUNCTION backtick_jobs_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('backtick_jobs', q.queue)
    FROM (SELECT DISTINCT queue FROM backtick_new_jobs WHERE state = 'queued') AS q;
    RETURN NULL;
END;
$$;

CREATE TRIGGER backtick_jobs_notify
    AFTER INSERT ON backtick_jobs
    REFERENCING NEW TABLE AS backtick_new_jobs
    FOR EACH STATEMENT
    EXECUTE FUNCTION backtick_jobs_notify();
