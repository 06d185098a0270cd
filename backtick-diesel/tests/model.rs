//! `DieselStore` against the reference model of `backtick-testkit`, the same property test
//! `PgStore` runs: random operation sequences, compared with the model after every step.

mod backend;

#[test]
fn diesel_store_matches_the_reference_model() {
    backtick_testkit::pgsuite::check_against_model::<backend::Diesel>();
}
