//! `PgStore` in the Postgres harness of `backtick-testkit`: what depends on sqlx.

use backtick_postgres::sqlx::{self, AssertSqlSafe, Connection, Executor, PgConnection, Postgres, Transaction};
use backtick_postgres::{
    CompletionError, Enqueued, JobContext, JobId, NewJob, PgError, PgMigrationConnection, PgStore, PgStoreConfig,
    StoreError, async_trait,
};
use backtick_testkit::pgsuite::CallerTransactions;

backtick_testkit::pg_backend! {
    /// `PgStore` (sqlx) for the shared Postgres harness.
    pub struct Sqlx {
        name: "pg",
        store: PgStore,
        config: PgStoreConfig,
        error: PgError,
        connection: PgConnection,
        open: |url| PgConnection::connect(url).await?,
        migration_connection: PgMigrationConnection,
        pool_is_closed: |store| store.pool().execute("SELECT 1").await.is_err(),
    }
}

/// Enqueue inside the caller's `sqlx::Transaction`.
#[async_trait]
impl CallerTransactions for Sqlx {
    type Transaction = Transaction<'static, Postgres>;

    async fn begin(store: &PgStore) -> Self::Transaction {
        store.pool().begin().await.expect("begin")
    }

    async fn execute(tx: &mut Self::Transaction, sql: &str) {
        let statement = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()));
        statement.execute(&mut **tx).await.expect("the caller's statement");
    }

    async fn enqueue_in(tx: &mut Self::Transaction, job: NewJob) -> Result<JobId, StoreError> {
        backtick_postgres::enqueue_in(tx, job).await
    }

    async fn enqueue_many_in(tx: &mut Self::Transaction, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError> {
        backtick_postgres::enqueue_many_in(tx, jobs).await
    }

    async fn enqueue_in_reporting(tx: &mut Self::Transaction, job: NewJob) -> Result<Enqueued, StoreError> {
        backtick_postgres::enqueue_in_reporting(tx, job).await
    }

    async fn enqueue_many_in_reporting(
        tx: &mut Self::Transaction,
        jobs: Vec<NewJob>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        backtick_postgres::enqueue_many_in_reporting(tx, jobs).await
    }

    async fn complete_in(tx: &mut Self::Transaction, ctx: &JobContext) -> Result<(), CompletionError> {
        backtick_postgres::complete_in(tx, ctx).await
    }

    async fn fail_in(tx: &mut Self::Transaction, ctx: &JobContext, reason: &str) -> Result<(), CompletionError> {
        backtick_postgres::fail_in(tx, ctx, reason).await
    }

    async fn complete_in_at(
        tx: &mut Self::Transaction,
        ctx: &JobContext,
        now: Option<backtick_postgres::Timestamp>,
    ) -> Result<(), CompletionError> {
        backtick_postgres::complete_in_at(tx, ctx, now).await
    }

    async fn fail_in_at(
        tx: &mut Self::Transaction,
        ctx: &JobContext,
        reason: &str,
        now: Option<backtick_postgres::Timestamp>,
    ) -> Result<(), CompletionError> {
        backtick_postgres::fail_in_at(tx, ctx, reason, now).await
    }

    async fn commit(tx: Self::Transaction) {
        tx.commit().await.expect("commit");
    }

    async fn rollback(tx: Self::Transaction) {
        tx.rollback().await.expect("rollback");
    }
}
