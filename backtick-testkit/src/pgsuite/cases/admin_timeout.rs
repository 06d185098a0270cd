//! The database's bound on admin reads: the server cancels an admin read's statement that runs
//! longer than the store's `admin_statement_timeout`, and the setting does not outlive the read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backtick_core::admin::{CountQuery, JobQuery, PageRequest, QueueAdmin};

use backtick_core::QueueStore;

use super::PgCase;
use crate::pgsuite::{PgBackend, PoolSettings, TestDatabase};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![pg_case!(
        B,
        "admin_timeout",
        an_admin_read_past_the_statement_timeout_is_cancelled_by_the_server
    )]
}

async fn an_admin_read_past_the_statement_timeout_is_cancelled_by_the_server<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let timeout = Duration::from_millis(300);
    let store = B::connect(
        &schema.url(),
        &PoolSettings::default().admin_statement_timeout(Some(timeout)),
    )
    .await
    .expect("connect");
    // Every read of the jobs table waits for this lock: each read below would wait forever.
    let mut locker = schema.sql().await;
    locker.execute("BEGIN").await;
    locker
        .execute("LOCK TABLE backtick_jobs IN ACCESS EXCLUSIVE MODE")
        .await;

    let started = Instant::now();
    let counted = store.count_jobs(&CountQuery::default()).await;
    let listed = store.list_jobs(&JobQuery::default(), &PageRequest::first(10)).await;
    let waited = started.elapsed();
    for (read, result) in [("count_jobs", counted.map(drop)), ("list_jobs", listed.map(drop))] {
        let error = result.expect_err(&format!("{read} is cut off while the table is locked"));
        assert!(
            error
                .to_string()
                .contains("canceling statement due to statement timeout"),
            "{read} says why it failed: {error}"
        );
    }
    assert!(
        waited >= timeout * 2 && waited < Duration::from_secs(4),
        "each read waited about the timeout, not forever: {waited:?}"
    );

    locker.execute("ROLLBACK").await;
    let counts = store
        .count_jobs(&CountQuery::default())
        .await
        .expect("the same store reads once the lock is gone");
    assert_eq!(counts.groups.len(), 0, "an empty table");
    // The setting was local to each read's transaction: a plain statement on the store's
    // connections runs unbounded (a lock wait longer than the admin timeout still succeeds).
    locker.execute("BEGIN").await;
    locker
        .execute("LOCK TABLE backtick_jobs IN ACCESS EXCLUSIVE MODE")
        .await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(timeout * 2).await;
        locker.execute("ROLLBACK").await;
    });
    store
        .enqueue(super::job(), None)
        .await
        .expect("an enqueue waiting longer than the admin timeout is not cancelled");
    release.await.expect("release task");
}
