-- Unique jobs held only while the job is in chosen states (issue 15).
--
-- `unique_states` lists the states in which a job holds its `unique_key`; NULL, the default,
-- means every state (the key holds until the job is pruned, as before). The unique index is
-- narrowed to the rows that hold their key *now*: `state = ANY(unique_states)` is part of its
-- predicate, so a job that moves to a state outside its list leaves the index in the same
-- UPDATE that changes its state (no flag to clear, no extra statement), and a new job with the
-- same key may then be inserted. The stores only accept lists that include 'queued' and
-- 'running' (a job moves between those two by itself: claim, retry, revive), so no automatic
-- transition ever brings a job back into the index; an operator's retry of a finished job whose
-- key another job holds now fails on this index.
--
-- The enqueue's ON CONFLICT names this predicate verbatim (backtick-pg-common/src/sql.rs). A
-- plain enqueue (no unique key) never touches it, and the claim index is unchanged.
ALTER TABLE backtick_jobs ADD COLUMN unique_states text[];

DROP INDEX backtick_jobs_unique_key_idx;

CREATE UNIQUE INDEX backtick_jobs_unique_key_idx
    ON backtick_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND (unique_states IS NULL OR state = ANY (unique_states));
