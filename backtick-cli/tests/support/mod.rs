//! A seeded in-memory store and a way to run a command line against it in-process.

use std::time::Duration;

use async_trait::async_trait;
use backtick_cli::cli::{Cli, Command};
use backtick_cli::commands::migrate::Schema;
use backtick_cli::commands::{doctor, migrate, run_admin};
use backtick_cli::error::CliError;
use backtick_cli::output::Output;
use backtick_core::admin::RunnerInfo;
use backtick_core::schedule::ScheduleRecord;
use backtick_core::{ClaimParams, Finish, Job, JobId, JobState, NewJob, QueueAdmin, QueueStore, RunnerId, Transition};
use backtick_postgres::{MigrateError, Migration, MigrationState, MigrationStatus};
use backtick_testkit::MemoryStore;
use clap::Parser;
use serde_json::{Value, json};

/// The ids of the seeded jobs, one per state, plus a queued job due later.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seeded {
    pub(crate) done: JobId,
    pub(crate) dead: JobId,
    pub(crate) cancelled: JobId,
    pub(crate) running: JobId,
    pub(crate) queued: JobId,
    pub(crate) later: JobId,
}

/// A store with a job in every state (mail and images queues), the images queue paused, a
/// live runner `r1` holding the running job, a stale runner `r0`, a schedule `nightly` that
/// `r1` declares and a stale schedule `retired`.
pub(crate) async fn seeded() -> (MemoryStore, Seeded) {
    let store = MemoryStore::new();
    let done = enqueue(
        &store,
        NewJob::new("send_mail", &json!({"to": "ada"})).unwrap().queue("mail"),
    )
    .await;
    finish(&store, done, Transition::Done).await;
    let dead = enqueue(
        &store,
        NewJob::new("send_mail", &json!({"to": "bob"})).unwrap().queue("mail"),
    )
    .await;
    finish(
        &store,
        dead,
        Transition::Dead {
            error: "smtp: connection refused".into(),
        },
    )
    .await;
    let cancelled = enqueue(
        &store,
        NewJob::new("resize", &json!(["cat.png", 640])).unwrap().queue("images"),
    )
    .await;
    assert!(store.cancel(cancelled, "duplicate", None).await.unwrap());
    let running = enqueue(
        &store,
        NewJob::new("send_mail", &json!({"to": "cy"})).unwrap().queue("mail"),
    )
    .await;
    let claimed = claim(&store, "r1").await;
    assert_eq!(claimed.id, running);
    let queued = enqueue(
        &store,
        NewJob::new("send_mail", &json!({"to": "di"})).unwrap().queue("mail"),
    )
    .await;
    let later = enqueue(
        &store,
        NewJob::new("resize", &json!(["dog.png", 320]))
            .unwrap()
            .queue("images")
            .run_after(Duration::from_secs(3600)),
    )
    .await;
    assert!(store.pause_queue("images", None).await.unwrap());

    let now = store.now().await.unwrap();
    let live = RunnerInfo {
        workers: vec!["send_mail".into(), "resize".into(), "report".into()],
        schedules: vec!["nightly".into()],
        concurrency: 8,
        ..RunnerInfo::this_process(RunnerId::new("r1"), now)
    };
    store
        .register_runner(&live, Duration::from_secs(60), None)
        .await
        .unwrap();
    let gone = RunnerInfo {
        workers: vec!["old_worker".into()],
        ..RunnerInfo::this_process(RunnerId::new("r0"), now - chrono::Duration::hours(1))
    };
    let an_hour_ago = now - chrono::Duration::hours(1);
    store
        .register_runner(&gone, Duration::from_secs(60), Some(an_hour_ago))
        .await
        .unwrap();
    let schedules = [
        ScheduleRecord {
            name: "nightly".into(),
            worker: "report".into(),
            spec: "cron 0 0 3 * * * Europe/Paris".into(),
            next_run_at: Some(now + chrono::Duration::hours(5)),
        },
        ScheduleRecord {
            name: "retired".into(),
            worker: "old_worker".into(),
            spec: "every 5m".into(),
            next_run_at: Some(now + chrono::Duration::minutes(5)),
        },
    ];
    store.upsert_schedules(&schedules, None).await.unwrap();
    let seeded = Seeded {
        done,
        dead,
        cancelled,
        running,
        queued,
        later,
    };
    (store, seeded)
}

async fn enqueue(store: &MemoryStore, job: NewJob) -> JobId {
    store.enqueue(job, None).await.unwrap()
}

