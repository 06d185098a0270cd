//! `PgStore` against the reference model of `backtick-testkit`: random operation sequences,
//! compared with the model after every step. One database; each sequence starts from an empty
//! `backtick_jobs` (sequences run one after another), much cheaper than a database each.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex, PoisonError};

use backtick_postgres::sqlx::{Executor, PgPool};
use backtick_postgres::{PgStore, QueueStore};
use backtick_testkit::model;

use common::TestDb;

#[test]
fn pg_store_matches_the_reference_model() {
    let shared: Arc<Mutex<Option<(TestDb, PgPool)>>> = Arc::default();
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
                pool.execute("DELETE FROM backtick_jobs").await.unwrap();
                Arc::new(PgStore::from_pool(pool)) as Arc<dyn QueueStore>
            }
        }
    };
    model::check_against_model(factory);
    let (db, pool) = shared.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap();
    drop(pool);
    drop(db);
}
