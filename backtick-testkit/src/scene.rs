//! A queue as an operator finds it, for the tests of operator tools (the dashboard's route
//! and browser tests, on the in-memory store and on Postgres alike): a job in every state,
//! failures with an attempt history, jobs finished over the last hour, a paused queue, a live
//! and a stale runner, a live and a stale schedule.

use std::time::Duration;

use backtick_core::admin::{AdminError, RunnerInfo};
use backtick_core::schedule::ScheduleRecord;
use backtick_core::{
    ClaimParams, EncodeError, Finish, Job, JobId, NewJob, QueueAdmin, RunAt, RunnerId, Timestamp, Transition,
};
use serde_json::json;

/// The ids of what [`seed_operator_scene`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorScene {
    /// `send_mail` on `mail`, done.
    pub done: JobId,
    /// `send_mail` on `mail`, dead after two attempts (a failure, then "smtp: connection refused").
    pub dead: JobId,
    /// Another dead `send_mail` job with the same error (one error group with `dead`).
    pub dead_again: JobId,
    /// `send_mail` on `mail`, queued for a retry in an hour after failing with "smtp: timeout".
    pub retrying: JobId,
    /// `resize` on `images`, cancelled.
    pub cancelled: JobId,
    /// `send_mail` on `mail`, running, held by runner `r1`.
    pub running: JobId,
    /// `send_mail` on `mail`, queued and due.
    pub queued: JobId,
    /// `resize` on `images` (paused), queued and due in an hour.
    pub later: JobId,
    /// `report` jobs on `reports` that finished at different minutes of the last hour, done
    /// but for the last one, dead.
    pub finished_last_hour: Vec<JobId>,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SceneError {
    /// The store refused a call.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A job's arguments did not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The store did something the scene did not expect (a claim of another job, say).
    #[error("seeding the operator scene: {0}")]
    Unexpected(String),
}

impl From<backtick_core::StoreError> for SceneError {
    fn from(error: backtick_core::StoreError) -> Self {
        SceneError::Admin(error.into())
    }
}

/// How many `report` jobs finished over the last hour.
pub const FINISHED_LAST_HOUR: usize = 8;

/// Seed `store` (empty, migrated) with the [`OperatorScene`]. Uses the store's clock.
///
/// # Errors
/// [`SceneError`] when a store call fails or does not do what the scene expects.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobState, QueueStore};
/// use backtick_testkit::MemoryStore;
/// use backtick_testkit::scene::seed_operator_scene;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let scene = seed_operator_scene(&store).await?;
/// assert_eq!(store.get(scene.dead).await?.unwrap().state, JobState::Dead);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn seed_operator_scene(store: &dyn QueueAdmin) -> Result<OperatorScene, SceneError> {
    let now = store.now().await?;
    let finished_last_hour = finished_over_the_last_hour(store, now).await?;
    let done = enqueue(store, "send_mail", json!({"to": "ada@example.com"}), "mail").await?;
    run(store, done, "r9", Transition::Done).await?;
    let dead = dead_after_two_attempts(store, "bob@example.com").await?;
    let dead_again = dead_after_two_attempts(store, "eve@example.com").await?;
    let retrying = enqueue(store, "send_mail", json!({"to": "fay@example.com"}), "mail").await?;
    run(
        store,
        retrying,
        "r9",
        requeue_in(Duration::from_secs(3600), "smtp: timeout"),
    )
    .await?;
    let cancelled = enqueue(store, "resize", json!(["cat.png", 640]), "images").await?;
    if !store.cancel(cancelled, "duplicate upload", None).await? {
        return Err(SceneError::Unexpected("the cancel of a queued job did nothing".into()));
    }
    let running = enqueue(store, "send_mail", json!({"to": "cy@example.com"}), "mail").await?;
    claim(store, running, "r1", None).await?;
    let queued = enqueue(store, "send_mail", json!({"to": "di@example.com"}), "mail").await?;
    let later = NewJob::new("resize", &json!(["dog.png", 320]))?
        .queue("images")
        .run_after(Duration::from_secs(3600));
    let later = store.enqueue(later, None).await?;
    store.pause_queue("images", None).await?;
    register_runners(store, now).await?;
    store_schedules(store, now).await?;
    Ok(OperatorScene {
        done,
        dead,
        dead_again,
        retrying,
        cancelled,
        running,
        queued,
        later,
        finished_last_hour,
    })
}

/// `report` jobs finished 2, 9, 16, ... minutes ago: each enqueued, claimed and finished at
/// its own past time, the last one dead.
async fn finished_over_the_last_hour(store: &dyn QueueAdmin, now: Timestamp) -> Result<Vec<JobId>, SceneError> {
    let mut ids = Vec::new();
    for n in 0..FINISHED_LAST_HOUR {
        let at = now - chrono::Duration::minutes(2 + 7 * n as i64);
        let job = NewJob::new("report", &json!({"day": n}))?.queue("reports");
        let id = store.enqueue(job, Some(at - chrono::Duration::seconds(5))).await?;
        claim(store, id, "r9", Some(at - chrono::Duration::seconds(4))).await?;
        let transition = if n + 1 == FINISHED_LAST_HOUR {
            Transition::Dead {
                error: "report: template missing".into(),
            }
        } else {
            Transition::Done
        };
        finish(store, id, "r9", transition, Some(at)).await?;
        ids.push(id);
    }
    Ok(ids)
}

