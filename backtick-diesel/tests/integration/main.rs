//! Targeted tests of `DieselStore` against a real Postgres: enqueue inside diesel-async
//! transactions, wake-up hints, migrations, bad input and bad weather, schedules, and jobs
//! crossing between `PgStore` and `DieselStore`. The full `QueueStore` contract is checked by
//! `tests/conformance.rs` and `tests/model.rs`.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod cross_backend;
mod migrate;
mod notify;
mod schedules;
mod transactions;
mod vacuum;
