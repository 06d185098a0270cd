//! The built `backtick` binary: help, usage errors (exit 2), connection errors (exit 1, one
//! line), and `migrate` against a fresh database of the test server.

// Test support code outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn backtick(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backtick"))
        .args(args)
        .env_remove("BT_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn one_error_line(output: &Output) -> String {
    let text = stderr(output);
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    assert!(text.starts_with("error: "), "{text}");
    text
}

#[test]
fn help_lists_every_command_and_exits_0() {
    let output = backtick(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for command in [
        "migrate",
        "jobs",
        "queues",
        "cron",
        "runners",
        "prune",
        "stats",
        "doctor",
        "--json",
        "--database-url",
    ] {
        assert!(help.contains(command), "{command} missing from {help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["jobs", "frobnicate"][..],
        &["jobs", "show"],
        &["jobs", "list", "--state", "sleeping"],
        &["prune"],
    ] {
        let output = backtick(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn an_unreachable_database_is_one_line_and_exit_1() {
    let output = backtick(&[
        "--database-url",
        "postgres://bob:hunter2@127.0.0.1:1/app",
        "jobs",
        "list",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = one_error_line(&output);
    assert!(text.contains("cannot reach postgres at 127.0.0.1:1"), "{text}");
    assert!(!text.contains("hunter2"), "never the password: {text}");
}

#[test]
fn a_missing_or_malformed_url_is_one_line_and_exit_1() {
    let output = backtick(&["queues", "list"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_error_line(&output).contains("set BT_DATABASE_URL"));
    let output = backtick(&["--database-url", "mysql://bob:hunter2@db/app", "queues", "list"]);
    assert_eq!(output.status.code(), Some(1));
    let text = one_error_line(&output);
    assert!(
        text.contains("invalid database url") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn cron_next_needs_no_database() {
    let output = backtick(&["cron", "next", "0 30 9 * * MON-FRI", "-n", "2", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let next: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(next["fires"].as_array().unwrap().len(), 2);
    let output = backtick(&["cron", "next", "0 30 9 * *"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_error_line(&output).contains("expected exactly six"));
}

/// `migrate status|up|down` and the unmigrated-database error, on a database created for
/// this test on the test server (BACKTICK_TEST_DATABASE_URL or the workspace cluster).
#[tokio::test]
async fn migrate_and_the_unmigrated_database_error_on_a_fresh_database() {
    use backtick_postgres::sqlx::{self, Connection};
    let server = backtick_testkit::testdb::server_url().expect("a test server");
    let name = format!("backtick_cli_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let url = database_url(&server, &name);

    let output = backtick(&["--database-url", &url, "jobs", "list"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(one_error_line(&output).contains("run `backtick migrate up` first"));

    let status = backtick(&["--database-url", &url, "migrate", "status", "--json"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(status.as_array().unwrap().iter().all(|m| m["state"] == "pending"));
    let up = backtick(&["--database-url", &url, "migrate", "up"]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert!(String::from_utf8_lossy(&up.stdout).starts_with("applied 0001_jobs"));
    let doctor = backtick(&["--database-url", &url, "doctor", "--json"]);
    let checks: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(checks[0]["check"], "migrations");
    assert_eq!(checks[0]["status"], "OK");
    // The admin commands on the real store: enqueue (no runner has the worker, so --force),
    // then list it back as JSON.
    let enqueue = backtick(&[
        "--database-url",
        &url,
        "jobs",
        "enqueue",
        "cli_check",
        "--args",
        "[1]",
        "--force",
    ]);
    assert_eq!(enqueue.status.code(), Some(0), "{}", stderr(&enqueue));
    let list = backtick(&["--database-url", &url, "jobs", "list", "--json"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(listed.to_string().contains("cli_check"), "{listed}");
    let queues = backtick(&["--database-url", &url, "queues", "list", "--json"]);
    assert_eq!(queues.status.code(), Some(0), "{}", stderr(&queues));
    serde_json::from_slice::<serde_json::Value>(&queues.stdout).unwrap();
    let down = backtick(&["--database-url", &url, "migrate", "down", "--yes"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let newest = backtick_postgres::backtick_pg_common::migrations().last().unwrap();
    let reverted = format!("reverted {:04}_{}", newest.version, newest.name);
    assert!(
        String::from_utf8_lossy(&down.stdout).starts_with(&reverted),
        "{}",
        String::from_utf8_lossy(&down.stdout)
    );

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await
        .expect("drop database");
}

/// `server` (a url naming some database) with its database replaced by `name`.
fn database_url(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}
