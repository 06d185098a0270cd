DROP TABLE backtick_jobs;
DROP FUNCTION backtick_jobs_notify();
