//! [`CallerTransactions`]: enqueue inside the caller's own transaction, as a backend offers
//! it, so that the same [transaction cases](super::run_transaction_cases) check every backend.

use async_trait::async_trait;
use backtick_core::{CompletionError, Enqueued, JobContext, JobId, NewJob, QueueStore, StoreError, Timestamp};

use super::PgBackend;

/// A backend's `enqueue_in` and `enqueue_many_in` (and their `_reporting` forms), and the caller's transaction they run in.
/// Implemented by a backend's tests by hand: this is where the drivers differ. The methods
/// that return nothing panic on failure, as a test wants.
#[async_trait]
pub trait CallerTransactions: PgBackend {
    /// The caller's open transaction, with the connection it runs on.
    type Transaction: Send;

    /// Begin a transaction on a connection of `store`'s pool.
    async fn begin(store: &Self::Store) -> Self::Transaction;

    /// Run the caller's own `sql` (no binds) inside `tx`.
    async fn execute(tx: &mut Self::Transaction, sql: &str);

    /// The backend's `enqueue_in` on `tx`.
    ///
    /// # Errors
    /// As the backend's.
    async fn enqueue_in(tx: &mut Self::Transaction, job: NewJob) -> Result<JobId, StoreError>;

    /// The backend's `enqueue_many_in` on `tx`.
    ///
    /// # Errors
    /// As the backend's.
    async fn enqueue_many_in(tx: &mut Self::Transaction, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError>;

    /// The backend's `enqueue_in_reporting` on `tx`.
    ///
    /// # Errors
    /// As the backend's.
    async fn enqueue_in_reporting(tx: &mut Self::Transaction, job: NewJob) -> Result<Enqueued, StoreError>;

    /// The backend's `enqueue_many_in_reporting` on `tx`.
    ///
    /// # Errors
    /// As the backend's.
    async fn enqueue_many_in_reporting(
        tx: &mut Self::Transaction,
        jobs: Vec<NewJob>,
    ) -> Result<Vec<Enqueued>, StoreError>;

    /// The backend's `complete_in` on `tx`: complete the job of `ctx` inside the caller's
    /// transaction, fenced by its claim.
    ///
    /// # Errors
    /// As the backend's.
    async fn complete_in(tx: &mut Self::Transaction, ctx: &JobContext) -> Result<(), CompletionError>;

    /// The backend's `fail_in` on `tx`: record the failure of the job of `ctx` (with
    /// `reason`) inside the caller's transaction, fenced by its claim.
    ///
    /// # Errors
    /// As the backend's.
    async fn fail_in(tx: &mut Self::Transaction, ctx: &JobContext, reason: &str) -> Result<(), CompletionError>;

    /// The backend's `complete_in_at` on `tx`: [`CallerTransactions::complete_in`] at an
    /// injected time (the model's).
    ///
    /// # Errors
    /// As the backend's.
    async fn complete_in_at(
        tx: &mut Self::Transaction,
        ctx: &JobContext,
        now: Option<Timestamp>,
    ) -> Result<(), CompletionError>;

    /// The backend's `fail_in_at` on `tx`: [`CallerTransactions::fail_in`] at an injected
    /// time (the model's).
    ///
    /// # Errors
    /// As the backend's.
    async fn fail_in_at(
        tx: &mut Self::Transaction,
        ctx: &JobContext,
        reason: &str,
        now: Option<Timestamp>,
    ) -> Result<(), CompletionError>;

    /// Commit `tx`.
    async fn commit(tx: Self::Transaction);

    /// Roll `tx` back.
    async fn rollback(tx: Self::Transaction);
}

/// Asserts what a rolled-back transaction leaves behind: none of the jobs `ids` it enqueued
/// exists, the store holds no job at all, and the unique key `key` one of them took is free
/// again (enqueueing it makes a new job).
///
/// # Panics
/// When any of that does not hold, or the store fails.
pub async fn assert_rolled_back(store: &dyn QueueStore, ids: &[JobId], key: &str) {
    for id in ids {
        assert_eq!(
            store.get(*id).await.expect("get"),
            None,
            "the job must vanish with the rollback"
        );
    }
    assert_eq!(store.count_by_state(None).await.expect("count").total(), 0);
    let again = store
        .enqueue(super::job().unique_key(key), None)
        .await
        .expect("enqueue");
    assert!(
        !ids.contains(&again),
        "the rolled-back job must not hold its unique key"
    );
}
