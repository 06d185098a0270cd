DROP FUNCTION backtick_list_jobs(text, bool, text[], int8[], int8, int8, int8, text, text, text, text,
                                 timestamptz, timestamptz, timestamptz, timestamptz, int8);
DROP FUNCTION backtick_count_jobs(int8, text, text[]);
DROP INDEX backtick_jobs_cancelled_idx;
DROP INDEX backtick_jobs_dead_idx;
CREATE INDEX backtick_jobs_failed_idx
    ON backtick_jobs (id)
    WHERE state IN ('dead', 'cancelled');
