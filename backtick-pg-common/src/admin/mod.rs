//! The admin contract (`backtick_core::admin::QueueAdmin` and the runner-side `QueueStore`
//! methods that came with it), less the driver: the parameters each statement of
//! [`crate::admin_sql`] binds, built from core's types, and core's types assembled from the
//! plain values a backend decoded from the rows. A backend binds and decodes with its driver
//! and does nothing else, so the two backends cannot drift apart.

mod actions;
mod health;
mod list;
mod rows;

pub use actions::{action_report, check_batch};
pub use health::{FinishedParams, diagnostics, diagnostics_claim, expected_indexes};
pub use list::{
    ARGS_CHUNK_FIRST, ARGS_CHUNK_MAX, CountParams, ListParams, Scanned, finish_page, list_page, queue_infos,
};
pub use rows::{
    RunnerRow, ScheduleRow, cancel_request, job_detail, runner_record, schedule_not_written, unknown_queue,
};
