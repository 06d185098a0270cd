//! A failing test leaves no database behind: `TestDatabase` drops its database when the
//! test never reaches `drop_database`, whether it panicked or returned an error early.

use backtick_e2e::{HarnessError, TestDatabase};
use backtick_postgres::sqlx::{Connection, PgConnection};

/// The url of the database a failing test made, once that test is over.
async fn url_left_by(fail_by_panicking: bool) -> String {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let test = tokio::spawn(async move {
        let db = TestDatabase::create().await.expect("a test database");
        sender.send(db.url.clone()).expect("the url goes out");
        if fail_by_panicking {
            panic!("the test fails while holding its database");
        }
        Err::<(), HarnessError>("the test fails with an error".into())
    });
    match test.await {
        Ok(result) => assert!(result.is_err(), "the test failed by returning an error"),
        Err(join) => assert!(join.is_panic(), "the test failed by panicking"),
    }
    receiver.await.expect("the test sent its url")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_test_leaves_no_database_behind() {
    for panicking in [true, false] {
        let url = url_left_by(panicking).await;

        let error = PgConnection::connect(&url)
            .await
            .expect_err("the database was dropped with the guard");
        assert!(error.to_string().contains("does not exist"), "{error}");
    }
}
