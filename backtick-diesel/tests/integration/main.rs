//! `DieselStore` against a real Postgres: the Postgres cases of `backtick-testkit` that
//! `PgStore` runs too (connect errors, lost connections, corrupt rows, migrations, NOTIFY,
//! vacuum, the claim plan, runners, enqueue inside the caller's transaction), and what only
//! diesel has: diesel-async's transaction closure, and jobs crossing between `PgStore` and
//! `DieselStore`. The full `QueueStore` contract is checked by `tests/conformance.rs` and
//! `tests/model.rs`.

#![allow(clippy::unwrap_used)]

#[path = "../backend/mod.rs"]
mod backend;

mod cross_backend;
mod transactions;

use backtick_testkit::pgsuite::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diesel_store_passes_the_postgres_cases() {
    let report = backtick_testkit::pgsuite::run_postgres_cases::<backend::Diesel>().await;
    println!("{report}");
    report.assert_all_passed();
}

/// Idle backends of the test database (other than the asking one) whose last statement was
/// a successful warm-up's end.
async fn warmed_connections(db: &TestDatabase<backend::Diesel>) -> i64 {
    db.sql()
        .await
        .integer(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state = 'idle' \
             AND query = 'ROLLBACK /* backtick: connection warmed */'",
        )
        .await
}

/// A store connected before its database was migrated cannot warm its first connection, and
/// warms none it opens then (no statement that fails for want of a schema); once `migrate`
/// ran, a connection it had and each one it opens have run the claim and enqueue statements
/// of nothing (the functions compiled, the statements planned), so no first enqueue or claim
/// on them pays for a new backend's first statements.
#[tokio::test]
async fn connections_opened_after_migrate_are_warm_for_enqueues_and_claims() {
    let db = TestDatabase::<backend::Diesel>::empty().await;
    let early = db.store().await;
    let held = [early.pool().get().await.unwrap(), early.pool().get().await.unwrap()];
    assert_eq!(warmed_connections(&db).await, 0, "nothing warmed before migrate");
    drop(held);
    early.close().await;

    let store = db.store().await;
    store.migrate().await.unwrap();
    let held = [
        store.pool().get().await.unwrap(),
        store.pool().get().await.unwrap(),
        store.pool().get().await.unwrap(),
    ];
    assert_eq!(warmed_connections(&db).await, 3, "every connection of the pool is warm");
    drop(held);
    store.close().await;
}
