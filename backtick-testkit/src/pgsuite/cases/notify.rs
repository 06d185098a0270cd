//! Wake-up hints through LISTEN/NOTIFY on the listener's dedicated connection. NOTIFY reaches
//! every listener of a database, so each case has a database of its own.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::{Codec, NewJob, QueueStore};

use super::PgCase;
use crate::pgsuite::{LISTEN_WAIT, PgBackend, TestDatabase, drain_hints};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(B, "notify", one_enqueue_statement_sends_one_hint_per_distinct_queue),
        pg_case!(B, "notify", the_listener_reconnects_after_its_connection_is_terminated),
    ]
}

fn job(queue: &str) -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor).queue(queue)
}

async fn one_enqueue_statement_sends_one_hint_per_distinct_queue<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("the store has hints");
    assert!(
        B::wait_listening(&store, LISTEN_WAIT).await,
        "the listener did not come up"
    );
    let batch: Vec<NewJob> = (0..60).map(|i| job(["a", "b", "c"][i % 3])).collect();
    store.enqueue_many(batch, None).await.expect("enqueue");
    let got = drain_hints(&mut hints, Duration::from_millis(500)).await;
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec!["a", "b", "c"],
        "one statement, so one hint per queue, not per job: {got:?}"
    );
}

async fn the_listener_reconnects_after_its_connection_is_terminated<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("the store has hints");
    assert!(
        B::wait_listening(&store, LISTEN_WAIT).await,
        "the listener did not come up"
    );
    let killed = db
        .sql()
        .await
        .booleans(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
        )
        .await;
    assert_eq!(killed, vec![true], "exactly the listener's connection is terminated");
    // Hints sent while it reconnects are lost by design: keep enqueueing until one arrives.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        store.enqueue(job("after_restart"), None).await.expect("enqueue");
        if drain_hints(&mut hints, Duration::from_millis(200))
            .await
            .iter()
            .any(|q| q == "after_restart")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no hint arrived after the listener's connection was terminated"
        );
    }
}
