//! `QueueAdmin::database_diagnostics`: the claim plan, the jobs table's indexes, its dead rows
//! and its autovacuum settings, as `backtick doctor` reads them.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::QueueStore;
use backtick_core::admin::{DatabaseDiagnostics, JobAction, JobQuery, JobSelection, QueueAdmin};
use backtick_pg_common::admin_sql::EXPECTED_INDEXES;

use super::{PgCase, job};
use crate::pgsuite::{PgBackend, TestDatabase};

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(
            B,
            "diagnostics",
            a_migrated_database_reports_the_claim_index_in_use_and_every_index_valid
        ),
        pg_case!(
            B,
            "diagnostics",
            a_dropped_index_and_autovacuum_turned_off_for_the_table_are_reported
        ),
        pg_case!(B, "diagnostics", deleted_jobs_show_up_as_dead_rows),
    ]
}

async fn diagnostics_of<B: PgBackend>(store: &B::Store) -> DatabaseDiagnostics {
    store
        .database_diagnostics()
        .await
        .expect("database_diagnostics")
        .expect("a Postgres store has a database to diagnose")
}

async fn a_migrated_database_reports_the_claim_index_in_use_and_every_index_valid<B: PgBackend>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let diagnostics = diagnostics_of::<B>(&store).await;
    assert_eq!(diagnostics.claim_index, "backtick_jobs_claim_idx");
    assert!(
        diagnostics.claim_uses_its_index(),
        "the claim walks its index: {:?}",
        diagnostics.claim_plan
    );
    let names: Vec<&str> = diagnostics.indexes.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, EXPECTED_INDEXES, "every index the migrations create, in order");
    assert!(
        diagnostics.unhealthy_indexes().is_empty(),
        "all present and valid: {:?}",
        diagnostics.indexes
    );
    let settings = &diagnostics.autovacuum;
    assert!(settings.table_enabled && settings.track_counts, "{settings:?}");
    for option in [
        "fillfactor=70",
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_vacuum_threshold=500",
    ] {
        assert!(
            settings.table_options.iter().any(|o| o == option),
            "the migration's {option} is reported: {settings:?}"
        );
    }
    let mut sql = schema.sql().await;
    let server = sql.boolean("SELECT current_setting('autovacuum')::bool").await;
    assert_eq!(settings.server_enabled, server, "the server's own setting");
    assert!(
        diagnostics.table.vacuum_threshold >= 500.0,
        "at least the table's threshold of 500 rows: {:?}",
        diagnostics.table
    );
}

async fn a_dropped_index_and_autovacuum_turned_off_for_the_table_are_reported<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let mut sql = schema.sql().await;
    sql.execute("DROP INDEX backtick_jobs_claim_idx").await;
    sql.execute("ALTER TABLE backtick_jobs SET (autovacuum_enabled = false)")
        .await;
    let diagnostics = diagnostics_of::<B>(&store).await;
    assert!(
        !diagnostics.claim_uses_its_index(),
        "without its index the claim cannot use it: {:?}",
        diagnostics.claim_plan
    );
    let unhealthy: Vec<(&str, bool)> = diagnostics
        .unhealthy_indexes()
        .iter()
        .map(|i| (i.name.as_str(), i.present))
        .collect();
    assert_eq!(unhealthy, vec![("backtick_jobs_claim_idx", false)]);
    assert!(!diagnostics.autovacuum.table_enabled);
    assert!(
        diagnostics
            .autovacuum
            .table_options
            .iter()
            .any(|o| o == "autovacuum_enabled=false"),
        "{:?}",
        diagnostics.autovacuum
    );
}

async fn deleted_jobs_show_up_as_dead_rows<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    store.enqueue_many(vec![job(); 300], None).await.expect("enqueue");
    let all = JobSelection::Matching(JobQuery::default().queue("default"));
    let deleted = store
        .apply_bulk(&all, &JobAction::Delete, false, None)
        .await
        .expect("delete");
    assert_eq!(deleted.touched, 300);
    // The statistics hear of the inserted and the deleted rows once the backends that wrote
    // them go idle (about a second, or ten when they reported just before), each on its own:
    // poll with a deadline until the deletes are in. The live count depends on the order the
    // two reports arrive in (the server clamps it at zero: deletes reported before the inserts
    // leave the 300 inserted rows counted live), so the dead fraction is 1.0 or 0.5.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let table = diagnostics_of::<B>(&store).await.table;
        if table.dead_rows >= 300 {
            assert!(table.dead_fraction() >= 0.5, "{table:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dead rows were never reported: {table:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
