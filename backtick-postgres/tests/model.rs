//! `PgStore` against the reference model of `backtick-testkit`: random operation sequences,
//! compared with the model after every step.

mod backend;

#[test]
fn pg_store_matches_the_reference_model() {
    backtick_testkit::pgsuite::check_against_model::<backend::Sqlx>();
}
