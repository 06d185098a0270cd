//! The attribute macros, end to end: the function stays callable, scheduling encodes typed
//! arguments that the generated worker decodes and runs, options reach jobs and workers, and
//! discovery finds every annotated function in this test binary.

use std::sync::Mutex;
use std::time::Duration;

use backtick_core::schedule::{CatchUp, Periodic};
use backtick_core::{
    Codec, Job, JobContext, JobError, JobFilter, JobState, NewJob, QueueStore, Registry, RunAt, Runner, RunnerConfig,
    Worker,
};
use backtick_testkit::MemoryStore;
use tokio_util::sync::CancellationToken;

/// What the workers below saw, in order.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn seen() -> Vec<String> {
    SEEN.lock().expect("lock").clone()
}

fn see(what: String) {
    SEEN.lock().expect("lock").push(what);
}

/// Each test records under its own prefix so that tests running in parallel do not mix.
fn seen_with(prefix: &str) -> Vec<String> {
    seen().into_iter().filter(|s| s.starts_with(prefix)).collect()
}

#[backtick_core::worker]
async fn log_sum(x: i64, y: i64) -> Result<(), JobError> {
    see(format!("sum {x} + {y} = {}", x + y));
    Ok(())
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Email {
    to: String,
    subject: String,
}

#[backtick_core::worker(name = "mail.send", queue = "mail", max_attempts = 3, priority = -2, timeout = "30s", codec = "json")]
async fn send_mail(ctx: &JobContext, email: Email) -> Result<(), JobError> {
    see(format!(
        "mail to {} ({}) attempt {}",
        email.to,
        email.subject,
        ctx.attempt()
    ));
    Ok(())
}

#[backtick_core::worker(name = "shout")]
async fn shout(word: String) {
    see(format!("shout {}", word.to_uppercase()));
}

#[derive(Debug, thiserror::Error)]
#[error("the mailbox is full")]
struct MailboxFull;

#[backtick_core::worker(name = "flaky")]
async fn flaky(mode: String) -> Result<(), JobError> {
    match mode.as_str() {
        "std" => Err(MailboxFull.into()),
        "discard" => Err(JobError::discard("gave up")),
        _ => Ok(()),
    }
}

#[backtick_core::worker(name = "typed-error")]
async fn typed_error(fail: bool) -> Result<(), MailboxFull> {
    if fail { Err(MailboxFull) } else { Ok(()) }
}

/// `?` on everyday errors: anyhow, a boxed error, a custom enum.
#[backtick_core::worker(name = "anyhow-error")]
async fn anyhow_error(input: String) -> anyhow::Result<()> {
    let n: i64 = input.parse()?; // a ParseIntError, through anyhow
    anyhow::ensure!(n >= 0, "{n} is negative");
    Ok(())
}

#[backtick_core::worker(name = "boxed-error")]
async fn boxed_error(input: String) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _n: i64 = input.parse()?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum ImportError {
    #[error("row {0} is malformed")]
    Malformed(u32),
}

#[backtick_core::worker(name = "enum-error")]
async fn enum_error(row: u32) -> Result<(), ImportError> {
    Err(ImportError::Malformed(row))
}

#[backtick_core::worker(name = "by-value-context")]
async fn by_value_context(ctx: JobContext) {
    see(format!("context job {}", ctx.job().id));
}

#[backtick_core::recurring(every = "5m")]
async fn heartbeat() {
    see("heartbeat".to_owned());
}

#[backtick_core::recurring(every = 1500, catch_up = "skip", queue = "maintenance")]
async fn tick(ctx: JobContext) -> Result<(), JobError> {
    see(format!("tick attempt {}", ctx.attempt()));
    Ok(())
}

#[backtick_core::cron("0 0 14,16 * * *")]
async fn twice_in_the_afternoon() {
    see("afternoon".to_owned());
}

#[backtick_core::cron(
    "0  30 9 * * MON-FRI",
    tz = "America/Los_Angeles",
    catch_up = "skip",
    name = "standup"
)]
async fn standup() -> Result<(), JobError> {
    Ok(())
}

