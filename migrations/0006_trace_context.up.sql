-- The trace a job continues: the W3C `traceparent` (and, after a newline, the `tracestate`)
-- of the span a job was enqueued in, when the application installed a trace propagator
-- (backtick_core::telemetry::TracePropagation). NULL for jobs enqueued outside a trace. The
-- job's `backtick.job` span continues that trace when it runs. Nullable and without a default,
-- so adding it rewrites no row and a job without a trace stores nothing more.
ALTER TABLE backtick_jobs ADD COLUMN trace_context text;
