//! `jobs list|show|retry|cancel|delete|run-now|enqueue`, one id and in bulk.

use std::time::Duration;

use backtick_postgres::admin::{CountQuery, GroupBy};
use backtick_postgres::{JobState, QueueAdmin, QueueStore};
use serde_json::{Value, json};

use crate::support::{Db, failed, stdout, wait_for};
use crate::workers::{cli_fails, cli_ok};

/// Three `cli_ok` jobs done and two `cli_fails` jobs dead on queue `mail`, run by a real
/// runner that is shut down again.
pub(crate) async fn seeded() -> Db {
    let db = Db::migrated().await;
    for n in 1..=3 {
        cli_ok::schedule(&db.store, n).await.unwrap();
    }
    for n in 1..=2 {
        cli_fails::schedule(&db.store, n).await.unwrap();
    }
    let runner = db.runner("seeder");
    let finished = || async {
        let counts = db.store.count_jobs(&CountQuery::by(GroupBy::Worker)).await.unwrap();
        counts.get("cli_ok", JobState::Done).value == 3 && counts.get("cli_fails", JobState::Dead).value == 2
    };
    wait_for(Duration::from_secs(20), "the seeded jobs to finish", finished).await;
    runner.shutdown().await;
    db
}

fn ids(page: &Value) -> Vec<i64> {
    page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

fn states(db_page: &Value) -> Vec<String> {
    db_page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_list_and_show_read_back_what_the_runner_did() {
    let db = seeded().await;
    let mail = db.json(&["jobs", "list", "--queue", "mail"]);
    assert_eq!(states(&mail), ["dead", "dead", "done", "done", "done"], "newest first");
    assert_eq!(mail["next"], Value::Null);
    let dead = db.json(&["jobs", "list", "--state", "dead"]);
    assert_eq!(ids(&dead).len(), 2);
    assert_eq!(dead["jobs"][0]["args"], json!([2]), "CBOR arguments shown as JSON");
    assert_eq!(dead["jobs"][0]["last_error"], "discarded: smtp: connection refused (2)");
    let by_args = db.json(&["jobs", "list", "--args-contain", "[1]", "--worker", "cli_fails"]);
    assert_eq!(ids(&by_args), [ids(&dead)[1]]);
    let by_error = db.json(&["jobs", "list", "--error", "REFUSED (1)"]);
    assert_eq!(ids(&by_error), [ids(&dead)[1]]);
    let first = db.json(&["jobs", "list", "--limit", "2", "--oldest-first"]);
    assert_eq!(states(&first), ["done", "done"]);
    let cursor = first["next"].as_str().unwrap().to_owned();
    let second = db.json(&["jobs", "list", "--limit", "2", "--oldest-first", "--cursor", &cursor]);
    assert!(
        ids(&second)[0] > ids(&first)[1],
        "the next page continues after the first"
    );
    let table = db.ok(&["jobs", "list", "--state", "dead"]);
    assert!(
        table.starts_with("ID") && table.contains("smtp: connection refused"),
        "{table}"
    );

    let id = ids(&dead)[0].to_string();
    let shown = db.json(&["jobs", "show", &id]);
    assert_eq!(shown["job"]["state"], "dead");
    assert_eq!(shown["job"]["worker"], "cli_fails");
    let attempts = shown["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{shown}");
    assert_eq!(attempts[0]["runner"], "seeder");
    assert_eq!(attempts[0]["error"], "discarded: smtp: connection refused (2)");
    let human = db.ok(&["jobs", "show", &id]);
    assert!(
        human.contains("state       dead") && human.contains("seeder"),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_enqueue_takes_queue_at_and_priority_and_the_single_actions_apply() {
    let db = seeded().await;
    // No live runner has cli_ok now: refused with the reason, unless forced.
    let before = db.snapshot().await;
    let refused = failed(&db.run(&["jobs", "enqueue", "cli_ok", "--args", "[7]"]), 1);
    assert!(
        refused.contains("no live runner has worker \"cli_ok\"") && refused.contains("--force"),
        "{refused}"
    );
    assert_eq!(db.snapshot().await, before, "nothing enqueued");
    let later = db.json(&[
        "jobs",
        "enqueue",
        "cli_ok",
        "--args",
        "[7]",
        "--queue",
        "bulk",
        "--at",
        "1h",
        "--priority",
        "-3",
        "--force",
    ]);
    assert_eq!(
        (later["worker"].as_str(), later["queue"].as_str()),
        (Some("cli_ok"), Some("bulk"))
    );
    let later_id = later["id"].as_i64().unwrap();
    let job = db.store.get(backtick_postgres::JobId(later_id)).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.priority, job.queue.as_str()),
        (JobState::Queued, -3, "bulk")
    );
    let now = db.store.now().await.unwrap();
    let due_in = (job.run_at - now).num_seconds();
    assert!((3590..=3600).contains(&due_in), "due in an hour: {due_in}s");

    let id = later_id.to_string();
    let ran = db.json(&["jobs", "run-now", &id]);
    assert_eq!(
        (ran["action"].as_str(), ran["touched"].as_u64()),
        (Some("run-now"), Some(1))
    );
    let job = db.store.get(job.id).await.unwrap().unwrap();
    assert!(job.run_at <= db.store.now().await.unwrap(), "due now");
    let cancelled = db.ok(&["jobs", "cancel", &id, "--reason", "typo"]);
    assert_eq!(cancelled.trim(), format!("job {id}: cancelled"));
    let job = db.store.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.last_error.as_deref()),
        (JobState::Cancelled, Some("typo"))
    );
    let retried = db.json(&["jobs", "retry", &id]);
    assert_eq!(retried["ids"], json!([later_id]));
    assert_eq!(db.store.get(job.id).await.unwrap().unwrap().state, JobState::Queued);
    let deleted = db.ok(&["jobs", "delete", &id]);
    assert_eq!(deleted.trim(), format!("job {id}: deleted"));
    assert!(db.store.get(job.id).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_need_yes_and_dry_run_only_counts() {
    let db = seeded().await;
    let before = db.snapshot().await;
    let output = db.run(&["jobs", "retry", "--state", "dead"]);
    let message = failed(&output, 1);
    assert!(
        message.contains("retry would touch 2 job(s); nothing changed: pass --yes"),
        "{message}"
    );
    let preview = stdout(&output);
    assert!(
        preview.starts_with("retry would touch 2 job(s)") && preview.matches("cli_fails").count() == 2,
        "the preview lists the jobs: {preview}"
    );
    assert_eq!(db.snapshot().await, before, "nothing changed without --yes");
    let dry = db.json(&["jobs", "retry", "--state", "dead", "--dry-run"]);
    assert_eq!(
        (dry["touched"].as_u64(), dry["dry_run"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(db.snapshot().await, before, "nothing changed by a dry run");
    let all_refused = db.run(&["jobs", "delete", "--all"]);
    failed(&all_refused, 1);
    assert_eq!(db.snapshot().await, before, "--all still needs --yes");

    let done = db.json(&["jobs", "retry", "--state", "dead", "--yes"]);
    assert_eq!(
        (done["touched"].as_u64(), done["dry_run"].as_bool()),
        (Some(2), Some(false))
    );
    let queued = db.json(&["jobs", "list", "--state", "queued", "--worker", "cli_fails"]);
    assert_eq!(ids(&queued).len(), 2, "both dead jobs are queued again");
    let cancelled = db.ok(&["jobs", "cancel", "--queue", "mail", "--state", "queued", "--yes"]);
    assert_eq!(cancelled.trim(), "cancel: 2 job(s) touched");
    let total = ids(&db.json(&["jobs", "list", "--limit", "1000"])).len() as u64;
    let deleted = db.json(&["jobs", "delete", "--all", "--yes"]);
    assert_eq!(deleted["touched"].as_u64(), Some(total), "every job deleted");
    assert_eq!(db.json(&["jobs", "list"])["jobs"], json!([]));
}