mod nested {
    pub(crate) mod jobs {
        #[backtick_core::worker]
        pub(crate) async fn reindex(table: String, shards: Vec<u16>) -> Result<(), std::io::Error> {
            super::super::see(format!("reindex {table} on {} shards", shards.len()));
            Ok(())
        }
    }
}

/// A re-export standing in for a renamed or wrapping crate (serde's `test_serde_path`).
mod fake_backtick {
    pub(crate) use backtick_core::*;
}

#[backtick_core::worker(crate = "crate::fake_backtick", name = "through-a-renamed-path")]
async fn through_renamed(n: u8) {
    see(format!("renamed {n}"));
}

/// Run the stored job `id` on `worker` as a runner would, without one.
async fn perform(store: &MemoryStore, worker: &impl Worker, id: backtick_core::JobId) -> Result<(), JobError> {
    let job = store.get(id).await.expect("get").expect("stored");
    worker.perform(JobContext::new(job, CancellationToken::new())).await
}

async fn only_job(store: &MemoryStore) -> Job {
    let jobs = store.list(&JobFilter::default()).await.expect("list");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs.into_iter().next().expect("one job")
}

#[tokio::test]
async fn the_annotated_function_is_still_callable() {
    log_sum(1000, 1).await.expect("runs");
    shout("direct".into()).await;
    nested::jobs::reindex("users".into(), vec![1, 2]).await.expect("runs");
    assert!(seen().contains(&"sum 1000 + 1 = 1001".to_owned()));
    assert!(seen().contains(&"shout DIRECT".to_owned()));
    assert!(seen().contains(&"reindex users on 2 shards".to_owned()));
}

#[tokio::test]
async fn the_default_name_is_the_module_path_and_the_function_name() {
    assert_eq!(log_sum::NAME, "macros::log_sum");
    assert_eq!(nested::jobs::reindex::NAME, "macros::nested::jobs::reindex");
    assert_eq!(send_mail::NAME, "mail.send");
    assert_eq!(log_sum::worker().name(), log_sum::NAME);
}

#[tokio::test]
async fn schedule_stores_the_arguments_as_a_tuple_the_worker_decodes() {
    let store = MemoryStore::new();
    let id = log_sum::schedule(&store, 3, 4).await.expect("schedule");
    let job = only_job(&store).await;
    assert_eq!(
        (job.id, job.worker.as_str(), job.state),
        (id, "macros::log_sum", JobState::Queued)
    );
    assert_eq!(job.codec.decode::<(i64, i64)>(&job.args).expect("a tuple"), (3, 4));
    perform(&store, &log_sum::worker(), id).await.expect("runs");
    assert!(seen().contains(&"sum 3 + 4 = 7".to_owned()));
}

#[tokio::test]
async fn attribute_options_reach_the_job_and_the_worker() {
    let store = MemoryStore::new();
    let email = Email {
        to: "ada@example.com".into(),
        subject: "options".into(),
    };
    let id = send_mail::schedule(&store, email.clone()).await.expect("schedule");
    let job = only_job(&store).await;
    assert_eq!(
        (job.queue.as_str(), job.max_attempts, job.priority, job.codec),
        ("mail", 3, -2, Codec::Json)
    );
    assert_eq!(
        String::from_utf8(job.args.clone()).expect("json"),
        r#"[{"to":"ada@example.com","subject":"options"}]"#
    );
    let options = send_mail::worker().options();
    assert_eq!(
        (options.timeout, options.queue.as_str()),
        (Some(Duration::from_secs(30)), "mail")
    );
    perform(&store, &send_mail::worker(), id).await.expect("runs");
    assert!(seen().contains(&"mail to ada@example.com (options) attempt 0".to_owned()));
}

