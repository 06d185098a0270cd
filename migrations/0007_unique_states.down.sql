-- Back to unique keys held until pruning. Fails when two jobs share a key (possible once keys
-- are released by state): delete or rename the older ones first.
DROP INDEX backtick_jobs_unique_key_idx;

ALTER TABLE backtick_jobs DROP COLUMN unique_states;

CREATE UNIQUE INDEX backtick_jobs_unique_key_idx
    ON backtick_jobs (unique_key)
    WHERE unique_key IS NOT NULL;
