//! [`check_against_model`]: the reference-model property test on a migrated database (feature
//! `model`).

use std::sync::Arc;

use async_trait::async_trait;
use backtick_core::{CompletionError, JobContext, QueueStore, Timestamp};
use proptest::test_runner::Config;

use super::{CallerTransactions, PgBackend, SqlSession, TestDatabase};
use crate::model::{self, TransactionalCompletion};

/// Run the [`model`](mod@crate::model) property test on a store of `B`: one migrated database,
/// whose jobs, queues and dependency tables are emptied before each sequence (sequences run one after another), much
/// cheaper than a database each. Call it from a plain `#[test]`: it runs its own runtime.
///
/// # Panics
/// When the store diverges from the model, or the test database cannot be made.
pub fn check_against_model<B: CallerTransactions>() {
    let fixture: Arc<tokio::sync::OnceCell<ModelFixture<B>>> = Arc::default();
    let factory = {
        let fixture = fixture.clone();
        move || {
            let fixture = fixture.clone();
            async move {
                let fixture = fixture.get_or_init(ModelFixture::new).await;
                let mut sql = fixture.sql.lock().await;
                sql.execute("DELETE FROM backtick_jobs").await;
                // Queue limits and waiting edges, which the sequences set too.
                sql.execute("DELETE FROM backtick_queues").await;
                sql.execute("DELETE FROM backtick_job_deps").await;
                let store = Arc::new(fixture.store.clone()) as Arc<dyn QueueStore>;
                let transactions = Arc::new(Transactions::<B> {
                    store: fixture.store.clone(),
                }) as Arc<dyn TransactionalCompletion>;
                (store, transactions)
            }
        }
    };
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    model::check_transactional_against_model(config, factory);
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

/// The model's transactions on a store of `B`: a real transaction on the store's pool
/// ([`CallerTransactions::begin`]), the backend's `complete_in_at` or `fail_in_at` in it, then
/// a commit or a rollback.
struct Transactions<B: CallerTransactions> {
    store: B::Store,
}

#[async_trait]
impl<B: CallerTransactions> TransactionalCompletion for Transactions<B> {
    async fn complete_in_tx(&self, ctx: &JobContext, now: Timestamp, commit: bool) -> Result<(), CompletionError> {
        let mut tx = B::begin(&self.store).await;
        let result = B::complete_in_at(&mut tx, ctx, Some(now)).await;
        end::<B>(tx, commit && result.is_ok()).await;
        result
    }

    async fn fail_in_tx(
        &self,
        ctx: &JobContext,
        reason: &str,
        now: Timestamp,
        commit: bool,
    ) -> Result<(), CompletionError> {
        let mut tx = B::begin(&self.store).await;
        let result = B::fail_in_at(&mut tx, ctx, reason, Some(now)).await;
        end::<B>(tx, commit && result.is_ok()).await;
        result
    }
}

/// Commit `tx`, or roll it back.
async fn end<B: CallerTransactions>(tx: B::Transaction, commit: bool) {
    if commit {
        B::commit(tx).await;
    } else {
        B::rollback(tx).await;
    }
}
