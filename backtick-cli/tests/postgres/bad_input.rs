//! Bad input: each a one-line error that says what to do, exit code 1, and the database as it
//! was; usage errors exit 2.

use crate::jobs::seeded;
use crate::support::{Db, backtick, failed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_line_exit_1_and_changes_nothing() {
    let db = seeded().await;
    let dead = db.json(&["jobs", "list", "--state", "dead"]);
    let dead_id = dead["jobs"][0]["id"].as_i64().unwrap().to_string();
    let done = db.json(&["jobs", "list", "--state", "done"]);
    let done_id = done["jobs"][0]["id"].as_i64().unwrap().to_string();
    let before = db.snapshot().await;
    let cases: [(&[&str], &str); 10] = [
        (&["jobs", "show", "999999"], "no job has id 999999"),
        (&["jobs", "retry", "999999"], "no job has id 999999"),
        (
            &["jobs", "retry", &done_id],
            "retry applies only to dead or cancelled jobs",
        ),
        (
            &["jobs", "retry", &dead_id, &done_id],
            "retry applies only to dead or cancelled jobs",
        ),
        (
            &["jobs", "enqueue", "cli_ok", "--args", "{oops", "--force"],
            "--args is not valid JSON",
        ),
        (
            &["jobs", "list", "--args-contain", "[1,"],
            "--args-contain is not valid JSON",
        ),
        (
            &["jobs", "enqueue", "no_such_worker", "--args", "[]"],
            "no live runner has worker \"no_such_worker\"",
        ),
        (&["queues", "pause", "no_such_queue"], "unknown queue \"no_such_queue\""),
        (
            &["cron", "pause", "no_such_schedule"],
            "unknown schedule \"no_such_schedule\"",
        ),
        (&["cron", "next", "0 0 25 * * *"], "hour"),
    ];
    for (args, expected) in cases {
        let message = failed(&db.run(args), 1);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert_eq!(db.snapshot().await, before, "{args:?} changed the database");
    }
    let message = failed(
        &db.run(&[
            "jobs", "enqueue", "cli_ok", "--args", "[1]", "--at", "someday", "--force",
        ]),
        1,
    );
    assert!(
        message.contains("--at \"someday\" is neither an RFC 3339 time"),
        "{message}"
    );
    assert_eq!(db.snapshot().await, before);
    for usage in [
        &["jobs", "retry", &dead_id, "--state", "dead"][..],
        &["jobs", "retry"],
        &["stats", "--count", "2"],
        &["jobs", "enqueue", "cli_ok"],
    ] {
        let output = db.run(usage);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{usage:?}: {}",
            crate::support::stderr(&output)
        );
    }
    assert_eq!(db.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmigrated_or_unreachable_database_is_one_line_and_exit_1() {
    let db = Db::empty().await;
    for args in [&["jobs", "list"][..], &["queues", "pause", "mail"], &["stats"]] {
        let message = failed(&db.run(args), 1);
        assert!(
            message.contains("run `backtick migrate up` first"),
            "{args:?}: {message}"
        );
    }
    let tables: i64 =
        backtick_postgres::sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
    assert_eq!(tables, 0, "nothing was created");
    // `doctor` (like `migrate status`) reads the migrations through the migrator, which
    // creates its empty tracking table.
    let doctor = db.run(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(crate::support::stdout(&doctor).contains("run `backtick migrate up`"));
    let output = backtick(&["--database-url", "postgres://postgres@127.0.0.1:1/backtick", "stats"]);
    assert!(failed(&output, 1).contains("cannot reach postgres at 127.0.0.1:1"));
}
