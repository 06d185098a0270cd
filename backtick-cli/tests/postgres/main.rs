//! Every subcommand of the built `backtick` binary against a real Postgres: a fresh database
//! per test on the test server (BACKTICK_TEST_DATABASE_URL or the workspace cluster), seeded
//! by really running a runner with the workers and schedules of [`workers`]. `--json` output
//! is parsed back; bad input is one line, exit 1, and leaves the database as it was.

// Test support code outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod cancel;
mod jobs;
mod operate;
mod support;
mod workers;
