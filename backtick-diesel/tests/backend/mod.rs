//! `DieselStore` in the Postgres harness of `backtick-testkit`: what depends on diesel-async.

use backtick_diesel::diesel_async::pooled_connection::deadpool::Object;
use backtick_diesel::diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
};
use backtick_diesel::{
    CompletionError, DieselError, DieselMigrationConnection, DieselStore, DieselStoreConfig, Enqueued, JobContext,
    JobId, NewJob, StoreError, async_trait,
};
use backtick_testkit::pgsuite::CallerTransactions;

backtick_testkit::pg_backend! {
    /// `DieselStore` (diesel-async) for the shared Postgres harness.
    pub struct Diesel {
        name: "diesel",
        store: DieselStore,
        config: DieselStoreConfig,
        error: DieselError,
        connection: AsyncPgConnection,
        open: |url| AsyncPgConnection::establish(url).await?,
        migration_connection: DieselMigrationConnection,
        pool_is_closed: |store| store.pool().get().await.is_err(),
    }
}

/// Enqueue inside a transaction the caller opened on a pooled connection.
#[async_trait]
impl CallerTransactions for Diesel {
    type Transaction = Object<AsyncPgConnection>;

    async fn begin(store: &DieselStore) -> Self::Transaction {
        let mut conn = store.pool().get().await.expect("a pooled connection");
        AnsiTransactionManager::begin_transaction(&mut *conn)
            .await
            .expect("begin");
        conn
    }

    async fn execute(conn: &mut Self::Transaction, sql: &str) {
        conn.batch_execute(sql).await.expect("the caller's statement");
    }

    async fn enqueue_in(conn: &mut Self::Transaction, job: NewJob) -> Result<JobId, StoreError> {
        backtick_diesel::enqueue_in(conn, job).await
    }

    async fn enqueue_many_in(conn: &mut Self::Transaction, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError> {
        backtick_diesel::enqueue_many_in(conn, jobs).await
    }

    async fn enqueue_in_reporting(conn: &mut Self::Transaction, job: NewJob) -> Result<Enqueued, StoreError> {
        backtick_diesel::enqueue_in_reporting(conn, job).await
    }

    async fn enqueue_many_in_reporting(
        conn: &mut Self::Transaction,
        jobs: Vec<NewJob>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        backtick_diesel::enqueue_many_in_reporting(conn, jobs).await
    }

    async fn complete_in(conn: &mut Self::Transaction, ctx: &JobContext) -> Result<(), CompletionError> {
        backtick_diesel::complete_in(conn, ctx).await
    }

    async fn fail_in(conn: &mut Self::Transaction, ctx: &JobContext, reason: &str) -> Result<(), CompletionError> {
        backtick_diesel::fail_in(conn, ctx, reason).await
    }

    async fn complete_in_at(
        conn: &mut Self::Transaction,
        ctx: &JobContext,
        now: Option<backtick_diesel::Timestamp>,
    ) -> Result<(), CompletionError> {
        backtick_diesel::complete_in_at(conn, ctx, now).await
    }

    async fn fail_in_at(
        conn: &mut Self::Transaction,
        ctx: &JobContext,
        reason: &str,
        now: Option<backtick_diesel::Timestamp>,
    ) -> Result<(), CompletionError> {
        backtick_diesel::fail_in_at(conn, ctx, reason, now).await
    }

    async fn commit(mut conn: Self::Transaction) {
        AnsiTransactionManager::commit_transaction(&mut *conn)
            .await
            .expect("commit");
    }

    async fn rollback(mut conn: Self::Transaction) {
        AnsiTransactionManager::rollback_transaction(&mut *conn)
            .await
            .expect("rollback");
    }
}
