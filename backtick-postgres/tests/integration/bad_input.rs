//! Bad input and bad weather: malformed urls, no server, no schema, lost connections,
//! corrupt rows.

use std::time::Duration;

use backtick_postgres::sqlx::{self, Executor};
use backtick_postgres::{Codec, JobFilter, JobId, NewJob, PgError, PgStore, PgStoreConfig, QueueStore, StoreError};

use crate::common::{TestDb, server_url, test_config, with_database};

fn job() -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor)
}

#[tokio::test]
async fn a_malformed_url_is_reported_without_its_password() {
    for url in [
        "postgres://ada:hunter2@localhost:notaport/app",
        "postgress://ada:hunter2@localhost/app",
        "ada:hunter2",
    ] {
        let err = PgStore::connect(url).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, PgError::InvalidUrl { .. }), "{url}: {err:?}");
        assert!(!text.contains("hunter2"), "the password leaked: {text}");
        assert!(
            text.contains("postgres://user:password@host:port/database"),
            "the message shows the expected form: {text}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_is_reported_with_host_port_and_a_hint() {
    let config = PgStoreConfig {
        connect_timeout: Duration::from_secs(3),
        ..test_config()
    };
    let err = PgStore::connect_with("postgres://ada:hunter2@127.0.0.1:1/app", config)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PgError::Unreachable { port: 1, .. }), "{err:?}");
    assert!(
        text.contains("127.0.0.1:1") && text.contains("check that the server is running"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_reported_as_rejected() {
    let url = with_database(&server_url(), "bt_no_such_database_here");
    let err = PgStore::connect(&url).await.unwrap_err();
    assert!(
        matches!(&err, PgError::Rejected { database, .. } if database == "bt_no_such_database_here"),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn an_unmigrated_database_says_not_migrated_and_how_to_fix_it() {
    let db = TestDb::empty().await;
    let store = PgStore::connect(&db.url())
        .await
        .expect("an empty database still accepts connections");
    let err = store.enqueue(job(), None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotMigrated { .. }), "{err:?}");
    assert!(
        err.to_string().contains("migrate"),
        "the message says to migrate: {err}"
    );
    assert!(!err.is_transient(), "retrying cannot fix a missing schema");
    assert!(matches!(
        store.check_schema().await,
        Err(StoreError::NotMigrated { .. })
    ));
    store.migrate().await.unwrap();
    store.enqueue(job(), None).await.expect("works once migrated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_recover_after_the_server_terminates_every_connection() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    // Open a few pooled connections.
    let busy = (0..3).map(|_| store.enqueue(job(), None));
    for id in futures::future::join_all(busy).await {
        id.unwrap();
    }
    let mut admin = crate::common::TestDb::connection(&db).await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !killed.is_empty() && killed.iter().all(|k| *k),
        "the store's connections were terminated"
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
}

#[tokio::test]
async fn a_row_with_an_unknown_codec_is_reported_corrupt_with_its_id() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let id = store.enqueue(job(), None).await.unwrap();
    sqlx::query("UPDATE backtick_jobs SET codec = 'rot13' WHERE id = $1")
        .bind(id.0)
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.get(id).await.unwrap_err();
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
        store.get(JobId(id.0 + 1000)).await.unwrap(),
        None,
        "other reads still work"
    );
}

#[tokio::test]
async fn a_closed_store_reports_pool_closed() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    store.close().await;
    let err = store.enqueue(job(), None).await.unwrap_err();
    assert!(matches!(err, StoreError::PoolClosed), "{err:?}");
    store.pool().execute("SELECT 1").await.unwrap_err();
}
