//! `queues`, `cron`, `runners`, `stats`, `prune`, `doctor` and `migrate` on a database a real
//! runner works on.

use std::time::Duration;

use backtick_postgres::admin::{CountQuery, GroupBy};
use backtick_postgres::sqlx;
use backtick_postgres::{QueueAdmin, QueueStore};
use serde_json::Value;

use crate::jobs::seeded;
use crate::support::{failed, stdout, wait_for};

/// The entries of a JSON array whose `key` is `value`.
fn named<'v>(list: &'v Value, key: &str, value: &str) -> &'v Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

fn check_status(checks: &Value, name: &str) -> String {
    named(checks, "check", name)["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_cron_and_queues_on_a_live_runner() {
    let db = seeded().await;
    let runner = db.runner("cli-live");
    let listed = || async {
        let runners = db.store.list_runners(None).await.unwrap();
        runners.iter().any(|r| r.info.id.as_str() == "cli-live")
    };
    wait_for(Duration::from_secs(10), "the runner to register", listed).await;

    let runners = db.json(&["runners", "list"]);
    let live = named(&runners, "id", "cli-live");
    assert_eq!(live["stale"], false);
    assert_eq!(live["pid"].as_u64(), Some(u64::from(std::process::id())));
    for worker in ["cli_ok", "cli_fails", "cli_wait"] {
        assert!(
            live["workers"].as_array().unwrap().iter().any(|w| w == worker),
            "{live}"
        );
    }
    assert!(db.ok(&["runners", "list"]).contains("cli-live"));

    let schedules = db.json(&["cron", "list"]);
    let nightly = named(&schedules, "name", "cli_nightly");
    assert_eq!(nightly["time_zone"], "Europe/Paris");
    assert_eq!(nightly["declared_by"], serde_json::json!(["cli-live"]));
    assert_eq!(nightly["stale"], false);
    let hourly = named(&schedules, "name", "cli_hourly");
    assert_eq!(hourly["spec"], "every 1h");
    let table = db.ok(&["cron", "list"]);
    assert!(table.contains("cli_nightly") && table.contains("active"), "{table}");

    let paused = db.json(&["cron", "pause", "cli_nightly"]);
    assert_eq!(
        (paused["action"].as_str(), paused["changed"].as_bool()),
        (Some("pause"), Some(true))
    );
    assert!(db.ok(&["cron", "pause", "cli_nightly"]).contains("already paused"));
    assert!(named(&db.json(&["cron", "list"]), "name", "cli_nightly")["paused_at"].is_string());
    assert!(
        db.ok(&["cron", "resume", "cli_nightly"])
            .starts_with("resumed schedule cli_nightly")
    );
    let nightly_jobs = || async {
        let counts = db.store.count_jobs(&CountQuery::by(GroupBy::Worker)).await.unwrap();
        counts.groups.iter().any(|g| g.key == "cli_nightly")
    };
    assert!(!nightly_jobs().await, "no job before the run request");
    let requested = db.json(&["cron", "run", "cli_nightly"]);
    assert_eq!(
        (requested["action"].as_str(), requested["changed"].as_bool()),
        (Some("run-now"), Some(true))
    );
    let nightly_done = || async {
        let counts = db.store.count_jobs(&CountQuery::by(GroupBy::Worker)).await.unwrap();
        counts.get("cli_nightly", backtick_postgres::JobState::Done).value == 1
    };
    wait_for(
        Duration::from_secs(10),
        "the runner to serve the run request",
        nightly_done,
    )
    .await;
    assert_eq!(
        named(&db.json(&["cron", "list"]), "name", "cli_nightly")["run_requested_at"],
        Value::Null,
        "the request is served"
    );
    let before = db.snapshot().await;
    let in_use = failed(&db.run(&["cron", "remove", "cli_nightly"]), 1);
    assert!(in_use.contains("declared by 1 live runner(s) (cli-live)"), "{in_use}");
    assert_eq!(db.snapshot().await, before);

    let queues = db.json(&["queues", "list"]);
    let mail = named(&queues, "name", "mail");
    assert_eq!(mail["counts"]["done"]["value"].as_u64(), Some(3));
    assert_eq!(mail["counts"]["dead"]["value"].as_u64(), Some(2));
    assert_eq!(mail["paused"], false);
    let paused = db.json(&["queues", "pause", "mail"]);
    assert_eq!(
        (paused["paused"].as_bool(), paused["changed"].as_bool()),
        (Some(true), Some(true))
    );
    crate::workers::cli_ok::schedule(&db.store, 9).await.unwrap();
    assert!(db.ok(&["queues", "list"]).contains("yes"), "paused shows");
    // A job on another queue, enqueued after it, runs: the runner claimed past the paused one.
    let other = crate::workers::cli_ok::job(10)
        .queue("other")
        .enqueue(&db.store)
        .await
        .unwrap();
    let other_done = || async {
        let job = db.store.get(other).await.unwrap().unwrap();
        job.state == backtick_postgres::JobState::Done
    };
    wait_for(Duration::from_secs(10), "the job on another queue to run", other_done).await;
    let waiting = db.json(&["jobs", "list", "--queue", "mail", "--state", "queued"]);
    assert_eq!(
        waiting["jobs"].as_array().unwrap().len(),
        1,
        "a paused queue's job waits"
    );
    assert!(db.ok(&["queues", "resume", "mail"]).starts_with("resumed queue mail"));
    let drained = || async {
        let counts = db.store.count_jobs(&CountQuery::by(GroupBy::Worker)).await.unwrap();
        counts.get("cli_ok", backtick_postgres::JobState::Done).value == 5
    };
    wait_for(Duration::from_secs(10), "the resumed queue to drain", drained).await;

    runner.shutdown().await;
    let schedules = db.json(&["cron", "list"]);
    assert_eq!(
        named(&schedules, "name", "cli_nightly")["stale"],
        true,
        "no live runner declares it"
    );
    assert!(
        db.ok(&["cron", "remove", "cli_nightly"])
            .starts_with("removed schedule cli_nightly")
    );
    let left = db.json(&["cron", "list"]);
    let names: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cli_hourly"]);
    assert!(
        db.json(&["runners", "list"]).as_array().unwrap().is_empty(),
        "deregistered at shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_watch_prune_and_doctor() {
    let db = seeded().await;
    let stats = db.json(&["stats"]);
    assert_eq!(stats["counts"]["dead"]["value"].as_u64(), Some(2));
    assert!(stats["counts"]["done"]["value"].as_u64().unwrap() >= 3);
    assert_eq!(stats["throughput"]["window_minutes"].as_u64(), Some(5));
    assert!(
        stats["throughput"]["done"].as_u64().unwrap() >= 3,
        "finished just now: {stats}"
    );
    assert_eq!(stats["throughput"]["dead"].as_u64(), Some(2));
    assert_eq!(stats["throughput"]["capped"], false);
    let human = db.ok(&["stats"]);
    assert!(human.contains("last 5 min:") && human.contains("2 dead"), "{human}");
    // Two refreshes, one second apart, then the command exits by itself.
    let watched = db.ok(&["stats", "--watch", "--interval", "1", "--count", "2", "--json"]);
    let frames: Vec<Value> = watched.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(frames.len(), 2, "{watched}");
    assert!(
        frames[0]["at"].as_str() < frames[1]["at"].as_str(),
        "each frame is taken anew"
    );
    let screen = db.ok(&["stats", "--watch", "--interval", "1", "--count", "1"]);
    assert!(
        screen.starts_with("\x1b[2J\x1b[H") && screen.contains("Ctrl-C"),
        "{screen}"
    );

    let finished = stats["counts"]["done"]["value"].as_u64().unwrap() + 2;
    let before = db.snapshot().await;
    let output = db.run(&["prune", "--older-than", "0s"]);
    let message = failed(&output, 1);
    assert!(
        message.contains(&format!("prune would touch {finished} job(s)")),
        "{message}"
    );
    assert_eq!(db.snapshot().await, before, "nothing pruned without --yes");
    assert!(
        db.ok(&["prune", "--older-than", "1h", "--dry-run"])
            .starts_with("prune would delete 0 job(s)")
    );
    let dry = db.json(&["prune", "--older-than", "0s", "--dry-run"]);
    assert_eq!(dry["deleted"].as_u64(), Some(finished));
    assert_eq!(db.snapshot().await, before);
    let pruned = db.json(&["prune", "--older-than", "0s", "--yes"]);
    assert_eq!(
        (pruned["deleted"].as_u64(), pruned["dry_run"].as_bool()),
        (Some(finished), Some(false))
    );
    assert_eq!(
        db.json(&["jobs", "list", "--state", "done"])["jobs"],
        serde_json::json!([])
    );

    let checks = db.json(&["doctor"]);
    assert!(
        checks.as_array().unwrap().iter().all(|c| c["status"] != "SKIP"),
        "nothing skipped on Postgres: {checks}"
    );
    assert_eq!(check_status(&checks, "migrations"), "OK");
    assert_eq!(check_status(&checks, "claim plan"), "OK");
    assert!(
        named(&checks, "check", "claim plan")["detail"]
            .as_str()
            .unwrap()
            .contains("Index Scan using backtick_jobs_claim_idx")
    );
    assert_eq!(check_status(&checks, "indexes"), "OK");
    assert_eq!(check_status(&checks, "table bloat"), "OK");
    let server_autovacuum: bool = sqlx::query_scalar("SELECT current_setting('autovacuum')::bool")
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    let expected = if server_autovacuum { "OK" } else { "WARN" };
    assert_eq!(check_status(&checks, "autovacuum"), expected, "{checks}");
    assert_eq!(check_status(&checks, "runners"), "WARN", "no live runner");

    // Break the schema: the doctor fails and names the fix.
    sqlx::raw_sql("DROP INDEX backtick_jobs_claim_idx; ALTER TABLE backtick_jobs SET (autovacuum_enabled = false)")
        .execute(db.store.pool())
        .await
        .unwrap();
    let output = db.run(&["doctor"]);
    let message = failed(&output, 1);
    assert!(message.contains("3 check(s) failed"), "{message}");
    let table = stdout(&output);
    for expected in [
        "missing: backtick_jobs_claim_idx",
        "the claim does not use backtick_jobs_claim_idx",
        "ALTER TABLE backtick_jobs RESET (autovacuum_enabled)",
    ] {
        assert!(table.contains(expected), "{expected} in {table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_status_down_and_up_on_a_real_database() {
    let db = crate::support::Db::empty().await;
    let status = db.json(&["migrate", "status"]);
    let total = status.as_array().unwrap().len();
    assert!(status.as_array().unwrap().iter().all(|m| m["state"] == "pending"));
    let applied = db.json(&["migrate", "up"]);
    assert_eq!(applied.as_array().unwrap().len(), total);
    assert!(db.ok(&["migrate", "up"]).starts_with("the schema is up to date"));
    let status = db.json(&["migrate", "status"]);
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] == "applied" && m["applied_at"].is_string())
    );
    let refused = failed(&db.run(&["migrate", "down"]), 1);
    assert!(refused.contains("pass --yes"), "{refused}");
    assert_eq!(
        db.json(&["migrate", "status"]),
        status,
        "nothing reverted without --yes"
    );
    let reverted = db.json(&["migrate", "down", "--yes"]);
    assert_eq!(reverted["state"], "pending");
    // The newest migration (versions need not be contiguous).
    let newest = status
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["version"].as_i64())
        .max();
    assert_eq!(reverted["version"].as_i64(), newest);
    let table = db.ok(&["migrate", "status"]);
    assert_eq!(table.lines().filter(|l| l.contains("pending")).count(), 1, "{table}");
    let output = db.run(&["jobs", "list"]);
    assert!(failed(&output, 1).contains("run `backtick migrate up` first"));
    assert!(db.ok(&["migrate", "up"]).starts_with("applied"));
}
