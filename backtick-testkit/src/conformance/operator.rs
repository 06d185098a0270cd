//! Operator actions: cancel a queued or running job, retry a dead or cancelled one.

use backtick_core::admin::{RunnerInfo, UnservedWorker};
use backtick_core::{JobId, JobState, RunnerId, Transition};

use super::Case;
use super::support::{
    Store, WORKER, at, claim_one, dead, enqueue, enqueue_and_claim, finish_applied, finish_stale, get, heartbeat, job,
    job_for, requeue_after, secs, t0, token,
};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("operator", cancel_moves_a_queued_job_to_cancelled),
        case!("operator", cancel_of_a_running_job_makes_its_claim_stale),
        case!("operator", cancel_leaves_finished_and_missing_jobs_alone),
        case!("operator", retry_puts_a_dead_job_back_due_now_with_one_more_attempt),
        case!("operator", retry_puts_a_cancelled_job_back),
        case!("operator", retry_keeps_max_attempts_when_attempts_remain),
        case!("operator", retry_refuses_queued_running_done_and_missing_jobs),
        case!(
            "operator",
            unserved_jobs_are_due_long_enough_and_of_a_worker_no_live_runner_has
        ),
    ]
}

async fn cancel(store: &Store, id: JobId, now: i64) -> bool {
    store
        .cancel(id, "cancelled by an operator", Some(at(now)))
        .await
        .expect("cancel failed")
}

async fn retry(store: &Store, id: JobId, now: i64) -> bool {
    store.retry(id, Some(at(now))).await.expect("retry failed")
}

async fn cancel_moves_a_queued_job_to_cancelled(store: Store) {
    let id = enqueue(&store, job().run_at(at(100)), t0()).await;
    assert!(cancel(&store, id, 5).await, "a queued job can be cancelled");
    let cancelled = get(&store, id).await;
    assert_eq!((cancelled.state, cancelled.attempt), (JobState::Cancelled, 0));
    assert_eq!((cancelled.finished_at, cancelled.updated_at), (Some(at(5)), at(5)));
    assert_eq!(
        cancelled.last_error.as_deref(),
        Some("cancelled by an operator"),
        "the reason is recorded"
    );
    assert!(
        store
            .claim(&super::support::params("r1", 10, at(200)))
            .await
            .expect("claim failed")
            .is_empty()
    );
}

async fn cancel_of_a_running_job_makes_its_claim_stale(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    assert!(cancel(&store, claimed.id, 5).await, "a running job can be cancelled");
    let cancelled = get(&store, claimed.id).await;
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(
        (cancelled.lease_owner, cancelled.lease_expires_at),
        (None, None),
        "the lease is cleared"
    );
    assert_eq!(cancelled.finished_at, Some(at(5)));
    assert!(
        heartbeat(&store, &[token(&claimed)], at(6)).await.is_empty(),
        "the runner learns at its heartbeat"
    );
    finish_stale(&store, &token(&claimed), Transition::Done, at(7)).await;
    let expired = store
        .expired_leases(10, Some(at(1000)))
        .await
        .expect("expired_leases failed");
    assert!(
        expired.is_empty(),
        "a cancelled job has no lease to revive: {expired:?}"
    );
}

async fn cancel_leaves_finished_and_missing_jobs_alone(store: Store) {
    let done = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&done), Transition::Done, at(1)).await;
    let gone = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&gone), dead("no"), at(1)).await;
    let cancelled = enqueue(&store, job(), t0()).await;
    assert!(cancel(&store, cancelled, 1).await);
    for id in [done.id, gone.id, cancelled] {
        let before = get(&store, id).await;
        assert!(
            !cancel(&store, id, 2).await,
            "a {} job cannot be cancelled",
            before.state
        );
        assert_eq!(get(&store, id).await, before, "a refused cancel changes nothing");
    }
    assert!(
        !cancel(&store, JobId(987_654_321), 2).await,
        "a missing job cannot be cancelled"
    );
}

async fn retry_puts_a_dead_job_back_due_now_with_one_more_attempt(store: Store) {
    let claimed = enqueue_and_claim(&store, job().max_attempts(1), "r1", t0()).await;
    finish_applied(
        &store,
        &token(&claimed),
        dead("boom (attempt 1 of 1, no attempts left)"),
        at(1),
    )
    .await;
    assert!(retry(&store, claimed.id, 50).await, "a dead job can be retried");
    let back = get(&store, claimed.id).await;
    assert_eq!(
        (back.state, back.attempt, back.max_attempts),
        (JobState::Queued, 1, 2),
        "room for one more attempt"
    );
    assert_eq!((back.run_at, back.updated_at, back.finished_at), (at(50), at(50), None));
    assert_eq!(
        back.last_error.as_deref(),
        Some("boom (attempt 1 of 1, no attempts left)"),
        "the error is kept"
    );
    let again = claim_one(&store, "r2", at(50)).await;
    assert_eq!((again.attempt, again.max_attempts), (2, 2));
}

