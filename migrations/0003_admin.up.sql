-- The operator layer: attempt history, cancellation requests, paused queues, registered
-- runners, and schedule pause / last fire / run-now requests. The statements that use it
-- are in backtick-migrations/src/admin_sql.rs; the design is in docs/design.md.
--
-- The hot path (claim, finish) must not slow down. Claims and finishes are never HOT
-- updates (they change indexed columns), so every index on backtick_jobs gets an entry per
-- claim and per finish: no new index here covers jobs in 'queued', 'running' or 'done'. None
-- of the new columns is indexed, and the ones a job normally carries are narrow: the claim
-- sets attempted_at, a finish copies lease_owner to attempted_by, and only an attempt after
-- which the job goes back to the queue appends a record to attempts.

ALTER TABLE backtick_jobs
    -- When the latest attempt was claimed (set by the claim).
    ADD COLUMN attempted_at timestamptz,
    -- The runner of the latest attempt once it ended (lease_owner is cleared then).
    ADD COLUMN attempted_by text,
    -- Earlier attempts: a JSON array of records {attempt, runner, started_at, finished_at,
    -- outcome, error}, oldest first, one per attempt after which the job went back to the
    -- queue, at most 25 (the newest). NULL until the first. The latest attempt of a running
    -- or finished job is read from attempt, attempted_at and attempted_by.
    ADD COLUMN attempts jsonb,
    -- An operator asked for this running job to be cancelled: its runner stops it, and a
    -- finish or revive that would requeue it ends it 'cancelled' instead.
    ADD COLUMN cancel_requested_at timestamptz,
    ADD COLUMN cancel_reason text,
    -- NOT VALID: the new columns are NULL in every existing row, so there is nothing to
    -- check, and validating would scan the whole table under an exclusive lock.
    ADD CONSTRAINT backtick_jobs_cancel_request_check
        CHECK ((cancel_requested_at IS NULL) = (cancel_reason IS NULL)
               AND (cancel_requested_at IS NULL OR state = 'running')) NOT VALID;

-- Listing and counting dead and cancelled jobs, newest first, on a table of millions of done
-- jobs. Partial: a job gets an entry only when it dies or is cancelled, never on the hot path.
-- (Queued jobs are found through backtick_jobs_claim_idx, running ones through
-- backtick_jobs_lease_idx, done ones are most of the table: a walk of the primary key finds
-- them.)
CREATE INDEX backtick_jobs_failed_idx
    ON backtick_jobs (id)
    WHERE state IN ('dead', 'cancelled');

-- Queues an operator paused (and, later, other per-queue settings). A claim reads the paused
-- names once per statement and skips their jobs; a row is kept when the queue is resumed.
CREATE TABLE backtick_queues (
    name       text        PRIMARY KEY,
    paused_at  timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Live runners: each registers on start, refreshes its row on every heartbeat (expires_at =
-- now + its lease TTL) and deletes it on shutdown. A row past expires_at is a stale runner;
-- rows stale for a day are deleted by the next registration.
CREATE TABLE backtick_runners (
    id           text        PRIMARY KEY,
    host         text        NOT NULL,
    pid          bigint      NOT NULL,
    version      text        NOT NULL,
    -- NULL: every queue.
    queues       text[],
    workers      text[]      NOT NULL,
    -- The names of the recurring and cron schedules it declares: a stored schedule that no
    -- live runner declares is stale.
    schedules    text[]      NOT NULL,
    concurrency  integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- The time zone of a cron schedule is the last word of its canonical spec ('cron 0 0 9 * *
-- MON-FRI Europe/Paris'), so it needs no column of its own.
ALTER TABLE backtick_schedules
    -- Paused: fire times still advance, but enqueue nothing.
    ADD COLUMN paused_at timestamptz,
    -- The fire time of the last fire that enqueued a job (or the time of the last run-now).
    ADD COLUMN last_fired_at timestamptz,
    -- A pending run-now request; a runner clears it (compare-and-set) as it enqueues the job.
    ADD COLUMN run_requested_at timestamptz;
