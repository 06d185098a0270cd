//! The integration test: the application's workers on a real PostgreSQL, run by a real runner.
//!
//! `TestPostgres::start()` gives this test a migrated database in a container of its own
//! (removed when `pg` drops, also if an assertion fails); the store is the application's own,
//! built from its URL (`DieselStore::connect(pg.url())` for a diesel application).

use std::sync::Arc;
use std::time::Duration;

use backtick_example_testing::{PAYMENTS, place_order};
use backtick_postgres::{JobState, PgStore, QueueStore, Runner};
use backtick_testkit::testdb::TestPostgres;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_charges_placed_orders_and_discards_empty_ones() -> Result<(), BoxError> {
    let pg = TestPostgres::start().await?;
    println!("testing on {pg}");
    let store = Arc::new(PgStore::connect(pg.url()).await?);
    let paid = place_order(&*store, 1, 500).await?;
    let empty = place_order(&*store, 2, 0).await?;

    let runner = Runner::builder(store.clone()).discovered().build()?.start();
    let finished = wait_until_nothing_is_left(&*store).await;
    runner.shutdown().await;
    finished?;

    let paid = store.get(paid).await?.ok_or("the paid order's job is gone")?;
    assert_eq!((paid.state, paid.attempt), (JobState::Done, 1));
    let empty = store.get(empty).await?.ok_or("the empty order's job is gone")?;
    assert_eq!(
        (empty.state, empty.attempt),
        (JobState::Dead, 1),
        "discarded, not retried"
    );
    assert_eq!(
        empty.last_error.as_deref(),
        Some("discarded: order 2: nothing to charge (0 cents)")
    );
    Ok(())
}

/// Polls until no payment is queued or running, for at most 30 s.
async fn wait_until_nothing_is_left(store: &dyn QueueStore) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counts = store.count_by_state(Some(PAYMENTS)).await?;
        if counts.get(JobState::Queued) + counts.get(JobState::Running) == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("payments still waiting after 30 s: {counts:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