async fn retry_puts_a_cancelled_job_back(store: Store) {
    let id = enqueue(&store, job().max_attempts(3).run_at(at(100)), t0()).await;
    assert!(cancel(&store, id, 1).await);
    assert!(retry(&store, id, 2).await, "a cancelled job can be retried");
    let back = get(&store, id).await;
    assert_eq!(
        (back.state, back.attempt, back.max_attempts),
        (JobState::Queued, 0, 3),
        "attempts left: unchanged"
    );
    assert_eq!(
        (back.run_at, back.finished_at),
        (at(2), None),
        "due now, not at its old run_at"
    );
    assert_eq!(claim_one(&store, "r1", at(2)).await.id, id);
}

async fn retry_keeps_max_attempts_when_attempts_remain(store: Store) {
    let claimed = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    finish_applied(&store, &token(&claimed), dead("discarded: bad input"), at(1)).await;
    assert!(retry(&store, claimed.id, 2).await);
    let back = get(&store, claimed.id).await;
    assert_eq!(
        (back.attempt, back.max_attempts),
        (1, 5),
        "max(max_attempts, attempt + 1) = 5"
    );
}

async fn retry_refuses_queued_running_done_and_missing_jobs(store: Store) {
    let queued = enqueue(&store, job().run_at(at(100)), t0()).await;
    let running = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let done = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&done), Transition::Done, at(1)).await;
    let retried = enqueue_and_claim(&store, job().max_attempts(3), "r1", t0()).await;
    finish_applied(&store, &token(&retried), requeue_after(secs(60), Some("boom")), at(1)).await;
    for id in [queued, running.id, done.id, retried.id] {
        let before = get(&store, id).await;
        assert!(
            !retry(&store, id, 2).await,
            "a {} job cannot be retried by an operator",
            before.state
        );
        assert_eq!(get(&store, id).await, before, "a refused retry changes nothing");
    }
    assert!(
        !retry(&store, JobId(987_654_321), 2).await,
        "a missing job cannot be retried"
    );
}

async fn unserved_jobs_are_due_long_enough_and_of_a_worker_no_live_runner_has(store: Store) {
    let ghost = enqueue(&store, job_for("ghost"), t0()).await;
    enqueue(&store, job_for("ghost"), at(2)).await;
    enqueue(&store, job(), t0()).await;
    let other_queue = enqueue(&store, job_for("ghost").queue("q2"), at(1)).await;
    let was_served = enqueue(&store, job_for("left"), t0()).await;
    enqueue(&store, job_for("ghost").run_at(at(50)), t0()).await;
    let runner = |id: &str, worker: &str| RunnerInfo {
        workers: vec![worker.to_owned()],
        ..RunnerInfo::this_process(RunnerId::new(id), t0())
    };
    for (info, ttl) in [
        (runner("r-live", WORKER), secs(100)),
        (runner("r-gone", "left"), secs(10)),
    ] {
        store
            .register_runner(&info, ttl, Some(t0()))
            .await
            .expect("register_runner failed");
    }
    let unserved = |waited: u64, now: i64| {
        let store = store.clone();
        async move {
            store
                .unserved_jobs(secs(waited), Some(at(now)))
                .await
                .expect("unserved_jobs failed")
        }
    };
    let entry = |worker: &str, queue: &str, jobs: u64, oldest_due: i64, oldest_job: JobId| UnservedWorker {
        worker: worker.to_owned(),
        queue: queue.to_owned(),
        jobs,
        oldest_due: at(oldest_due),
        oldest_job,
    };
    assert_eq!(
        unserved(30, 60).await,
        vec![
            entry("ghost", "default", 2, 0, ghost),
            entry("left", "default", 1, 0, was_served),
            entry("ghost", "q2", 1, 1, other_queue),
        ],
        "due for 30 s at 60 s: ghost's (by queue) and the stale runner's worker, not the live \
         runner's worker nor the job due at 50 s"
    );
    assert_eq!(
        unserved(30, 5).await,
        Vec::new(),
        "nothing has been due for 30 s at 5 s"
    );
    let no_wait = unserved(0, 5).await;
    assert_eq!(
        no_wait.iter().map(|u| u.worker.as_str()).collect::<Vec<_>>(),
        vec!["ghost", "ghost"],
        "with no wait every due job counts, and the runner for `left` is still live: {no_wait:?}"
    );
}
