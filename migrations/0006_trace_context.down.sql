ALTER TABLE backtick_jobs DROP COLUMN trace_context;
