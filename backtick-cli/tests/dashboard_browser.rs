//! The dashboard in a real browser: seed every job state, a paused queue, runners and cron
//! schedules on a Postgres database of its own, start `backtick serve --listen 127.0.0.1:0`
//! twice (full; read-only under the prefix /admin/jobs), run the Playwright script
//! `backtick-dashboard/browser-tests/dashboard.test.js` in headless Chromium, then check in
//! the database that its retry, cancel, pause and bulk retry took effect.
//!
//! Needs `node` and Chromium (`/usr/bin/chromium`, Debian's `chromium`; `BT_CHROMIUM`
//! overrides); `.ci/run` installs both, and `npm ci` is run here when `node_modules` is
//! missing. Without node or Chromium the test prints one line saying so and passes without
//! running. Screenshots of every page go to `<target>/tmp/dashboard-screenshots/`, or to
//! `docs/screenshots/` with `BACKTICK_BLESS_SCREENSHOTS=1`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backtick_core::admin::{CountQuery, QueueAdmin};
use backtick_core::{JobState, QueueStore};
use backtick_testkit::pgsuite::TestDatabase;
use backtick_testkit::scene::seed_operator_scene;
use serde_json::{Value, json};

use pg::Served;

/// The whole script may take this long.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_works_in_headless_chromium() {
    let Some((node, chromium)) = browser_tools() else {
        return;
    };
    let scripts = workspace().join("backtick-dashboard/browser-tests");
    install_packages(&scripts);

    let db = TestDatabase::<pg::Sqlx>::migrated().await;
    let store = db.store().await;
    let scene = seed_operator_scene(&store).await.unwrap();
    let counts = store.count_jobs(&CountQuery::default()).await.unwrap();
    let expected = json!({
        "counts": JobState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), json!(counts.total(*s).value)))
            .collect::<serde_json::Map<String, Value>>(),
        "ids": {
            "dead": scene.dead.0, "dead_again": scene.dead_again.0, "queued": scene.queued.0,
            "running": scene.running.0, "later": scene.later.0,
        },
    });

    let url = db.url();
    let full = Served::start(&url, &[]);
    let read_only = Served::start(&url, &["--read-only", "--prefix", "/admin/jobs"]);
    let screenshots = screenshot_dir();
    let mut script = Command::new(node);
    script
        .arg("dashboard.test.js")
        .current_dir(&scripts)
        .env("BT_DASH_URL", &full.url)
        .env("BT_DASH_RO_URL", &read_only.url)
        .env("BT_DASH_EXPECTED", expected.to_string())
        .env("BT_BACKTICK_BIN", env!("CARGO_BIN_EXE_backtick"))
        .env("BT_DATABASE_URL", &url)
        .env("BT_SCREENSHOTS", &screenshots)
        .env("BT_CHROMIUM", &chromium);
    let (success, output) = run_with_timeout(script, SCRIPT_TIMEOUT);
    drop(full);
    drop(read_only);
    println!("{output}");
    assert!(success, "the browser test failed:\n{output}");
    let result: Value = output
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .map(|json| serde_json::from_str(json).unwrap())
        .expect("a RESULT line");

    // What the browser did is in the database.
    let state = |id| {
        let store = &store;
        async move { store.get(id).await.unwrap().map(|job| job.state) }
    };
    assert_eq!(state(scene.dead).await, Some(JobState::Queued), "retry");
    assert_eq!(state(scene.queued).await, Some(JobState::Cancelled), "cancel");
    assert_eq!(state(scene.dead_again).await, Some(JobState::Queued), "bulk retry");
    assert_eq!(
        state(*scene.finished_last_hour.last().unwrap()).await,
        Some(JobState::Queued),
        "bulk retry"
    );
    assert_eq!(result["bulk_retried"], 2);
    let queues = store.list_queues(None).await.unwrap();
    assert!(queues.iter().any(|q| q.name == "mail" && q.is_paused()), "pause");
    let probe = store
        .list(&backtick_core::JobFilter {
            worker: Some("poll_probe".into()),
            ..backtick_core::JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(probe.len(), 1, "the job enqueued while the page polled");
    for page in [
        "overview",
        "jobs",
        "job",
        "queues",
        "cron",
        "runners",
        "errors",
        "overview-dark",
    ] {
        assert!(screenshots.join(format!("{page}.png")).is_file(), "{page}.png written");
    }
}

/// `node` and Chromium, or `None` after printing why the test cannot run.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var_os("BT_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| which("chromium"))
        .filter(|path| path.is_file());
    let node = which("node");
    match (node, chromium) {
        (Some(node), Some(chromium)) => Some((node, chromium)),
        (node, chromium) => {
            let missing: Vec<&str> = [(node.is_none(), "node"), (chromium.is_none(), "chromium")]
                .into_iter()
                .filter_map(|(gone, name)| gone.then_some(name))
                .collect();
            println!(
                "dashboard browser test skipped: {} not installed (apt-get install -y chromium nodejs npm, as .ci/run does)",
                missing.join(" and ")
            );
            None
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `npm ci` when playwright-core is not installed yet.
fn install_packages(scripts: &Path) {
    if scripts.join("node_modules/playwright-core").is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(scripts)
        .status()
        .expect("npm runs");
    assert!(status.success(), "npm ci in {} failed", scripts.display());
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn screenshot_dir() -> PathBuf {
    if std::env::var("BACKTICK_BLESS_SCREENSHOTS").is_ok_and(|v| v == "1") {
        workspace().join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")
    }
}

/// Run `command` with its stdout captured, killing it after `timeout`.
fn run_with_timeout(mut command: Command, timeout: Duration) -> (bool, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = format!("{}{}", out.join().unwrap(), err.join().unwrap());
    match status {
        Some(status) => (status.success(), output),
        None => (false, format!("{output}\n(killed after {timeout:?})")),
    }
}
