//! How to test an application's backtick workers: copy this crate.
//!
//! - `src/lib.rs` (this file): the application's worker and the code that enqueues it, and at
//!   the bottom its unit tests: the worker run directly with `backtick_testkit::assert::work_job`
//!   (no runner, no database), and the enqueue checked on the in-memory `MemoryStore`.
//! - `tests/postgres.rs`: the integration test: a migrated PostgreSQL in a container of its
//!   own (`backtick_testkit::testdb::TestPostgres`), a real runner, and the jobs' end states.
//!
//! ```sh
//! cargo test -p backtick-example-testing
//! ```
//!
//! The integration test needs a Docker engine that has (or can pull) the image in
//! `BACKTICK_TEST_POSTGRES_IMAGE` (default `postgres:17-alpine`); without one it says so in one
//! line and runs on the test server `BACKTICK_TEST_DATABASE_URL` names instead.

use backtick_postgres::{Error, JobError, JobId, QueueStore};

/// The queue payments run on.
pub const PAYMENTS: &str = "payments";

/// Charges an order. An amount that is not positive can never succeed, so the job is
/// discarded (it goes dead at once) instead of being retried.
///
/// # Errors
/// A discard when `cents` is not positive.
#[backtick_postgres::worker(name = "shop.charge_order", queue = "payments", max_attempts = 3)]
pub async fn charge_order(order_id: i64, cents: i64) -> Result<(), JobError> {
    if cents <= 0 {
        return Err(JobError::discard(format!(
            "order {order_id}: nothing to charge ({cents} cents)"
        )));
    }
    tracing::info!(order_id, cents, "charged");
    Ok(())
}

/// What the application does when an order is placed: enqueue its charge.
///
/// # Errors
/// When the store fails.
pub async fn place_order(store: &dyn QueueStore, order_id: i64, cents: i64) -> Result<JobId, Error> {
    charge_order::schedule(store, order_id, cents).await
}

/// Unit tests: no database, no runner, no container.
#[cfg(test)]
mod tests {
    use backtick_postgres::{Outcome, Transition};
    use backtick_testkit::MemoryStore;
    use backtick_testkit::assert::{assert_enqueued, work_job};

    use super::*;

    #[tokio::test]
    async fn a_positive_amount_is_charged() {
        work_job(&charge_order::worker(), &(1, 500)).await.assert_completed();
    }

    #[tokio::test]
    async fn nothing_to_charge_is_discarded_not_retried() {
        let worked = work_job(&charge_order::worker(), &(2, 0)).await;

        assert_eq!(
            worked.outcome,
            Outcome::Discarded {
                error: "order 2: nothing to charge (0 cents)".into()
            }
        );
        assert!(matches!(worked.transition, Transition::Dead { .. }), "{worked:?}");
    }

    #[tokio::test]
    async fn placing_an_order_enqueues_its_charge_on_the_payments_queue() {
        let store = MemoryStore::new();

        place_order(&store, 7, 1_250)
            .await
            .expect("enqueue on the memory store");

        let job = assert_enqueued(&store, "shop.charge_order", &(7, 1_250)).await;
        assert_eq!((job.queue.as_str(), job.max_attempts), (PAYMENTS, 3));
    }
}
