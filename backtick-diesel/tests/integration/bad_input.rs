//! Bad input and bad weather: malformed urls, no server, no schema, lost connections,
//! corrupt rows.

use std::time::Duration;

use backtick_diesel::diesel::sql_types::{BigInt, Bool};
use backtick_diesel::diesel::{self, QueryableByName};
use backtick_diesel::diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use backtick_diesel::{
    Codec, DieselError, DieselStore, DieselStoreConfig, JobFilter, JobId, NewJob, QueueStore, StoreError,
};

use crate::common::{TestDb, server_url, test_config};

fn job() -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor)
}

#[derive(QueryableByName)]
struct Killed {
    #[diesel(sql_type = Bool)]
    killed: bool,
}

/// Terminate every connection to `db` but the caller's; returns how many were terminated.
async fn terminate_all(db: &TestDb) -> usize {
    let mut admin = db.connection().await;
    let killed: Vec<Killed> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load(&mut admin)
    .await
    .unwrap();
    assert!(killed.iter().all(|k| k.killed), "every backend was terminated");
    killed.len()
}

#[tokio::test]
async fn a_malformed_url_is_reported_without_its_password() {
    for url in [
        "postgres://ada:hunter2@localhost:notaport/app",
        "postgress://ada:hunter2@localhost/app",
        "ada:hunter2",
    ] {
        let err = DieselStore::connect(url).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, DieselError::InvalidUrl { .. }), "{url}: {err:?}");
        assert!(!text.contains("hunter2"), "the password leaked: {text}");
        assert!(
            text.contains("postgres://user:password@host:port/database"),
            "the message shows the expected form: {text}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_is_reported_with_host_port_and_a_hint() {
    let config = DieselStoreConfig {
        connect_timeout: Duration::from_secs(3),
        ..test_config()
    };
    let err = DieselStore::connect_with("postgres://ada:hunter2@127.0.0.1:1/app", config)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DieselError::Unreachable { port: 1, .. }), "{err:?}");
    assert!(
        text.contains("127.0.0.1:1") && text.contains("check that the server is running"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_reported_as_rejected() {
    let url = backtick_testkit::testdb::with_database(&server_url(), "bt_no_such_database_here");
    let err = DieselStore::connect(&url).await.unwrap_err();
    assert!(
        matches!(&err, DieselError::Rejected { database, .. } if database == "bt_no_such_database_here"),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn an_invalid_config_names_the_option() {
    let config = DieselStoreConfig {
        max_connections: 0,
        ..test_config()
    };
    let err = DieselStore::connect_with(&server_url(), config).await.unwrap_err();
    assert!(
        matches!(&err, DieselError::Config(c) if c.option == "max_connections"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unmigrated_database_says_not_migrated_and_how_to_fix_it() {
    let db = TestDb::empty().await;
    let store = DieselStore::connect(&db.url())
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
    store.check_schema().await.expect("migrated now");
    store.enqueue(job(), None).await.expect("works once migrated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_recover_after_the_server_terminates_every_connection() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    // Open a few pooled connections, and the listener's.
    let _hints = store.subscribe();
    assert!(store.wait_listening(Duration::from_secs(10)).await);
    let busy = (0..3).map(|_| store.enqueue(job(), None));
    for id in futures::future::join_all(busy).await {
        id.unwrap();
    }
    assert!(
        terminate_all(&db).await >= 2,
        "the pool's and the listener's connections were terminated"
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
    assert!(
        store.wait_listening(Duration::from_secs(10)).await,
        "the listener did not reconnect"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_connection_is_killed_under_it_fails_transiently_and_the_next_one_works() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let id = store.enqueue(job(), None).await.unwrap();
    // Hold the job's row lock so that the store's cancel waits on it.
    let mut locker = db.connection().await;
    locker
        .batch_execute("BEGIN; SELECT id FROM backtick_jobs FOR UPDATE")
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.cancel(id, "operator", None).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut admin = db.connection().await;
    let killed: Vec<Killed> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'backtick'",
    )
    .load(&mut admin)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "the store's connections were terminated");
    let err = waiting.await.unwrap().unwrap_err();
    assert!(
        err.is_transient(),
        "a connection killed under a call is a transient error: {err:?}"
    );
    locker.batch_execute("ROLLBACK").await.unwrap();
    assert!(
        store.cancel(id, "operator", None).await.unwrap(),
        "the next call gets a fresh connection"
    );
}

#[tokio::test]
async fn a_row_with_an_unknown_codec_is_reported_corrupt_with_its_id() {
    let db = TestDb::migrated().await;
    let store = db.store().await;
    let id = store.enqueue(job(), None).await.unwrap();
    diesel::sql_query("UPDATE backtick_jobs SET codec = 'rot13' WHERE id = $1")
        .bind::<BigInt, _>(id.0)
        .execute(&mut *store.pool().get().await.unwrap())
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
    assert!(store.pool().get().await.is_err());
}
