//! `DieselStore` against the reference model of `backtick-testkit`, the same property test
//! `PgStore` runs: random operation sequences, compared with the model after every step. One
//! database; each sequence starts from an empty `backtick_jobs` (sequences run one after
//! another), much cheaper than a database each.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex, PoisonError};

use backtick_diesel::diesel_async::SimpleAsyncConnection;
use backtick_diesel::{DieselPool, DieselStore, QueueStore};
use backtick_testkit::model;

use common::TestDb;

#[test]
fn diesel_store_matches_the_reference_model() {
    let shared: Arc<Mutex<Option<(TestDb, DieselPool)>>> = Arc::default();
    let factory = {
        let shared = shared.clone();
        move || {
            let shared = shared.clone();
            async move {
                let existing = shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                    .map(|(_, pool)| pool.clone());
                let pool = match existing {
                    Some(pool) => pool,
                    None => {
                        let db = TestDb::migrated().await;
                        let pool = db.store().await.pool().clone();
                        *shared.lock().unwrap_or_else(PoisonError::into_inner) = Some((db, pool.clone()));
                        pool
                    }
                };
                pool.get()
                    .await
                    .unwrap()
                    .batch_execute("DELETE FROM backtick_jobs")
                    .await
                    .unwrap();
                Arc::new(DieselStore::from_pool(pool)) as Arc<dyn QueueStore>
            }
        }
    };
    model::check_against_model(factory);
    let (db, pool) = shared.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap();
    pool.close();
    drop(pool);
    drop(db);
}
