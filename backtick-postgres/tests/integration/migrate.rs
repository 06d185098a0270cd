//! Migrations through sqlx against a real database.

use std::sync::Arc;

use backtick_postgres::sqlx::{self, Executor};
use backtick_postgres::{
    Direction, MigrateError, Migration, MigrationState, Migrator, PgMigrationConnection, backtick_migrations,
};

use crate::common::TestDb;

async fn table_exists(store: &backtick_postgres::PgStore, table: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT coalesce(to_regclass($1)::oid, to_regproc($1)::oid) IS NOT NULL")
        .bind(table)
        .fetch_one(store.pool())
        .await
        .unwrap()
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
    store
        .pool()
        .execute("UPDATE backtick_migrations SET checksum = 'edited' WHERE version = 1")
        .await
        .unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(&err, MigrateError::ChecksumMismatch { version: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("restore the original file"), "{err}");
}

#[tokio::test]
async fn a_failing_migration_is_rolled_back_and_earlier_ones_stay() {
    let db = TestDb::empty().await;
    let mut conn = db.connection().await;
    let migrator = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "first",
            "CREATE TABLE first_table (id int)",
            "DROP TABLE first_table",
        ),
        Migration::new(
            2,
            "broken",
            "CREATE TABLE second_table (id int); SELECT * FROM no_such_table",
            "SELECT 1",
        ),
    ])
    .unwrap();
    let err = migrator.run(&mut PgMigrationConnection(&mut conn)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            MigrateError::Failed {
                version: 2,
                direction: Direction::Up,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("no_such_table"), "{err}");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        tables,
        vec!["backtick_migrations", "first_table"],
        "the failed migration's table is rolled back"
    );
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM backtick_migrations")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(versions, vec![1]);
    let locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(locks, 0, "the migration lock is released after a failure");
}
