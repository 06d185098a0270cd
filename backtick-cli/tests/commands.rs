//! Every subcommand, in-process, against a seeded `MemoryStore`: tables, `--json` parsed
//! back, bulk actions with and without `--yes`, and the bad-input cases (one line, exit 1,
//! nothing changed).

// Test support code outside #[test] functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use backtick_core::{JobState, QueueAdmin, QueueStore};
use serde_json::Value;
use support::{FakeSchema, run, run_with, seeded, state};

fn ids(list: &Value) -> Vec<i64> {
    list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn jobs_list_shows_every_job_newest_first_and_filters() {
    let (store, s) = seeded().await;
    let all = run(&store, &["jobs", "list", "--json"]).await.json();
    assert_eq!(
        ids(&all),
        vec![s.later.0, s.queued.0, s.running.0, s.cancelled.0, s.dead.0, s.done.0]
    );
    assert_eq!(all["next"], Value::Null);
    let dead = run(&store, &["jobs", "list", "--state", "dead", "--json"]).await.json();
    assert_eq!(ids(&dead), vec![s.dead.0]);
    assert_eq!(dead["jobs"][0]["last_error"], "smtp: connection refused");
    assert_eq!(dead["jobs"][0]["args"], serde_json::json!({"to": "bob"}));
    let ada = run(&store, &["jobs", "list", "--args-contain", r#"{"to":"ada"}"#, "--json"])
        .await
        .json();
    assert_eq!(ids(&ada), vec![s.done.0]);
    let by_error = run(
        &store,
        &["jobs", "list", "--error", "SMTP", "--queue", "mail", "--json"],
    )
    .await
    .json();
    assert_eq!(ids(&by_error), vec![s.dead.0]);
    let recent = run(
        &store,
        &["jobs", "list", "--created-after", "1h", "--worker", "resize", "--json"],
    )
    .await
    .json();
    assert_eq!(ids(&recent), vec![s.later.0, s.cancelled.0]);

    let table = run(&store, &["jobs", "list", "--state", "dead"]).await;
    let text = table.ok();
    assert!(text.starts_with("ID"), "{text}");
    assert!(
        text.contains("smtp: connection refused") && text.contains("mail"),
        "{text}"
    );
}

#[tokio::test]
async fn jobs_list_pages_with_a_cursor() {
    let (store, s) = seeded().await;
    let first = run(&store, &["jobs", "list", "--limit", "4", "--json"]).await.json();
    assert_eq!(ids(&first), vec![s.later.0, s.queued.0, s.running.0, s.cancelled.0]);
    let cursor = first["next"].as_str().unwrap().to_owned();
    let second = run(&store, &["jobs", "list", "--limit", "4", "--cursor", &cursor, "--json"])
        .await
        .json();
    assert_eq!(ids(&second), vec![s.dead.0, s.done.0]);
    let human = run(&store, &["jobs", "list", "--limit", "4"]).await;
    assert!(human.ok().contains(&format!("more: --cursor {cursor}")));
    let oldest = run(&store, &["jobs", "list", "--limit", "2", "--oldest-first", "--json"])
        .await
        .json();
    assert_eq!(ids(&oldest), vec![s.done.0, s.dead.0]);
}

#[tokio::test]
async fn jobs_list_refuses_bad_filters() {
    let (store, _) = seeded().await;
    let (message, code) = run(&store, &["jobs", "list", "--args-contain", "{nope"]).await.err();
    assert!(message.contains("--args-contain is not valid JSON"), "{message}");
    assert_eq!(code, 1);
    let (message, _) = run(&store, &["jobs", "list", "--cursor", "zz"]).await.err();
    assert!(message.contains("not a job cursor"), "{message}");
    let (message, _) = run(&store, &["jobs", "list", "--limit", "0"]).await.err();
    assert!(message.contains("1 to 1000"), "{message}");
    let (message, _) = run(&store, &["jobs", "list", "--created-after", "yesterday-ish"])
        .await
        .err();
    assert!(message.contains("RFC 3339"), "{message}");
}

#[tokio::test]
async fn jobs_show_prints_the_job_and_its_attempts() {
    let (store, s) = seeded().await;
    let detail = run(&store, &["jobs", "show", &s.dead.to_string(), "--json"])
        .await
        .json();
    assert_eq!(detail["job"]["state"], "dead");
    assert_eq!(detail["attempts"][0]["outcome"], "dead");
    assert_eq!(detail["attempts"][0]["runner"], "r9");
    let human = run(&store, &["jobs", "show", &s.done.to_string()]).await;
    let text = human.ok();
    assert!(text.contains("completed") && text.contains("\"to\": \"ada\""), "{text}");

    let (message, code) = run(&store, &["jobs", "show", "999"]).await.err();
    assert!(message.starts_with("no job has id 999"), "{message}");
    assert_eq!(code, 1);
}

#[tokio::test]
async fn single_job_actions_apply_or_refuse_without_changing_anything() {
    let (store, s) = seeded().await;
    let retried = run(&store, &["jobs", "retry", &s.dead.to_string(), "--json"])
        .await
        .json();
    assert_eq!(
        (retried["touched"].as_u64(), retried["ids"][0].as_i64()),
        (Some(1), Some(s.dead.0))
    );
    assert_eq!(state(&store, s.dead).await, Some(JobState::Queued));

    // Retry of a job that is not dead or cancelled: nothing changes, not even the others named.
    let (message, code) = run(
        &store,
        &["jobs", "retry", &s.cancelled.to_string(), &s.done.to_string()],
    )
    .await
    .err();
    assert_eq!(
        message,
        format!("job {} is done: retry applies only to dead or cancelled jobs", s.done)
    );
    assert_eq!(code, 1);
    assert_eq!(state(&store, s.cancelled).await, Some(JobState::Cancelled));
    let (message, _) = run(&store, &["jobs", "delete", "4242"]).await.err();
    assert!(message.starts_with("no job has id 4242"), "{message}");

    let cancel = run(&store, &["jobs", "cancel", &s.running.to_string()]).await;
    assert!(cancel.ok().contains("cancellation requested"), "{}", cancel.out);
    let detail = store.job_detail(s.running).await.unwrap();
    assert_eq!(
        detail.cancel_request.map(|c| c.reason),
        Some("cancelled by an operator".into())
    );
    let cancel = run(&store, &["jobs", "cancel", &s.queued.to_string(), "--reason", "dup"]).await;
    cancel.ok();
    assert_eq!(
        store.get(s.queued).await.unwrap().unwrap().last_error.as_deref(),
        Some("dup")
    );

    let now = run(&store, &["jobs", "run-now", &s.later.to_string(), "--json"])
        .await
        .json();
    assert_eq!(now["touched"], 1);
    assert!(store.get(s.later).await.unwrap().unwrap().run_at <= store.now().await.unwrap());
    let deleted = run(&store, &["jobs", "delete", &s.done.to_string()]).await;
    assert!(deleted.ok().contains("deleted"));
    assert_eq!(state(&store, s.done).await, None);
}

#[tokio::test]
async fn bulk_actions_need_yes_and_dry_run_only_counts() {
    let (store, s) = seeded().await;
    let before = store.snapshot();
    let refused = run(&store, &["jobs", "cancel", "--queue", "mail"]).await;
    let (message, code) = refused.err();
    assert_eq!(
        message,
        "cancel would touch 2 job(s); nothing changed: pass --yes to cancel them, or --dry-run to only count"
    );
    assert_eq!(code, 1);
    assert!(refused.out.contains("cancel would touch 2 job(s)"), "{}", refused.out);
    assert!(
        refused.out.contains(&s.queued.to_string()) && refused.out.contains("ID"),
        "lists them: {}",
        refused.out
    );
    assert_eq!(store.snapshot(), before, "nothing changed");

    let dry = run(&store, &["jobs", "cancel", "--queue", "mail", "--dry-run", "--json"])
        .await
        .json();
    assert_eq!(
        (
            dry["touched"].as_u64(),
            dry["cancel_requested"].as_u64(),
            dry["dry_run"].as_bool()
        ),
        (Some(2), Some(1), Some(true))
    );
    assert_eq!(store.snapshot(), before, "a dry run changes nothing");

    let done = run(&store, &["jobs", "cancel", "--queue", "mail", "--yes", "--json"])
        .await
        .json();
    assert_eq!(
        (
            done["touched"].as_u64(),
            done["cancel_requested"].as_u64(),
            done["dry_run"].as_bool()
        ),
        (Some(2), Some(1), Some(false))
    );
    assert_eq!(state(&store, s.queued).await, Some(JobState::Cancelled));
    assert!(store.job_detail(s.running).await.unwrap().cancel_request.is_some());

    let retry_all = run(&store, &["jobs", "retry", "--all", "--yes"]).await;
    assert_eq!(retry_all.ok(), "retry: 3 job(s) touched\n", "dead + 2 cancelled");
    let nothing = run(&store, &["jobs", "retry", "--state", "dead"]).await;
    assert_eq!(nothing.ok(), "retry would touch 0 job(s)\n", "nothing to confirm");
}

#[tokio::test]
async fn bulk_actions_without_a_selection_are_usage_errors() {
    let (store, s) = seeded().await;
    let before = store.snapshot();
    let (message, code) = run(&store, &["jobs", "delete"]).await.err();
    assert!(message.contains("needs job ids, filters"), "{message}");
    assert_eq!(code, 2);
    let (_, code) = run(&store, &["jobs", "delete", &s.done.to_string(), "--state", "done"])
        .await
        .err();
    assert_eq!(code, 2);
    let (_, code) = run(&store, &["jobs", "delete", "--all", "--queue", "mail", "--yes"])
        .await
        .err();
    assert_eq!(code, 2);
    assert_eq!(store.snapshot(), before);
}

#[tokio::test]
async fn enqueue_checks_the_json_and_the_worker() {
    let (store, _) = seeded().await;
    let before = store.snapshot();
    let (message, code) = run(&store, &["jobs", "enqueue", "send_mail", "--args", "{to: ada}"])
        .await
        .err();
    assert!(message.starts_with("--args is not valid JSON"), "{message}");
    assert_eq!(code, 1);
    let (message, _) = run(&store, &["jobs", "enqueue", "send_mial", "--args", "{}"])
        .await
        .err();
    assert_eq!(
        message,
        "no live runner has worker \"send_mial\" (live runners have report, resize, send_mail); check the name, or pass --force to enqueue it anyway"
    );
    let (message, _) = run(
        &store,
        &["jobs", "enqueue", "send_mail", "--args", "{}", "--max-attempts", "0"],
    )
    .await
    .err();
    assert!(message.contains("max_attempts is 0"), "{message}");
    let (message, _) = run(
        &store,
        &["jobs", "enqueue", "send_mail", "--args", "{}", "--at", "soonish"],
    )
    .await
    .err();
    assert!(message.starts_with("--at \"soonish\""), "{message}");
    assert_eq!(store.snapshot(), before, "nothing enqueued");

    let args = [
        "jobs",
        "enqueue",
        "send_mail",
        "--args",
        r#"{"to":"eve"}"#,
        "--queue",
        "vip",
        "--priority",
        "-5",
        "--at",
        "10m",
        "--json",
    ];
    let enqueued = run(&store, &args).await.json();
    let job = store
        .get(backtick_core::JobId(enqueued["id"].as_i64().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.queue.as_str(), job.priority, job.state),
        ("vip", -5, JobState::Queued)
    );
    assert!(job.run_at > store.now().await.unwrap() + chrono::Duration::minutes(9));
    let shown = run(&store, &["jobs", "show", &job.id.to_string(), "--json"])
        .await
        .json();
    assert_eq!(shown["job"]["args"], serde_json::json!({"to": "eve"}));
    let forced = run(&store, &["jobs", "enqueue", "brand_new", "--args", "[1,2]", "--force"]).await;
    assert!(forced.ok().starts_with("enqueued job"), "{}", forced.out);
}

#[tokio::test]
async fn queues_limit_sets_shows_and_clears_limits() {
    let (store, _) = seeded().await;
    let set = run(
        &store,
        &["queues", "limit", "mail", "--concurrency", "5", "--rate", "100/m"],
    )
    .await;
    assert_eq!(
        set.ok().trim(),
        "queue mail limited: concurrency 5, rate 100/1m, across every runner"
    );
    let limits = store.queue_limits().await.unwrap();
    assert_eq!(
        limits,
        vec![(
            "mail".to_owned(),
            backtick_core::flow::QueueLimits::new()
                .concurrency(5)
                .rate(backtick_core::flow::RateLimit::per_minute(100))
        )]
    );
    let listed = run(&store, &["queues", "list", "--json"]).await.json();
    assert_eq!(listed[1]["name"], "mail");
    assert_eq!(listed[1]["concurrency_limit"], 5);
    assert_eq!(listed[1]["rate_limit"], "100/1m");
    assert_eq!(listed[0]["concurrency_limit"], Value::Null);
    let table = run(&store, &["queues", "list"]).await;
    assert!(table.ok().contains("concurrency 5, rate 100/1m"), "{}", table.out);

    let (message, code) = run(&store, &["queues", "limit", "mail", "--rate", "100 per minute"])
        .await
        .err();
    assert!(message.starts_with("invalid rate \"100 per minute\""), "{message}");
    assert_eq!(code, 1);
    let (message, code) = run(&store, &["queues", "limit", "mail"]).await.err();
    assert!(message.contains("--clear"), "{message}");
    assert_eq!(code, 2);
    assert_eq!(
        store.queue_limits().await.unwrap().len(),
        1,
        "a rejected change changes nothing"
    );

    let cleared = run(&store, &["queues", "limit", "mail", "--clear", "--json"])
        .await
        .json();
    assert_eq!(cleared["concurrency"], Value::Null);
    assert!(store.queue_limits().await.unwrap().is_empty());
}

#[tokio::test]
async fn queues_list_pause_and_resume() {
    let (store, _) = seeded().await;
    let queues = run(&store, &["queues", "list", "--json"]).await.json();
    let names: Vec<&str> = queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["images", "mail"]);
    assert_eq!(queues[0]["paused"], true);
    assert_eq!(queues[1]["counts"]["queued"]["value"], 1);
    assert_eq!(queues[1]["counts"]["running"]["value"], 1);
    let table = run(&store, &["queues", "list"]).await;
    assert!(
        table.ok().contains("PAUSED") && table.out.contains("yes"),
        "{}",
        table.out
    );

    assert!(
        run(&store, &["queues", "pause", "mail"])
            .await
            .ok()
            .starts_with("paused queue mail")
    );
    let again = run(&store, &["queues", "pause", "mail", "--json"]).await.json();
    assert_eq!(again["changed"], false);
    assert!(
        run(&store, &["queues", "resume", "images"])
            .await
            .ok()
            .starts_with("resumed queue images")
    );
    let (message, code) = run(&store, &["queues", "pause", "nope"]).await.err();
    assert!(message.starts_with("unknown queue \"nope\""), "{message}");
    assert_eq!(code, 1);
    let paused: Vec<String> = store
        .list_queues(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|q| q.is_paused())
        .map(|q| q.name)
        .collect();
    assert_eq!(paused, ["mail"]);
}

#[tokio::test]
async fn cron_list_next_pause_resume_run_and_remove() {
    let (store, _) = seeded().await;
    let list = run(&store, &["cron", "list", "--json"]).await.json();
    assert_eq!(list[0]["name"], "nightly");
    assert_eq!(list[0]["time_zone"], "Europe/Paris");
    assert_eq!(
        (list[0]["stale"].as_bool(), list[1]["stale"].as_bool()),
        (Some(false), Some(true))
    );
    assert!(run(&store, &["cron", "list"]).await.ok().contains("stale"));

    let next = run(
        &store,
        &[
            "cron",
            "next",
            "0 0 9 * * MON-FRI",
            "-n",
            "3",
            "--tz",
            "America/New_York",
            "--json",
        ],
    )
    .await
    .json();
    let fires = next["fires"].as_array().unwrap();
    assert_eq!(fires.len(), 3);
    assert_eq!(next["time_zone"], "America/New_York");
    let human = run(&store, &["cron", "next", "@daily"]).await;
    assert_eq!(human.ok().lines().count(), 6, "header and five fires: {}", human.out);
    let (message, code) = run(&store, &["cron", "next", "0 0 25 * * *"]).await.err();
    assert!(message.starts_with("invalid hour `25` in cron spec"), "{message}");
    assert_eq!(code, 1);
    let (message, _) = run(&store, &["cron", "next", "@daily", "--tz", "Mars/Base"])
        .await
        .err();
    assert!(message.starts_with("unknown time zone `Mars/Base`"), "{message}");

    assert!(
        run(&store, &["cron", "pause", "nightly"])
            .await
            .ok()
            .starts_with("paused schedule nightly")
    );
    assert!(
        run(&store, &["cron", "resume", "nightly"])
            .await
            .ok()
            .starts_with("resumed schedule nightly")
    );
    let ran = run(&store, &["cron", "run", "nightly", "--json"]).await.json();
    assert_eq!(ran["changed"], true);
    assert!(
        run(&store, &["cron", "run", "nightly"])
            .await
            .ok()
            .contains("already requested")
    );
    let (message, _) = run(&store, &["cron", "remove", "nightly"]).await.err();
    assert!(message.contains("declared by 1 live runner(s) (r1)"), "{message}");
    assert!(
        run(&store, &["cron", "remove", "retired"])
            .await
            .ok()
            .starts_with("removed schedule retired")
    );
    let (message, code) = run(&store, &["cron", "pause", "retired"]).await.err();
    assert!(message.starts_with("unknown schedule \"retired\""), "{message}");
    assert_eq!(code, 1);
}

#[tokio::test]
async fn runners_list_shows_live_and_stale_runners() {
    let (store, _) = seeded().await;
    let runners = run(&store, &["runners", "list", "--json"]).await.json();
    let summary: Vec<(&str, bool, u64)> = runners
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["stale"].as_bool().unwrap(),
                r["running_jobs"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [("r1", false, 1), ("r0", true, 0)]);
    assert_eq!(runners[0]["concurrency"], 8);
    let table = run(&store, &["runners", "list"]).await;
    assert!(
        table.ok().contains("live") && table.out.contains("stale"),
        "{}",
        table.out
    );
}

#[tokio::test]
async fn prune_needs_yes_and_deletes_only_finished_jobs() {
    let (store, s) = seeded().await;
    let before = store.snapshot();
    let (message, _) = run(&store, &["prune", "--older-than", "forever"]).await.err();
    assert!(
        message.starts_with("--older-than \"forever\" is not a duration"),
        "{message}"
    );
    let old = run(&store, &["prune", "--older-than", "1h", "--json"]).await.json();
    assert_eq!(old["deleted"], 0, "nothing finished an hour ago: nothing to confirm");
    let refused = run(&store, &["prune", "--older-than", "0s"]).await;
    let (message, code) = refused.err();
    assert!(
        message.starts_with("prune would touch 3 job(s); nothing changed: pass --yes"),
        "{message}"
    );
    assert_eq!(code, 1);
    let dry = run(&store, &["prune", "--older-than", "0s", "--dry-run", "--json"])
        .await
        .json();
    assert_eq!(
        (dry["deleted"].as_u64(), dry["dry_run"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(store.snapshot(), before);
    let pruned = run(&store, &["prune", "--older-than", "0s", "--yes"]).await;
    assert!(pruned.ok().starts_with("pruned 3 job(s)"), "{}", pruned.out);
    for id in [s.done, s.dead, s.cancelled] {
        assert_eq!(state(&store, id).await, None);
    }
    assert_eq!(state(&store, s.queued).await, Some(JobState::Queued));
}

#[tokio::test]
async fn stats_counts_throughput_and_the_oldest_due_job() {
    let (store, _) = seeded().await;
    let stats = run(&store, &["stats", "--json"]).await.json();
    for (state, n) in [
        ("queued", 2),
        ("running", 1),
        ("done", 1),
        ("dead", 1),
        ("cancelled", 1),
    ] {
        assert_eq!(stats["counts"][state]["value"], n, "{state}");
    }
    assert_eq!(
        (
            stats["throughput"]["done"].as_u64(),
            stats["throughput"]["dead"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(stats["throughput"]["capped"], false);
    assert_eq!(stats["oldest_due_queue"], "mail");
    assert_eq!(stats["paused_queues"], serde_json::json!(["images"]));
    let human = run(&store, &["stats"]).await;
    let text = human.ok();
    assert!(
        text.contains("last 5 min: 1 done") && text.contains("oldest due job waiting"),
        "{text}"
    );
}

#[tokio::test]
async fn stats_watch_redraws_in_place() {
    use backtick_cli::cli::{Cli, Command};
    use backtick_cli::output::Output;
    use clap::Parser;
    let (store, _) = seeded().await;
    for (json, check) in [(false, "\x1b[2J\x1b[H"), (true, "\"counts\"")] {
        let mut args = vec!["backtick", "stats", "--watch", "--interval", "1"];
        if json {
            args.push("--json");
        }
        let Command::Stats(stats) = Cli::parse_from(args).command else {
            unreachable!()
        };
        let mut buf = Vec::new();
        let mut out = Output::new(&mut buf, json);
        backtick_cli::commands::stats::watch(&store, &stats, &mut out, Some(2))
            .await
            .unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.matches(check).count(), 2, "two frames: {text}");
    }
}

#[tokio::test]
async fn doctor_reports_each_check_and_fails_on_pending_migrations() {
    let (store, _) = seeded().await;
    let current = FakeSchema::with_applied(3);
    let checks = run_with(&store, Some(&current), &["doctor", "--json"]).await.json();
    let status = |name: &str| -> Vec<String> {
        checks
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["check"] == name)
            .map(|c| c["status"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(status("migrations"), ["OK"]);
    assert_eq!(status("runners"), ["WARN"], "r0 is stale");
    assert_eq!(status("paused queue"), ["WARN"]);
    assert_eq!(status("dead jobs"), ["WARN"]);
    assert_eq!(status("schedules"), ["WARN"], "retired is stale");
    assert_eq!(status("stuck jobs"), ["OK"]);
    assert_eq!(status("database"), ["SKIP"], "the in-memory store has no database");

    let behind = FakeSchema::with_applied(2);
    let ran = run_with(&store, Some(&behind), &["doctor"]).await;
    let (message, code) = ran.err();
    assert_eq!(
        (message.as_str(), code),
        ("1 check(s) failed; apply the fixes listed above", 1)
    );
    assert!(
        ran.out.contains("FAIL") && ran.out.contains("run `backtick migrate up`"),
        "{}",
        ran.out
    );
}

#[tokio::test]
async fn migrate_status_up_and_down() {
    let (store, _) = seeded().await;
    let schema = FakeSchema::with_applied(1);
    let status = run_with(&store, Some(&schema), &["migrate", "status", "--json"])
        .await
        .json();
    let states: Vec<&str> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied", "pending", "pending"]);
    let up = run_with(&store, Some(&schema), &["migrate", "up"]).await;
    assert_eq!(up.ok(), "applied 0002_schedules, 0003_admin\n");
    let again = run_with(&store, Some(&schema), &["migrate", "up"]).await;
    assert!(again.ok().starts_with("the schema is up to date"));
    let (message, code) = run_with(&store, Some(&schema), &["migrate", "down"]).await.err();
    assert!(message.contains("pass --yes"), "{message}");
    assert_eq!(code, 1);
    assert_eq!(*schema.applied.lock().unwrap(), [true, true, true], "nothing reverted");
    let down = run_with(&store, Some(&schema), &["migrate", "down", "--yes"]).await;
    assert_eq!(down.ok(), "reverted 0003_admin\n");
    let table = run_with(&store, Some(&schema), &["migrate", "status"]).await;
    assert!(table.ok().contains("0003     admin      pending"), "{}", table.out);
}
