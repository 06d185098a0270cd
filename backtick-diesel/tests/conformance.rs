//! `DieselStore` against the backend conformance suite of `backtick-testkit`, the same suite
//! `PgStore` and `MemoryStore` run. Every case gets a fresh schema (one database for the whole
//! suite): a schema with the migrations applied costs milliseconds, a database seconds.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex, PoisonError, Weak};

use backtick_diesel::DieselStore;
use backtick_diesel::admin::QueueAdmin;
use backtick_testkit::conformance;

use common::{TestDb, TestSchema};

/// Schemas handed out, with the store using each; dropped once the store is gone.
type Handed = Arc<Mutex<Vec<(Weak<DieselStore>, TestSchema)>>>;

/// Drop the schemas whose case has finished (its store was dropped).
fn reap(handed: &Handed) {
    let done: Vec<TestSchema> = {
        let mut list = handed.lock().unwrap_or_else(PoisonError::into_inner);
        let (gone, live): (Vec<_>, Vec<_>) = list.drain(..).partition(|(store, _)| store.strong_count() == 0);
        *list = live;
        gone.into_iter().map(|(_, schema)| schema).collect()
    };
    drop(done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diesel_store_passes_the_conformance_suite() {
    let db = Arc::new(TestDb::empty().await);
    let handed: Handed = Arc::default();
    let report = conformance::run_all_admin(|| {
        let (db, handed) = (db.clone(), handed.clone());
        async move {
            reap(&handed);
            let schema = db.schema().await;
            let store = Arc::new(schema.store().await);
            handed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((Arc::downgrade(&store), schema));
            store as Arc<dyn QueueAdmin>
        }
    })
    .await;
    println!("{report}");
    drop(handed);
    assert_eq!(
        report.results.len(),
        conformance::cases().len() + conformance::admin_cases().len()
    );
    report.assert_all_passed();
}
