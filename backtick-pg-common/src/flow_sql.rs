//! The statements of flow control (queue limits, job dependencies), beside [`crate::sql`]: one
//! text for both backends. The rules are core's (`backtick_core::flow`); the functions and the
//! trigger that translate them are in `migrations/0008_flow.up.sql`.

/// `$1` now, `$2` workers, `$3` queues or NULL, `$4` limit, `$5` runner id, `$6` lease in
/// microseconds, as [`crate::sql::CLAIM`]: one call of `backtick_claim_limited`, which claims
/// from each limited queue under a row lock of its `backtick_queues` row at most what its
/// concurrency and rate window allow.
pub const CLAIM_LIMITED: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM backtick_claim_limited($1::timestamptz, $2::text[], $3::text[], $4::int8, $5::text, $6::int8)"
);

/// `$1` queue, `$2` concurrency, `$3` rate (jobs), `$4` rate period in microseconds (each NULL
/// for none), `$5` now. Creates the queue's row if needed; a rate window in progress is kept.
pub const SET_QUEUE_LIMITS: &str = "
INSERT INTO backtick_queues AS q (name, concurrency_limit, rate_limit, rate_period_us, updated_at)
VALUES ($1, $2::int4, $3::int4, $4::int8, coalesce($5::timestamptz, now()))
ON CONFLICT (name) DO UPDATE SET
    concurrency_limit = excluded.concurrency_limit,
    rate_limit = excluded.rate_limit,
    rate_period_us = excluded.rate_period_us,
    updated_at = excluded.updated_at";

/// The queues with limits: `name`, `concurrency_limit`, `rate_limit`, `rate_period_us`.
pub const QUEUE_LIMITS: &str = "
SELECT name, concurrency_limit, rate_limit, rate_period_us FROM backtick_queues
WHERE concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL
ORDER BY name";

/// `$1` ids of the stored parents of a job graph: lock them in id order (as the fenced writes
/// lock jobs, so neither deadlocks the other), mark them as having dependents, and return
/// `id`, `state` as they are once locked (a concurrent finish has committed or waits).
pub const GRAPH_LOCK_PARENTS: &str = "
WITH locked AS (
    SELECT id FROM backtick_jobs WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE
)
UPDATE backtick_jobs j SET has_dependents = true
FROM locked l
WHERE j.id = l.id
RETURNING j.id, j.state";

/// [`crate::sql::ENQUEUE_PLAIN`] with a start state per job: `$1` now, `$2..$10` as there,
/// `$11` states (`pending`, `queued` or `cancelled`), `$12` last errors (the reason of a
/// cancelled one), `$13` whether another job of the graph waits for it. Returns `id` in input
/// order once sorted ascending.
pub const GRAPH_INSERT: &str = "
WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now)
INSERT INTO backtick_jobs
    (worker, queue, args, codec, priority, max_attempts, run_at, trace_context, state, last_error,
     finished_at, has_dependents, created_at, updated_at)
SELECT t.worker, t.queue, t.args, t.codec, t.priority, t.max_attempts,
       coalesce(t.run_at, c.now + coalesce(t.delay_us, 0) * interval '1 microsecond'), t.trace_context,
       t.state, t.last_error, CASE WHEN t.state = 'cancelled' THEN c.now END, t.has_dependents,
       c.now, c.now
FROM clock c,
     unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::int2[], $7::int4[],
            $8::timestamptz[], $9::int8[], $10::text[], $11::text[], $12::text[], $13::bool[])
         WITH ORDINALITY AS t(worker, queue, args, codec, priority, max_attempts, run_at, delay_us,
                              trace_context, state, last_error, has_dependents, ord)
ORDER BY t.ord
RETURNING id";

/// `$1` pending jobs, `$2` the parent each waits for (one row per pair).
pub const GRAPH_EDGES: &str = "
INSERT INTO backtick_job_deps (job_id, parent_id)
SELECT * FROM unnest($1::int8[], $2::int8[])
ON CONFLICT DO NOTHING";
