//! `DieselStore` against a real Postgres: the Postgres cases of `backtick-testkit` that
//! `PgStore` runs too (connect errors, lost connections, corrupt rows, migrations, NOTIFY,
//! vacuum, the claim plan, runners, enqueue inside the caller's transaction), and what only
//! diesel has: diesel-async's transaction closure, and jobs crossing between `PgStore` and
//! `DieselStore`. The full `QueueStore` contract is checked by `tests/conformance.rs` and
//! `tests/model.rs`.

#![allow(clippy::unwrap_used)]

#[path = "../backend/mod.rs"]
mod backend;

mod cross_backend;
mod transactions;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diesel_store_passes_the_postgres_cases() {
    let report = backtick_testkit::pgsuite::run_postgres_cases::<backend::Diesel>().await;
    println!("{report}");
    report.assert_all_passed();
}
