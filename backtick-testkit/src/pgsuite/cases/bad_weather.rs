//! Bad weather: every connection terminated, a connection killed under a call, a closed store.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::{QueueStore, StoreError};
use futures::FutureExt;

use super::{PgCase, job, terminate_others};
use crate::pgsuite::{LISTEN_WAIT, PgBackend, TestDatabase};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(
            B,
            "bad_weather",
            calls_recover_after_the_server_terminates_every_connection
        ),
        pg_case!(
            B,
            "bad_weather",
            a_call_whose_connection_is_killed_under_it_fails_transiently_and_the_next_one_works
        ),
        pg_case!(B, "bad_weather", a_closed_store_reports_pool_closed),
        pg_case!(
            B,
            "bad_weather",
            calls_given_up_halfway_close_none_of_the_pools_connections
        ),
    ]
}

async fn calls_recover_after_the_server_terminates_every_connection<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    // Terminating every connection of a database would hit the other cases: a database of its own.
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    // Open a few pooled connections, and the listener's.
    let _hints = store.subscribe();
    assert!(B::wait_listening(&store, LISTEN_WAIT).await);
    let busy = (0..3).map(|_| store.enqueue(job(), None));
    for id in futures::future::join_all(busy).await {
        id.expect("enqueue");
    }
    let killed = terminate_others(&mut db.sql().await).await;
    assert!(
        !killed.is_empty() && killed.iter().all(|k| *k),
        "the store's connections were terminated"
    );
    assert!(
        killed.len() >= 2,
        "the pool's and the listener's connections were terminated"
    );
    let mut recovered = false;
    for _ in 0..10 {
        match store.count_by_state(None).await {
            Ok(counts) => {
                assert_eq!(counts.total(), 3);
                recovered = true;
                break;
            }
            Err(e) => assert!(e.is_transient(), "a lost connection must be a transient error: {e:?}"),
        }
    }
    assert!(recovered, "the pool did not reconnect");
    assert!(
        B::wait_listening(&store, LISTEN_WAIT).await,
        "the listener did not reconnect"
    );
}

async fn a_call_whose_connection_is_killed_under_it_fails_transiently_and_the_next_one_works<B: PgBackend>(
    _: Arc<TestDatabase<B>>,
) {
    // It terminates every store connection of its database: a database of its own.
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    let id = store.enqueue(job(), None).await.expect("enqueue");
    // Hold the job's row lock so that the store's cancel waits on it.
    let mut locker = db.sql().await;
    locker.execute("BEGIN; SELECT id FROM backtick_jobs FOR UPDATE").await;
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.cancel(id, "operator", None).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = db
        .sql()
        .await
        .booleans(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'backtick'",
        )
        .await;
    assert!(!killed.is_empty(), "the store's connections were terminated");
    let err = waiting
        .await
        .expect("the cancel task")
        .expect_err("a cancel whose connection was killed fails");
    assert!(
        err.is_transient(),
        "a connection killed under a call is a transient error: {err:?}"
    );
    locker.execute("ROLLBACK").await;
    assert!(
        store.cancel(id, "operator", None).await.expect("cancel"),
        "the next call gets a fresh connection"
    );
}

async fn calls_given_up_halfway_close_none_of_the_pools_connections<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    // A runner waiting for work gives up its `next_due` call when a job is enqueued. It counts
    // the store's sessions: a database of its own.
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    let workers = ["w".to_owned()];
    let next_due = || store.next_due(&workers, None, Duration::from_secs(1), None);
    next_due().await.expect("a first call opens a connection");
    let sessions = "SELECT pid::text FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'backtick'";
    let mut sql = db.sql().await;
    let before = sql.texts(sessions).await;
    assert!(!before.is_empty(), "the store holds a connection");
    let mut given_up = 0;
    for _ in 0..20 {
        // Polled once, then dropped: halfway through taking its connection (sqlx tests an idle
        // one before handing it out) or through its statement. On a loaded machine a call may
        // finish within its one poll.
        if next_due().now_or_never().is_none() {
            given_up += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(given_up > 0, "no call was given up halfway");
    next_due().await.expect("the store still works");
    // A connection dropped by the client leaves the server at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = sql.texts(sessions).await;
    let closed: Vec<&String> = before.iter().filter(|pid| !after.contains(pid)).collect();
    assert!(
        closed.is_empty(),
        "calls given up halfway closed the pool's connections {closed:?} (before {before:?}, after {after:?})"
    );
}

async fn a_closed_store_reports_pool_closed<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    B::close(&store).await;
    let err = store
        .enqueue(job(), None)
        .await
        .expect_err("a closed store enqueues nothing");
    assert!(matches!(err, StoreError::PoolClosed), "{err:?}");
    assert!(B::pool_is_closed(&store).await, "the store's pool is closed too");
}
