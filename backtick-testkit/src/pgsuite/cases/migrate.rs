//! Migrations through the backend: applied once, also by many runners at once (the migration
//! lock), reverted, refused when changed, rolled back when failing, and run on a connection of
//! one's own through the backend's migration connection.

use std::sync::Arc;

use backtick_pg_common::{Direction, MigrateError, Migration, MigrationState, Migrator, migrations};

use super::PgCase;
use crate::pgsuite::{PgBackend, SqlSession, TestDatabase};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(B, "migrate", migrate_applies_every_migration_once),
        pg_case!(B, "migrate", many_runners_migrating_at_once_apply_each_migration_once),
        pg_case!(
            B,
            "migrate",
            revert_last_undoes_the_newest_migration_and_migrate_reapplies_it
        ),
        pg_case!(B, "migrate", a_migration_changed_after_it_was_applied_is_refused),
        pg_case!(B, "migrate", a_failing_migration_is_rolled_back_and_earlier_ones_stay),
        pg_case!(B, "migrate", the_migration_connection_works_on_a_connection_of_ones_own),
    ]
}

async fn table_exists<B: PgBackend>(sql: &mut SqlSession<B>, table: &str) -> bool {
    sql.boolean(&format!("SELECT to_regclass('{table}') IS NOT NULL")).await
}

async fn function_exists<B: PgBackend>(sql: &mut SqlSession<B>, function: &str) -> bool {
    sql.boolean(&format!("SELECT to_regproc('{function}') IS NOT NULL"))
        .await
}

/// Whether `table` has `column`, in the schema the session's search path resolves.
async fn column_exists<B: PgBackend>(sql: &mut SqlSession<B>, table: &str, column: &str) -> bool {
    sql.boolean(&format!(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute \
         WHERE attrelid = to_regclass('{table}') AND attname = '{column}' AND NOT attisdropped)"
    ))
    .await
}

async fn migrate_applies_every_migration_once<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.empty_schema().await;
    let store = schema.store().await;
    let mut sql = schema.sql().await;
    let applied = B::migrate(&store).await.expect("migrate");
    assert_eq!(applied, migrations().to_vec());
    assert!(table_exists(&mut sql, "backtick_jobs").await && table_exists(&mut sql, "backtick_schedules").await);
    assert_eq!(
        B::migrate(&store).await.expect("migrate again"),
        vec![],
        "a second run has nothing to do"
    );
    let status = B::migration_status(&store).await.expect("migration status");
    assert!(
        status.iter().all(|s| matches!(s.state, MigrationState::Applied { .. })),
        "{status:?}"
    );
    B::check_schema(&store).await.expect("the schema is complete");
}

async fn many_runners_migrating_at_once_apply_each_migration_once<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = Arc::new(db.empty_schema().await);
    let runs = (0..4).map(|_| {
        let schema = schema.clone();
        tokio::spawn(async move {
            let store = schema.store().await;
            B::migrate(&store).await.expect("migrate").len()
        })
    });
    let mut total = 0;
    for run in runs {
        total += run.await.expect("a migrating runner");
    }
    assert_eq!(
        total,
        migrations().len(),
        "each migration applied by exactly one runner"
    );
}

async fn revert_last_undoes_the_newest_migration_and_migrate_reapplies_it<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let mut sql = schema.sql().await;
    let last = *migrations().last().expect("at least one migration");
    assert_eq!(B::revert_last_migration(&store).await.expect("revert"), Some(last));
    // The newest migration (0007) adds the unique states column.
    assert!(!column_exists(&mut sql, "backtick_jobs", "unique_states").await);
    assert!(
        function_exists(&mut sql, "backtick_list_jobs").await,
        "older migrations stay"
    );
    let pending = B::check_schema(&store)
        .await
        .expect_err("the last migration is missing");
    assert!(pending.to_string().contains(last.name), "{pending}");
    assert_eq!(B::migrate(&store).await.expect("migrate"), vec![last]);
    assert!(column_exists(&mut sql, "backtick_jobs", "unique_states").await);
}

async fn a_migration_changed_after_it_was_applied_is_refused<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    schema
        .sql()
        .await
        .execute("UPDATE backtick_migrations SET checksum = 'edited' WHERE version = 1")
        .await;
    let err = B::migrate(&store).await.expect_err("a changed migration is refused");
    assert!(
        matches!(&err, MigrateError::ChecksumMismatch { version: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("restore the original file"), "{err}");
}

async fn a_failing_migration_is_rolled_back_and_earlier_ones_stay<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    // It counts the advisory locks of its database: a database of its own.
    let db = TestDatabase::<B>::empty().await;
    let mut sql = db.sql().await;
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
    .expect("two valid migrations");
    let err = migrator
        .run(&mut *B::migration_connection(sql.connection()))
        .await
        .expect_err("the second migration fails");
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
    let tables = sql
        .texts("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        .await;
    assert_eq!(
        tables,
        vec!["backtick_migrations", "first_table"],
        "the failed migration's table is rolled back"
    );
    let versions = sql.texts("SELECT version FROM backtick_migrations").await;
    assert_eq!(versions, vec!["1"]);
    let locks = sql
        .integer(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await;
    assert_eq!(locks, 0, "the migration lock is released after a failure");
}

async fn the_migration_connection_works_on_a_connection_of_ones_own<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.empty_schema().await;
    let mut sql = schema.sql().await;
    let mut conn = B::migration_connection(sql.connection());
    let applied = Migrator::new().run(&mut *conn).await.expect("migrate");
    assert_eq!(applied.len(), migrations().len());
    let status = Migrator::new().status(&mut *conn).await.expect("migration status");
    assert!(
        status.iter().all(|s| matches!(s.state, MigrationState::Applied { .. })),
        "{status:?}"
    );
    B::check_schema(&schema.store().await)
        .await
        .expect("the store sees a complete schema");
}