/// Claim the one due job of `send_mail` or `resize`, as runner `runner`.
async fn claim(store: &MemoryStore, runner: &str) -> Job {
    let params = ClaimParams {
        runner_id: RunnerId::new(runner),
        workers: vec!["send_mail".into(), "resize".into()],
        queues: None,
        limit: 1,
        lease_ttl: Duration::from_secs(300),
        now: None,
    };
    let mut claimed = store.claim(&params).await.unwrap();
    assert_eq!(claimed.len(), 1, "one due job");
    claimed.remove(0)
}

async fn finish(store: &MemoryStore, id: JobId, transition: Transition) {
    let job = claim(store, "r9").await;
    assert_eq!(job.id, id);
    let finish = Finish {
        token: job.claim_token().unwrap(),
        transition,
    };
    let report = store.finish_many(&[finish], None).await.unwrap();
    assert_eq!(report.applied, vec![id]);
}

/// What a command did: its result and what it printed.
pub(crate) struct Ran {
    pub(crate) result: Result<(), CliError>,
    pub(crate) out: String,
}

impl Ran {
    /// The output as JSON, asserting the command succeeded.
    pub(crate) fn json(&self) -> Value {
        self.ok();
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.out))
    }

    /// Assert success and return the output.
    pub(crate) fn ok(&self) -> &str {
        if let Err(error) = &self.result {
            panic!("command failed: {} (output: {})", error.one_line(), self.out);
        }
        &self.out
    }

    /// Assert failure and return the error's one-line message and exit code.
    pub(crate) fn err(&self) -> (String, u8) {
        match &self.result {
            Ok(()) => panic!("command succeeded: {}", self.out),
            Err(error) => {
                let message = error.one_line();
                assert!(!message.contains('\n'), "one line: {message}");
                (message, error.exit_code())
            }
        }
    }
}

/// Parse `args` as the binary would and run the command against `store` (and `schema` for
/// `migrate` and `doctor`).
pub(crate) async fn run_with(store: &MemoryStore, schema: Option<&dyn Schema>, args: &[&str]) -> Ran {
    let cli = Cli::try_parse_from(std::iter::once("backtick").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"));
    let admin: &dyn QueueAdmin = store;
    let mut buf = Vec::new();
    let result = {
        let mut out = Output::new(&mut buf, cli.json);
        match (&cli.command, schema) {
            (Command::Migrate(command), Some(schema)) => migrate::run(schema, command, &mut out).await,
            (Command::Doctor, schema) => doctor::doctor(Ok(admin), schema, &mut out).await,
            (command, _) => run_admin(admin, command, &mut out).await,
        }
    };
    Ran {
        result,
        out: String::from_utf8(buf).unwrap(),
    }
}

/// [`run_with`] without a schema.
pub(crate) async fn run(store: &MemoryStore, args: &[&str]) -> Ran {
    run_with(store, None, args).await
}

/// The state of job `id`.
pub(crate) async fn state(store: &MemoryStore, id: JobId) -> Option<JobState> {
    store.get(id).await.unwrap().map(|job| job.state)
}

/// A schema whose migrations are as given; `up` applies the pending ones, `down` reverts the
/// last applied one, both in memory.
pub(crate) struct FakeSchema {
    pub(crate) applied: std::sync::Mutex<Vec<bool>>,
}

const MIGRATIONS: [Migration; 3] = [
    Migration::new(1, "jobs", "", ""),
    Migration::new(2, "schedules", "", ""),
    Migration::new(3, "admin", "", ""),
];

impl FakeSchema {
    /// The first `applied` of three migrations applied.
    pub(crate) fn with_applied(applied: usize) -> Self {
        FakeSchema {
            applied: std::sync::Mutex::new((0..3).map(|i| i < applied).collect()),
        }
    }
}

#[async_trait]
impl Schema for FakeSchema {
    async fn up(&self) -> Result<Vec<Migration>, MigrateError> {
        let mut applied = self.applied.lock().unwrap();
        let mut done = Vec::new();
        for (i, a) in applied.iter_mut().enumerate() {
            if !*a {
                *a = true;
                done.push(MIGRATIONS[i]);
            }
        }
        Ok(done)
    }

    async fn down(&self) -> Result<Option<Migration>, MigrateError> {
        let mut applied = self.applied.lock().unwrap();
        let last = applied.iter().rposition(|a| *a);
        Ok(last.map(|i| {
            applied[i] = false;
            MIGRATIONS[i]
        }))
    }

    async fn status(&self) -> Result<Vec<MigrationStatus>, MigrateError> {
        let applied = self.applied.lock().unwrap();
        Ok(MIGRATIONS
            .iter()
            .zip(applied.iter())
            .map(|(m, a)| MigrationStatus {
                version: m.version,
                name: m.name.to_owned(),
                state: if *a {
                    MigrationState::Applied { at: chrono::Utc::now() }
                } else {
                    MigrationState::Pending
                },
            })
            .collect())
    }
}
