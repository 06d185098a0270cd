//! Bad input: malformed urls, no server, no such database, an invalid config, no schema, and
//! a corrupt row.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::{JobFilter, JobId, QueueStore, StoreError};

use super::{PgCase, job};
use crate::pgsuite::{ConnectFailure, PgBackend, PoolSettings, TestDatabase, server_url};
use crate::testdb::with_database;

pub(super) fn cases<B: PgBackend>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(B, "bad_input", a_malformed_url_is_reported_without_its_password),
        pg_case!(
            B,
            "bad_input",
            an_unreachable_server_is_reported_with_host_port_and_a_hint
        ),
        pg_case!(B, "bad_input", a_database_that_does_not_exist_is_reported_as_rejected),
        pg_case!(B, "bad_input", an_invalid_config_names_the_option),
        pg_case!(
            B,
            "bad_input",
            an_unmigrated_database_says_not_migrated_and_how_to_fix_it
        ),
        pg_case!(
            B,
            "bad_input",
            a_row_with_an_unknown_codec_is_reported_corrupt_with_its_id
        ),
    ]
}

/// The error of connecting to `url`, which must fail.
async fn connect_error<B: PgBackend>(url: &str, pool: PoolSettings) -> B::ConnectError {
    match B::connect(url, &pool).await {
        Ok(_) => panic!("connecting to {url} must fail"),
        Err(error) => error,
    }
}

async fn a_malformed_url_is_reported_without_its_password<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    for url in [
        "postgres://ada:hunter2@localhost:notaport/app",
        "postgress://ada:hunter2@localhost/app",
        "ada:hunter2",
    ] {
        let err = connect_error::<B>(url, PoolSettings::default()).await;
        let text = err.to_string();
        assert_eq!(B::connect_failure(&err), ConnectFailure::InvalidUrl, "{url}: {err:?}");
        assert!(!text.contains("hunter2"), "the password leaked: {text}");
        assert!(
            text.contains("postgres://user:password@host:port/database"),
            "the message shows the expected form: {text}"
        );
    }
}

async fn an_unreachable_server_is_reported_with_host_port_and_a_hint<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    let pool = PoolSettings::default().connect_timeout(Duration::from_secs(3));
    let err = connect_error::<B>("postgres://ada:hunter2@127.0.0.1:1/app", pool).await;
    let text = err.to_string();
    assert_eq!(
        B::connect_failure(&err),
        ConnectFailure::Unreachable { port: 1 },
        "{err:?}"
    );
    assert!(
        text.contains("127.0.0.1:1") && text.contains("check that the server is running"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

async fn a_database_that_does_not_exist_is_reported_as_rejected<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    let url = with_database(&server_url(), "bt_no_such_database_here");
    let err = connect_error::<B>(&url, PoolSettings::default()).await;
    let rejected = ConnectFailure::Rejected {
        database: "bt_no_such_database_here".to_owned(),
    };
    assert_eq!(B::connect_failure(&err), rejected, "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

async fn an_invalid_config_names_the_option<B: PgBackend>(_: Arc<TestDatabase<B>>) {
    let err = connect_error::<B>(&server_url(), PoolSettings::default().max_connections(0)).await;
    assert_eq!(
        B::connect_failure(&err),
        ConnectFailure::Config {
            option: "max_connections"
        },
        "{err:?}"
    );
}

async fn an_unmigrated_database_says_not_migrated_and_how_to_fix_it<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.empty_schema().await;
    let store = B::connect(&schema.url(), &PoolSettings::default())
        .await
        .expect("an empty database still accepts connections");
    let err = store.enqueue(job(), None).await.expect_err("no table to enqueue into");
    assert!(matches!(err, StoreError::NotMigrated { .. }), "{err:?}");
    assert!(
        err.to_string().contains("migrate"),
        "the message says to migrate: {err}"
    );
    assert!(!err.is_transient(), "retrying cannot fix a missing schema");
    assert!(matches!(
        B::check_schema(&store).await,
        Err(StoreError::NotMigrated { .. })
    ));
    // What a runner asks when it starts (`Runner::try_start`).
    assert!(matches!(
        QueueStore::check_schema(&store).await,
        Err(StoreError::NotMigrated { .. })
    ));
    B::migrate(&store).await.expect("migrate");
    B::check_schema(&store).await.expect("migrated now");
    store.enqueue(job(), None).await.expect("works once migrated");
}

async fn a_row_with_an_unknown_codec_is_reported_corrupt_with_its_id<B: PgBackend>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let id = store.enqueue(job(), None).await.expect("enqueue");
    let corrupt = format!("UPDATE backtick_jobs SET codec = 'rot13' WHERE id = {}", id.0);
    schema.sql().await.execute(&corrupt).await;
    let err = store
        .get(id)
        .await
        .expect_err("a row with an unknown codec cannot be read");
    assert!(
        matches!(err, StoreError::Corrupt { job_id, .. } if job_id == Some(id)),
        "{err:?}"
    );
    assert!(err.to_string().contains("rot13"), "{err}");
    assert!(matches!(
        store.list(&JobFilter::default()).await,
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(
        store.get(JobId(id.0 + 1000)).await.expect("get"),
        None,
        "other reads still work"
    );
}
