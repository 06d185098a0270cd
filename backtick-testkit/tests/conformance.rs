//! The reference store passes the whole backend conformance suite, admin cases included.

use std::sync::Arc;

use backtick_core::QueueStore;
use backtick_core::admin::QueueAdmin;
use backtick_testkit::{MemoryStore, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_every_conformance_case() {
    let report = conformance::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn QueueStore> }).await;
    println!("{report}");
    report.assert_all_passed();
    assert_eq!(report.results.len(), conformance::cases().len(), "every case ran");
    assert!(report.results.len() >= 40, "the suite has at least 40 cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_every_admin_conformance_case() {
    let report = conformance::run_all_admin(|| async { Arc::new(MemoryStore::new()) as Arc<dyn QueueAdmin> }).await;
    println!("{report}");
    report.assert_all_passed();
    assert_eq!(
        report.results.len(),
        conformance::cases().len() + conformance::admin_cases().len(),
        "every case ran, the admin ones and the others"
    );
    assert!(
        conformance::admin_cases().len() >= 40,
        "the admin suite has at least 40 cases"
    );
}

#[test]
fn case_names_are_unique_sentences() {
    let cases = conformance::cases();
    let admin_cases = conformance::admin_cases();
    let mut names: Vec<&str> = cases
        .iter()
        .map(|case| case.name)
        .chain(admin_cases.iter().map(|case| case.name))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len() + admin_cases.len(), "two cases share a name");
    assert!(
        names.iter().all(|name| name.split('_').count() >= 3),
        "names read as sentences: {names:?}"
    );
}