async fn dead_after_two_attempts(store: &dyn QueueAdmin, to: &str) -> Result<JobId, SceneError> {
    let job = NewJob::new("send_mail", &json!({"to": to}))?
        .queue("mail")
        .max_attempts(2);
    let id = store.enqueue(job, None).await?;
    run(store, id, "r9", requeue_in(Duration::ZERO, "smtp: timeout")).await?;
    let dead = Transition::Dead {
        error: "smtp: connection refused\n  at send_mail (mail.rs:42)".into(),
    };
    run(store, id, "r9", dead).await?;
    Ok(id)
}

fn requeue_in(delay: Duration, error: &str) -> Transition {
    Transition::Queued {
        run_at: RunAt::After(delay),
        error: Some(error.into()),
        refund_attempt: false,
    }
}

async fn enqueue(
    store: &dyn QueueAdmin,
    worker: &str,
    args: serde_json::Value,
    queue: &str,
) -> Result<JobId, SceneError> {
    Ok(store.enqueue(NewJob::new(worker, &args)?.queue(queue), None).await?)
}

/// Claim `id` (the only due job of its worker) as `runner`, then finish it with `transition`.
async fn run(store: &dyn QueueAdmin, id: JobId, runner: &str, transition: Transition) -> Result<(), SceneError> {
    claim(store, id, runner, None).await?;
    finish(store, id, runner, transition, None).await
}

async fn claim(store: &dyn QueueAdmin, id: JobId, runner: &str, now: Option<Timestamp>) -> Result<Job, SceneError> {
    let job = store
        .get(id)
        .await?
        .ok_or_else(|| SceneError::Unexpected(format!("job {id} vanished")))?;
    let params = ClaimParams {
        runner_id: RunnerId::new(runner),
        workers: vec![job.worker.clone()],
        queues: Some(vec![job.queue.clone()]),
        limit: 1,
        lease_ttl: Duration::from_secs(600),
        now,
    };
    let mut claimed = store.claim(&params).await?;
    match claimed.pop() {
        Some(job) if job.id == id => Ok(job),
        other => Err(SceneError::Unexpected(format!(
            "claimed {:?} instead of job {id}",
            other.map(|j| j.id)
        ))),
    }
}

async fn finish(
    store: &dyn QueueAdmin,
    id: JobId,
    runner: &str,
    transition: Transition,
    now: Option<Timestamp>,
) -> Result<(), SceneError> {
    let job = store
        .get(id)
        .await?
        .ok_or_else(|| SceneError::Unexpected(format!("job {id} vanished")))?;
    let token = job
        .claim_token()
        .filter(|token| token.runner_id.as_str() == runner)
        .ok_or_else(|| SceneError::Unexpected(format!("job {id} is not claimed by {runner}")))?;
    let report = store.finish_many(&[Finish { token, transition }], now).await?;
    if report.applied != vec![id] {
        return Err(SceneError::Unexpected(format!("the finish of job {id} did not apply")));
    }
    Ok(())
}

async fn register_runners(store: &dyn QueueAdmin, now: Timestamp) -> Result<(), SceneError> {
    let live = RunnerInfo {
        workers: vec!["send_mail".into(), "resize".into(), "report".into()],
        queues: Some(vec!["mail".into(), "images".into(), "reports".into()]),
        schedules: vec!["nightly-report".into()],
        concurrency: 8,
        ..RunnerInfo::this_process(RunnerId::new("r1"), now - chrono::Duration::hours(3))
    };
    store.register_runner(&live, Duration::from_secs(60), None).await?;
    let an_hour_ago = now - chrono::Duration::hours(1);
    let gone = RunnerInfo {
        workers: vec!["legacy_sync".into()],
        concurrency: 2,
        ..RunnerInfo::this_process(RunnerId::new("r0"), an_hour_ago - chrono::Duration::hours(5))
    };
    store
        .register_runner(&gone, Duration::from_secs(60), Some(an_hour_ago))
        .await?;
    Ok(())
}

async fn store_schedules(store: &dyn QueueAdmin, now: Timestamp) -> Result<(), SceneError> {
    let schedules = [
        ScheduleRecord {
            name: "nightly-report".into(),
            worker: "report".into(),
            spec: "cron 0 0 3 * * * Europe/Paris".into(),
            next_run_at: Some(now + chrono::Duration::hours(5)),
        },
        ScheduleRecord {
            name: "legacy-sync".into(),
            worker: "legacy_sync".into(),
            spec: "every 5m".into(),
            next_run_at: Some(now + chrono::Duration::minutes(5)),
        },
    ];
    store.upsert_schedules(&schedules, None).await?;
    Ok(())
}
