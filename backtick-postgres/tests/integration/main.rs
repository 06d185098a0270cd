//! Targeted tests of `PgStore` against a real Postgres: the claim plan, concurrency, enqueue
//! inside transactions, wake-up hints, migrations and bad input. The full `QueueStore`
//! contract is checked by `tests/conformance.rs` and `tests/model.rs`.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod claim;
mod migrate;
mod notify;
mod runner;
mod transactions;
mod vacuum;
