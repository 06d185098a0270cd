//! The reference store agrees with the reference model on random operation sequences.
//! `PROPTEST_CASES` sets how many (default 256).

use std::sync::Arc;

use backtick_core::QueueStore;
use backtick_testkit::{MemoryStore, model};

#[test]
fn memory_store_matches_the_state_machine_model() {
    model::check_against_model(|| async { Arc::new(MemoryStore::new()) as Arc<dyn QueueStore> });
}
