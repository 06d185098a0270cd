//! The reference store agrees with the reference model on random operation sequences.
//! `PROPTEST_CASES` sets how many (default 256).

use std::sync::Arc;

use backtick_core::QueueStore;
use backtick_testkit::model::TransactionalCompletion;
use backtick_testkit::{MemoryStore, model};
use proptest::test_runner::Config;

#[test]
fn memory_store_matches_the_state_machine_model() {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    model::check_transactional_against_model(config, || async {
        let store = MemoryStore::new();
        (
            Arc::new(store.clone()) as Arc<dyn QueueStore>,
            Arc::new(store) as Arc<dyn TransactionalCompletion>,
        )
    });
}
