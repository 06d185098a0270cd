//! # backtick-testkit
//!
//! Testing tools for backtick:
//!
//! - [`MemoryStore`]: the whole [`QueueStore`](backtick_core::QueueStore) and
//!   [`QueueAdmin`](backtick_core::admin::QueueAdmin) contract in memory, the reference
//!   semantics every backend must match;
//! - [`conformance`]: the backend conformance suite, one set of cases every backend runs
//!   against fresh stores from its own factory (`run_all`; `run_all_admin` adds the admin
//!   cases for a store that implements `QueueAdmin`);
//! - [`model`]: a property test that compares a store with a small reference model on random
//!   sequences of claims, failures, crashes, revives and operator actions;
//! - [`assert`](mod@assert): run one job through a worker without a runner, and assert what is queued;
//! - [`testdb`]: find or start a PostgreSQL server for tests;
//! - [`scene`]: a queue as an operator finds it (every state, failures, a paused queue,
//!   runners, schedules), seeded on any store for the tests of operator tools;
//! - [`pgsuite`]: the Postgres backend harness: the suite, the model and the Postgres cases on
//!   fresh schemas for any Postgres backend, and the test databases its own tests use.
//!
//! # Testing a backend
//!
//! A backend's `tests/conformance.rs` hands the suite a factory of fresh stores (for a
//! database backend, a fresh schema or database per call) and asserts that every case
//! passed; its property test hands the same kind of factory to the model:
//!
//! ```
//! # extern crate backtick_core as backtick_postgres;
//! use std::sync::Arc;
//! use backtick_postgres::QueueStore;
//! use backtick_testkit::{MemoryStore, conformance, model};
//!
//! // A real backend would connect to a fresh database here.
//! async fn fresh_store() -> Arc<dyn QueueStore> {
//!     Arc::new(MemoryStore::new())
//! }
//!
//! // In `#[tokio::test(flavor = "multi_thread")] async fn ...`:
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let report = conformance::run_all(fresh_store).await;
//! report.assert_all_passed(); // panics listing every failed case and why
//! # });
//!
//! // In a plain `#[test] fn ...` (it runs its own runtime; PROPTEST_CASES sets the count):
//! model::check_against_model(fresh_store);
//! ```

// Feature badges on docs.rs (which builds with `--cfg docsrs` on nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod assert;
pub mod conformance;
pub mod intercept;
mod memory;
#[cfg(feature = "model")]
pub mod model;
pub mod pgsuite;
pub mod runner_checks;
pub mod scene;
pub mod testdb;

pub use memory::MemoryStore;

/// The text of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}
