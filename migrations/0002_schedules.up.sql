-- Recurring and cron schedules. The schedule itself (interval or cron spec, time zone, the job
-- it enqueues) lives in the application's code; the database holds only what runners must
-- agree on: the next fire time. A runner fires a schedule by moving next_run_at forward with a
-- compare-and-set (UPDATE ... WHERE name = $1 AND next_run_at = $old) in the same transaction
-- as the job's insert, so each fire time enqueues exactly one job however many runners are up.

CREATE TABLE backtick_schedules (
    name        text        PRIMARY KEY,
    -- Only runners that have this worker fire the schedule; others leave it alone.
    worker      text        NOT NULL,
    -- A canonical text of the schedule ('every 5m', 'cron 0 0 14,16 * * * UTC'). When a
    -- deployment changes it, next_run_at is recomputed; otherwise the stored one is kept.
    spec        text        NOT NULL,
    -- NULL when the schedule never fires again.
    next_run_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX backtick_schedules_due_idx ON backtick_schedules (next_run_at) WHERE next_run_at IS NOT NULL;