#[tokio::test]
async fn the_job_builder_overrides_defaults_and_converts_for_a_transaction() {
    let store = MemoryStore::new();
    let job = log_sum::job(5, 6)
        .queue("math")
        .priority(7)
        .max_attempts(2)
        .run_after(Duration::from_secs(3600));
    let new_job: NewJob = job.clone().into_new_job().expect("encodes");
    assert_eq!(new_job.run_at, Some(RunAt::After(Duration::from_secs(3600))));
    assert_eq!(NewJob::try_from(job.clone()).expect("encodes"), new_job);
    job.unique_key("sum-5-6").enqueue(&store).await.expect("enqueue");
    let stored = only_job(&store).await;
    assert_eq!(
        (stored.queue.as_str(), stored.priority, stored.max_attempts),
        ("math", 7, 2)
    );
    assert!(stored.run_at > chrono::Utc::now() + chrono::Duration::minutes(59));
    assert_eq!(stored.unique_key.as_deref(), Some("sum-5-6"));
}

#[tokio::test]
async fn schedule_many_enqueues_one_job_per_item() {
    let store = MemoryStore::new();
    let ids = shout::schedule_many(&store, ["a".to_owned(), "b".to_owned()])
        .await
        .expect("schedule");
    let more = log_sum::schedule_many(&store, vec![(1, 2), (3, 4), (5, 6)])
        .await
        .expect("schedule");
    assert_eq!((ids.len(), more.len()), (2, 3));
    let shouts: Vec<(String,)> = store
        .list(&JobFilter::default().worker("shout"))
        .await
        .expect("list")
        .iter()
        .map(|job| job.codec.decode(&job.args).expect("decodes"))
        .collect();
    assert_eq!(shouts, vec![("a".to_owned(),), ("b".to_owned(),)]);
}

#[tokio::test]
async fn errors_from_the_function_become_the_job_outcome() {
    let store = MemoryStore::new();
    let std_error = flaky::schedule(&store, "std".into()).await.expect("schedule");
    let discard = flaky::schedule(&store, "discard".into()).await.expect("schedule");
    let typed = typed_error::schedule(&store, true).await.expect("schedule");
    assert!(
        matches!(perform(&store, &flaky::worker(), std_error).await, Err(JobError::Retry(e)) if e.to_string() == "the mailbox is full")
    );
    assert!(matches!(
        perform(&store, &flaky::worker(), discard).await,
        Err(JobError::Discard(_))
    ));
    assert!(matches!(
        perform(&store, &typed_error::worker(), typed).await,
        Err(JobError::Retry(_))
    ));
}

#[tokio::test]
async fn workers_may_return_anyhow_boxed_and_custom_errors_which_are_retried() {
    let store = MemoryStore::new();
    let parse = anyhow_error::schedule(&store, "x".into()).await.expect("schedule");
    let ensure = anyhow_error::schedule(&store, "-1".into()).await.expect("schedule");
    let fine = anyhow_error::schedule(&store, "7".into()).await.expect("schedule");
    let boxed = boxed_error::schedule(&store, "x".into()).await.expect("schedule");
    let custom = enum_error::schedule(&store, 3).await.expect("schedule");

    let retried = |result: Result<(), JobError>| match result {
        Err(JobError::Retry(error)) => error.to_string(),
        other => panic!("expected a retryable failure, got {other:?}"),
    };
    assert_eq!(
        retried(perform(&store, &anyhow_error::worker(), parse).await),
        "invalid digit found in string"
    );
    assert_eq!(
        retried(perform(&store, &anyhow_error::worker(), ensure).await),
        "-1 is negative"
    );
    assert!(perform(&store, &anyhow_error::worker(), fine).await.is_ok());
    assert_eq!(
        retried(perform(&store, &boxed_error::worker(), boxed).await),
        "invalid digit found in string"
    );
    assert_eq!(
        retried(perform(&store, &enum_error::worker(), custom).await),
        "row 3 is malformed"
    );
}

