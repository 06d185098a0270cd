//! Migrations through diesel-async against a real database.

use std::sync::Arc;

use backtick_diesel::diesel::sql_types::{Bool, Text};
use backtick_diesel::diesel::{self, QueryableByName};
use backtick_diesel::diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use backtick_diesel::{
    DieselMigrationConnection, DieselStore, MigrateError, MigrationState, Migrator, backtick_migrations,
};

use crate::common::TestDb;

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

async fn table_exists(store: &DieselStore, table: &str) -> bool {
    let row: Exists =
        diesel::sql_query("SELECT coalesce(to_regclass($1)::oid, to_regproc($1)::oid) IS NOT NULL AS exists")
            .bind::<Text, _>(table)
            .get_result(&mut *store.pool().get().await.unwrap())
            .await
            .unwrap();
    row.exists
}

#[tokio::test]
async fn migrate_applies_every_migration_once() {
    let db = TestDb::empty().await;
    let store = db.store().await;
    let applied = store.migrate().await.unwrap();
    assert_eq!(applied, backtick_migrations::migrations().to_vec());
    assert!(table_exists(&store, "backtick_jobs").await && table_exists(&store, "backtick_schedules").await);
    assert_eq!(store.migrate().await.unwrap(), vec![], "a second run has nothing to do");
    let status = store.migration_status().await.unwrap();
    assert!(
        status.iter().all(|s| matches!(s.state, MigrationState::Applied { .. })),
        "{status:?}"
    );
    store.check_schema().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_runners_migrating_at_once_apply_each_migration_once() {
    let db = Arc::new(TestDb::empty().await);
    let runs = (0..4).map(|_| {
        let db = db.clone();
        tokio::spawn(async move { db.store().await.migrate().await.unwrap().len() })
    });
    let mut total = 0;
    for run in runs {
        total += run.await.unwrap();
    }
    assert_eq!(
        total,
        backtick_migrations::migrations().len(),
        "each migration applied by exactly one runner"
    );
}

#[tokio::test]
async fn revert_last_undoes_the_newest_migration_and_migrate_reapplies_it() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let last = *backtick_migrations::migrations().last().unwrap();
    assert_eq!(store.revert_last_migration().await.unwrap(), Some(last));
    assert!(!table_exists(&store, "backtick_claim").await);
    let pending = store.check_schema().await.unwrap_err();
    assert!(pending.to_string().contains(last.name), "{pending}");
    assert_eq!(store.migrate().await.unwrap(), vec![last]);
    assert!(table_exists(&store, "backtick_claim").await);
}

#[tokio::test]
async fn a_migration_changed_after_it_was_applied_is_refused() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let mut conn = store.pool().get().await.unwrap();
    conn.batch_execute("UPDATE backtick_migrations SET checksum = 'edited' WHERE version = 1")
        .await
        .unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(&err, MigrateError::ChecksumMismatch { version: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_migration_connection_works_on_a_connection_of_ones_own() {
    let db = TestDb::empty().await;
    let mut conn = AsyncPgConnection::establish(&db.url()).await.unwrap();
    let applied = Migrator::new()
        .run(&mut DieselMigrationConnection(&mut conn))
        .await
        .unwrap();
    assert_eq!(applied.len(), backtick_migrations::migrations().len());
    let status = Migrator::new()
        .status(&mut DieselMigrationConnection(&mut conn))
        .await
        .unwrap();
    assert!(
        status.iter().all(|s| matches!(s.state, MigrationState::Applied { .. })),
        "{status:?}"
    );
    db.store().await.check_schema().await.unwrap();
}
