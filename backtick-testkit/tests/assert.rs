//! Running one job without a runner, and asserting what is queued.

#![allow(clippy::unwrap_used)]

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use backtick_core::{
    ClaimParams, Codec, JobContext, JobError, JobState, NewJob, Outcome, QueueStore, RunnerId, Transition,
    WorkerOptions, worker_fn,
};
use backtick_testkit::MemoryStore;
use backtick_testkit::assert::{assert_enqueued, assert_not_enqueued, perform_job, test_job, work_job};
use futures::FutureExt;

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[tokio::test]
async fn work_job_completes_a_succeeding_worker() {
    let worker = worker_fn("add", |ctx: JobContext, (x, y): (i64, i64)| async move {
        assert_eq!(ctx.attempt(), 1);
        assert_eq!(x + y, 5);
        Ok(())
    });
    let worked = work_job(&worker, &(2, 3)).await;
    worked.assert_completed();
    assert_eq!(worked.transition, Transition::Done);
    assert_eq!(
        (worked.job.worker.as_str(), worked.job.state),
        ("add", JobState::Running)
    );
}

#[tokio::test]
async fn work_job_reports_a_retryable_failure_and_the_retry_transition() {
    let worker = worker_fn("flaky", |_: JobContext, (): ()| async {
        Err(JobError::retry("the api is down"))
    });
    let worked = work_job(&worker, &()).await;
    assert!(!worked.is_completed());
    assert_eq!(
        worked.outcome,
        Outcome::Failed {
            error: "the api is down".into()
        }
    );
    assert!(
        matches!(worked.transition, Transition::Queued { refund_attempt: false, error: Some(ref e), .. } if e == "the api is down")
    );
}

#[tokio::test]
async fn work_job_catches_a_panic_as_a_failure() {
    let worker = worker_fn("boom", |_: JobContext, (): ()| async { panic!("index out of range") });
    let worked = work_job(&worker, &()).await;
    assert_eq!(
        worked.outcome,
        Outcome::Panicked {
            message: "index out of range".into()
        }
    );
    assert!(
        matches!(worked.transition, Transition::Queued { .. }),
        "a panic on attempt 1 of 20 is retried"
    );
}

#[tokio::test]
async fn work_job_applies_the_worker_timeout() {
    let options = WorkerOptions {
        timeout: Some(Duration::from_millis(20)),
        ..WorkerOptions::default()
    };
    let worker = worker_fn("slow", |_: JobContext, (): ()| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    })
    .with_options(options);
    let worked = work_job(&worker, &()).await;
    assert_eq!(
        worked.outcome,
        Outcome::TimedOut {
            after: Duration::from_millis(20)
        }
    );
}

#[tokio::test]
async fn work_job_reports_undecodable_arguments_and_the_job_goes_dead() {
    let worker = worker_fn("typed", |_: JobContext, (_x, _y): (i64, i64)| async { Ok(()) });
    let worked = work_job(&worker, &"not a pair").await;
    assert!(
        matches!(worked.outcome, Outcome::Undecodable { .. }),
        "{:?}",
        worked.outcome
    );
    assert!(matches!(worked.transition, Transition::Dead { .. }));
}

#[tokio::test]
async fn perform_job_on_the_last_attempt_sends_a_failure_to_dead() {
    let options = WorkerOptions {
        max_attempts: 3,
        codec: Codec::Json,
        ..WorkerOptions::default()
    };
    let worker = worker_fn("flaky", |_: JobContext, (): ()| async { Err(JobError::retry("no")) }).with_options(options);
    let mut job = test_job(&worker, &());
    assert_eq!(
        (job.max_attempts, job.codec, job.args.as_slice()),
        (3, Codec::Json, &b"null"[..])
    );
    job.attempt = 3;
    let worked = perform_job(&worker, job).await;
    assert!(matches!(worked.transition, Transition::Dead { ref error } if error.contains("attempt 3 of 3")));
}

#[tokio::test]
async fn assert_enqueued_finds_a_queued_job_by_worker_and_args() {
    let store = MemoryStore::new();
    store
        .enqueue(NewJob::new("mail", &("ada", 1)).unwrap(), None)
        .await
        .unwrap();
    let id = store
        .enqueue(NewJob::new("mail", &("bob", 2)).unwrap().queue("slow"), None)
        .await
        .unwrap();
    let found = assert_enqueued(&store, "mail", &("bob", 2)).await;
    assert_eq!((found.id, found.queue.as_str()), (id, "slow"));
    assert_not_enqueued(&store, "mail", &("bob", 3)).await;
    assert_not_enqueued(&store, "sms", &("bob", 2)).await;
}

#[derive(serde::Serialize)]
struct Order {
    id: u32,
    sku: String,
}

#[tokio::test]
async fn assert_enqueued_compares_arguments_as_values_not_bytes() {
    let store = MemoryStore::new();
    // Stored by another producer with the keys in another order.
    let raw = NewJob::from_encoded("ship", br#"{"sku":"X-1","id":7}"#.to_vec(), Codec::Json);
    store.enqueue(raw, None).await.unwrap();
    assert_enqueued(
        &store,
        "ship",
        &Order {
            id: 7,
            sku: "X-1".into(),
        },
    )
    .await;
    assert_not_enqueued(
        &store,
        "ship",
        &Order {
            id: 8,
            sku: "X-1".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn assert_enqueued_only_sees_queued_jobs() {
    let store = MemoryStore::new();
    store.enqueue(NewJob::new("mail", &"ada").unwrap(), None).await.unwrap();
    let params = ClaimParams {
        runner_id: RunnerId::new("r1"),
        workers: vec!["mail".into()],
        queues: None,
        limit: 1,
        lease_ttl: Duration::from_secs(30),
        now: None,
    };
    assert_eq!(store.claim(&params).await.unwrap().len(), 1);
    assert_not_enqueued(&store, "mail", &"ada").await;
}

#[tokio::test]
async fn assert_enqueued_panics_listing_what_is_queued() {
    let store = MemoryStore::new();
    store
        .enqueue(NewJob::new("mail", &("ada", 1)).unwrap().queue("outbox"), None)
        .await
        .unwrap();
    let missed = AssertUnwindSafe(assert_enqueued(&store, "mail", &("ada", 2)))
        .catch_unwind()
        .await;
    let text = panic_text(missed.expect_err("no such job is queued"));
    assert!(
        text.contains(r#"expected a queued "mail" job with args ["ada",2]"#),
        "{text}"
    );
    assert!(
        text.contains(r#"1 queued job(s):"#) && text.contains(r#""mail" on "outbox""#),
        "{text}"
    );
    assert!(
        text.contains(r#"args ["ada",1]"#),
        "the listing shows the queued args: {text}"
    );
}

#[tokio::test]
async fn assert_not_enqueued_panics_naming_the_queued_job() {
    let store = MemoryStore::new();
    let id = store.enqueue(NewJob::new("mail", &"ada").unwrap(), None).await.unwrap();
    let found = AssertUnwindSafe(assert_not_enqueued(&store, "mail", &"ada"))
        .catch_unwind()
        .await;
    let text = panic_text(found.expect_err("the job is queued"));
    assert!(text.contains(&format!("found job {id} \"mail\"")), "{text}");
}
