//! `DieselStore` against the backend conformance suite of `backtick-testkit`, the same suite
//! `PgStore` and `MemoryStore` run, each case on a fresh schema.

mod backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diesel_store_passes_the_conformance_suite() {
    let report = backtick_testkit::pgsuite::conformance::<backend::Diesel>().await;
    println!("{report}");
    report.assert_all_passed();
}
