//! Compile-time behaviour of the attribute macros: what must compile (`pass/`) and the exact
//! errors for what must not (`fail/`, with `.stderr` files). Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p backtick-macros --test ui`, then read every one.

#[test]
fn worker() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/worker/pass/*.rs");
    cases.compile_fail("tests/ui/worker/fail/*.rs");
}

#[test]
fn recurring() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/recurring/pass/*.rs");
    cases.compile_fail("tests/ui/recurring/fail/*.rs");
}

#[test]
fn cron() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/cron/pass/*.rs");
    cases.compile_fail("tests/ui/cron/fail/*.rs");
}
