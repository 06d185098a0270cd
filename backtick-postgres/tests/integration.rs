//! `PgStore` against a real Postgres: the Postgres cases of `backtick-testkit` (connect
//! errors, lost connections, corrupt rows, migrations, NOTIFY, vacuum, the claim plan,
//! runners, enqueue inside the caller's `sqlx::Transaction`), and the pool's connections warm
//! after `migrate`. The full `QueueStore` contract
//! is checked by `tests/conformance.rs` and `tests/model.rs`.

#![allow(clippy::unwrap_used)]

mod backend;

use backtick_testkit::pgsuite::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_store_passes_the_postgres_cases() {
    let report = backtick_testkit::pgsuite::run_postgres_cases::<backend::Sqlx>().await;
    println!("{report}");
    report.assert_all_passed();
}

/// The statements `conn` has prepared whose text contains `text`.
async fn prepared_statements_with(conn: &mut backtick_postgres::sqlx::PgConnection, text: &str) -> i64 {
    backtick_postgres::sqlx::query_scalar("SELECT count(*) FROM pg_prepared_statements WHERE strpos(statement, $1) > 0")
        .bind(text)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A store connected before its database was migrated cannot warm its first connection, and
/// warms none it opens then (no statement that fails for want of a schema); once `migrate`
/// ran, the connection it had and each one it opens have the claim and enqueue statements
/// prepared (and so planned, the functions compiled), so no first enqueue or claim on them
/// pays for a new backend's first statements.
#[tokio::test]
async fn connections_opened_after_migrate_are_warm_for_enqueues_and_claims() {
    let db = TestDatabase::<backend::Sqlx>::empty().await;
    let early = db.store().await;
    let mut held = [
        early.pool().acquire().await.unwrap(),
        early.pool().acquire().await.unwrap(),
    ];
    for conn in &mut held {
        assert_eq!(
            prepared_statements_with(conn, "backtick").await,
            0,
            "nothing warmed before migrate"
        );
    }
    drop(held);
    early.close().await;

    let store = db.store().await;
    store.migrate().await.unwrap();
    let mut held = [
        store.pool().acquire().await.unwrap(),
        store.pool().acquire().await.unwrap(),
        store.pool().acquire().await.unwrap(),
    ];
    for conn in &mut held {
        assert_eq!(
            prepared_statements_with(conn, "INSERT INTO backtick_jobs").await,
            1,
            "the enqueue is warm"
        );
        assert_eq!(
            prepared_statements_with(conn, "FROM backtick_claim(").await,
            1,
            "the claim is warm"
        );
    }
    drop(held);
    store.close().await;
}
