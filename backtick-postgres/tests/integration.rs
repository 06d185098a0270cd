//! `PgStore` against a real Postgres: the Postgres cases of `backtick-testkit` (connect
//! errors, lost connections, corrupt rows, migrations, NOTIFY, vacuum, the claim plan,
//! runners, enqueue inside the caller's `sqlx::Transaction`). The full `QueueStore` contract
//! is checked by `tests/conformance.rs` and `tests/model.rs`.

mod backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_store_passes_the_postgres_cases() {
    let report = backtick_testkit::pgsuite::run_postgres_cases::<backend::Sqlx>().await;
    println!("{report}");
    report.assert_all_passed();
}