#[tokio::test]
async fn a_payload_that_does_not_decode_is_undecodable() {
    let store = MemoryStore::new();
    let id = store
        .enqueue(NewJob::new(log_sum::NAME, &"not two numbers").expect("encode"), None)
        .await
        .expect("enqueue");
    assert!(matches!(
        perform(&store, &log_sum::worker(), id).await,
        Err(JobError::Undecodable(_))
    ));
}

#[tokio::test]
async fn a_context_argument_by_value_receives_the_job() {
    let store = MemoryStore::new();
    let id = by_value_context::schedule(&store).await.expect("schedule");
    perform(&store, &by_value_context::worker(), id).await.expect("runs");
    assert!(seen().contains(&format!("context job {id}")));
}

#[tokio::test]
async fn a_renamed_crate_path_is_honoured() {
    let store = MemoryStore::new();
    let id = through_renamed::schedule(&store, 9).await.expect("schedule");
    perform(&store, &through_renamed::worker(), id).await.expect("runs");
    assert!(seen_with("renamed").contains(&"renamed 9".to_owned()));
}

#[test]
fn discovery_finds_every_annotated_function() {
    let registry = Registry::discovered().expect("names are unique");
    for name in [
        log_sum::NAME,
        "mail.send",
        "shout",
        "flaky",
        heartbeat::NAME,
        tick::NAME,
        twice_in_the_afternoon::NAME,
        "standup",
        "macros::nested::jobs::reindex",
        "through-a-renamed-path",
    ] {
        assert!(registry.get(name).is_some(), "{name} missing from {registry:?}");
    }
    assert_eq!(registry.get("mail.send").expect("registered").options().queue, "mail");
}

#[test]
fn recurring_and_cron_functions_are_discovered_as_periodic_schedules() {
    let periodics = Periodic::discovered().expect("valid schedules");
    let find = |name: &str| {
        periodics
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let heartbeat = find(heartbeat::NAME);
    assert_eq!(
        (heartbeat.spec.as_str(), heartbeat.catch_up),
        ("every 5m", CatchUp::Once)
    );
    let tick = find(tick::NAME);
    assert_eq!(
        (tick.spec.as_str(), tick.catch_up, tick.job.queue.as_str()),
        ("every 1s 500ms", CatchUp::Skip, "maintenance")
    );
    let afternoon = find(twice_in_the_afternoon::NAME);
    assert_eq!(afternoon.spec, "cron 0 0 14,16 * * * UTC");
    let t: chrono::DateTime<chrono::Utc> = "2026-03-01T14:00:00Z".parse().expect("time");
    assert_eq!(
        afternoon.scheduler.next_after(t),
        Some("2026-03-01T16:00:00Z".parse().expect("time"))
    );
    let standup = find("standup");
    assert_eq!(
        (standup.spec.as_str(), standup.catch_up),
        ("cron 0 30 9 * * MON-FRI America/Los_Angeles", CatchUp::Skip)
    );
    assert_eq!(
        periodics.len(),
        4,
        "only the recurring and cron functions: {periodics:?}"
    );
    assert_eq!(heartbeat::periodic().expect("valid").spec, "every 5m");
}

#[tokio::test]
async fn a_discovered_runner_runs_scheduled_jobs() {
    let store = MemoryStore::new();
    let id = log_sum::schedule(&store, 40, 2).await.expect("schedule");
    let config = RunnerConfig {
        poll_interval: Duration::from_millis(10),
        ..RunnerConfig::default()
    };
    let runner = Runner::builder(std::sync::Arc::new(store.clone()))
        .config(config)
        .discovered()
        .build()
        .expect("build")
        .start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.get(id).await.expect("get").expect("stored").state != JobState::Done {
        assert!(tokio::time::Instant::now() < deadline, "the job did not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    runner.shutdown().await;
    assert!(seen().contains(&"sum 40 + 2 = 42".to_owned()));
}
