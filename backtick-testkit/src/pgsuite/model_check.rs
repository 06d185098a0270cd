//! [`check_against_model`]: the reference-model property test on a migrated database (feature
//! `model`).

use std::sync::Arc;

use backtick_core::QueueStore;

use super::{PgBackend, SqlSession, TestDatabase};
use crate::model;

/// Run the [`model`](mod@crate::model) property test on a store of `B`: one migrated database,
/// whose jobs table is emptied before each sequence (sequences run one after another), much
/// cheaper than a database each. Call it from a plain `#[test]`: it runs its own runtime.
///
/// # Panics
/// When the store diverges from the model, or the test database cannot be made.
pub fn check_against_model<B: PgBackend>() {
    let fixture: Arc<tokio::sync::OnceCell<ModelFixture<B>>> = Arc::default();
    let factory = {
        let fixture = fixture.clone();
        move || {
            let fixture = fixture.clone();
            async move {
                let fixture = fixture.get_or_init(ModelFixture::new).await;
                fixture.sql.lock().await.execute("DELETE FROM backtick_jobs").await;
                Arc::new(fixture.store.clone()) as Arc<dyn QueueStore>
            }
        }
    };
    model::check_against_model(factory);
    drop(fixture);
}

/// The model test's one database, its store, and a session to empty it.
struct ModelFixture<B: PgBackend> {
    // Fields drop in order: the store and the session before their database.
    store: B::Store,
    sql: tokio::sync::Mutex<SqlSession<B>>,
    _db: TestDatabase<B>,
}

impl<B: PgBackend> ModelFixture<B> {
    async fn new() -> Self {
        let db = TestDatabase::<B>::migrated().await;
        ModelFixture {
            store: db.store().await,
            sql: tokio::sync::Mutex::new(db.sql().await),
            _db: db,
        }
    }
}
