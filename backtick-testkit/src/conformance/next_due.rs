//! Next due: when the next job a runner could claim falls due, so that an idle runner sleeps
//! until then instead of until its next poll.

use std::time::Duration;

use backtick_core::JobState;

use super::Case;
use super::support::{Store, WORKER, at, claim_one, dead, enqueue, finish_applied, job, job_for, secs, t0, token};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("next_due", next_due_is_the_earliest_future_run_at_across_priorities),
        case!(
            "next_due",
            next_due_ignores_jobs_due_already_running_finished_or_not_ours
        ),
        case!("next_due", next_due_looks_only_within_the_window),
    ]
}

/// `store.next_due` for the conformance worker on every queue (or `queues`), a minute's window.
async fn next_due(store: &Store, queues: Option<&[String]>, now: i64) -> Option<Duration> {
    store
        .next_due(&[WORKER.to_owned()], queues, secs(60), Some(at(now)))
        .await
        .expect("next_due")
}

async fn next_due_is_the_earliest_future_run_at_across_priorities(store: Store) {
    assert_eq!(next_due(&store, None, 10).await, None, "nothing queued");
    enqueue(&store, job().priority(0).run_at(at(40)), t0()).await;
    enqueue(&store, job().priority(5).run_at(at(25)), t0()).await;
    enqueue(&store, job().priority(-3).run_at(at(30)), t0()).await;
    assert_eq!(
        next_due(&store, None, 10).await,
        Some(secs(15)),
        "the job due at 25 (priority 5) comes first, though two jobs of lower priority numbers are queued"
    );
    let half = Duration::from_millis(500);
    assert_eq!(
        store
            .next_due(
                &[WORKER.to_owned()],
                None,
                secs(60),
                Some(at(24) + chrono::Duration::from_std(half).expect("small"))
            )
            .await
            .expect("next_due"),
        Some(half),
        "to the microsecond"
    );
}

async fn next_due_ignores_jobs_due_already_running_finished_or_not_ours(store: Store) {
    enqueue(&store, job().run_at(at(5)), t0()).await;
    assert_eq!(
        next_due(&store, None, 10).await,
        None,
        "a job due already is the claim's business"
    );
    let running = claim_one(&store, "r1", at(10)).await;
    assert_eq!(running.state, JobState::Running);
    enqueue(&store, job().run_at(at(15)), t0()).await;
    let finished = claim_one(&store, "r1", at(15)).await;
    finish_applied(&store, &token(&finished), dead("boom"), at(16)).await;
    enqueue(&store, job_for("another_worker").run_at(at(20)), t0()).await;
    enqueue(&store, job().queue("elsewhere").run_at(at(21)), t0()).await;
    let mine = vec!["default".to_owned()];
    assert_eq!(
        next_due(&store, Some(&mine), 16).await,
        None,
        "running and finished jobs, other workers' jobs and other queues' jobs do not count"
    );
    assert_eq!(
        next_due(&store, None, 16).await,
        Some(secs(5)),
        "every queue: the job on 'elsewhere'"
    );
    enqueue(&store, job().run_at(at(30)), t0()).await;
    assert_eq!(next_due(&store, Some(&mine), 16).await, Some(secs(14)));
}

async fn next_due_looks_only_within_the_window(store: Store) {
    enqueue(&store, job().run_at(at(100)), t0()).await;
    assert_eq!(
        next_due(&store, None, 39).await,
        None,
        "due 61 s later, beyond the minute"
    );
    assert_eq!(
        next_due(&store, None, 40).await,
        Some(secs(60)),
        "due exactly at the window's end"
    );
}
