//! `PgStore` against a real Postgres: the Postgres cases of `backtick-testkit` (connect
//! errors, lost connections, corrupt rows, migrations, NOTIFY, vacuum, the claim plan,
//! runners), and what only sqlx has: enqueue inside the caller's transaction. The full
//! `QueueStore` contract is checked by `tests/conformance.rs` and `tests/model.rs`.

#![allow(clippy::unwrap_used)]

#[path = "../backend/mod.rs"]
mod backend;

mod notify;
mod transactions;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_store_passes_the_postgres_cases() {
    let report = backtick_testkit::pgsuite::run_postgres_cases::<backend::Sqlx>().await;
    println!("{report}");
    report.assert_all_passed();
}
