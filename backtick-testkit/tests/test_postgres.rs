//! `TestPostgres` hands out a migrated database and leaves nothing behind, also when the test
//! holding it panics. Runs on a container when a docker engine answers, else on the test
//! server (the same guard, a database instead of a container).

#![cfg(feature = "testcontainers")]
#![allow(clippy::unwrap_used)]

use std::process::Command;

use backtick_testkit::testdb::TestPostgres;

async fn query_one(url: &str, sql: &str) -> Result<String, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let row = client.query_one(sql, &[]).await?;
    Ok(row.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_is_migrated() {
    let pg = TestPostgres::start().await.unwrap();
    println!("on {pg}");

    let tables = query_one(
        pg.url(),
        "SELECT string_agg(table_name::text, ',' ORDER BY table_name) FROM information_schema.tables \
         WHERE table_name IN ('backtick_jobs', 'backtick_migrations')",
    )
    .await
    .unwrap();
    assert_eq!(tables, "backtick_jobs,backtick_migrations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_test_leaves_neither_its_container_nor_its_database() {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let test = tokio::spawn(async move {
        let pg = TestPostgres::start().await.unwrap();
        sender
            .send((pg.url().to_owned(), pg.container_id().map(str::to_owned)))
            .unwrap();
        panic!("the test fails while holding its database");
    });
    assert!(test.await.unwrap_err().is_panic());
    let (url, container) = receiver.await.unwrap();

    match container {
        Some(id) => {
            let listed = Command::new("docker")
                .args(["ps", "-aq", "--no-trunc", "--filter", &format!("id={id}")])
                .output()
                .unwrap();
            assert!(listed.status.success());
            assert_eq!(
                String::from_utf8_lossy(&listed.stdout).trim(),
                "",
                "container {id} is left"
            );
        }
        None => {
            let error = query_one(&url, "SELECT 'still here'").await.unwrap_err();
            assert!(format!("{error:?}").contains("does not exist"), "{error:?}");
        }
    }
}
