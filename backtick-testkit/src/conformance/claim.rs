//! Claim: which jobs a runner gets, in what order, and what a claim does to them.

use backtick_core::{ClaimParams, JobId, JobState, RunnerId};

use super::Case;
use super::support::{
    LEASE, Store, WORKER, at, claim, claim_one, counts, dead, enqueue, enqueue_and_claim, enqueue_n, finish_applied,
    get, job, job_for, params, requeue_after, secs, t0, token,
};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("claim", claim_takes_a_due_job_and_marks_it_running),
        case!("claim", claim_skips_future_jobs),
        case!("claim", claim_orders_by_priority_then_run_at_then_id),
        case!("claim", claim_respects_the_limit),
        case!("claim", claim_only_takes_jobs_whose_worker_the_runner_has),
        case!("claim", claim_filters_by_queue),
        case!("claim", claim_skips_running_and_finished_jobs),
        case!("claim", claim_returns_nothing_when_nothing_matches),
        case!("claim", claim_without_now_uses_the_store_clock),
        case!("claim", each_claim_adds_one_to_the_attempt),
    ]
}

async fn claim_takes_a_due_job_and_marks_it_running(store: Store) {
    let id = enqueue(&store, job(), t0()).await;
    let claimed = claim(&store, &params("r1", 10, at(5))).await;
    assert_eq!(claimed.len(), 1, "the one due job is claimed: {claimed:?}");
    let job = &claimed[0];
    assert_eq!((job.id, job.state, job.attempt), (id, JobState::Running, 1));
    assert_eq!(job.lease_owner, Some(RunnerId::new("r1")), "the claimer owns the lease");
    assert_eq!(
        job.lease_expires_at,
        Some(at(5) + chrono::Duration::from_std(LEASE).expect("small"))
    );
    assert_eq!(job.updated_at, at(5), "updated_at is the claim time");
    assert_eq!(job.created_at, t0(), "created_at never changes");
    assert_eq!(&get(&store, id).await, job, "the returned job is what the store holds");
}

async fn claim_skips_future_jobs(store: Store) {
    let id = enqueue(&store, job().run_at(at(60)), t0()).await;
    assert!(
        claim(&store, &params("r1", 10, at(59))).await.is_empty(),
        "a job due at t+60s is not claimed at t+59s"
    );
    assert_eq!(get(&store, id).await.state, JobState::Queued);
    let claimed = claim(&store, &params("r1", 10, at(60))).await;
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![id],
        "a job is due at its run_at exactly"
    );
}

async fn claim_orders_by_priority_then_run_at_then_id(store: Store) {
    // Enqueued in scrambled order; the expected claim order is a, b, c, d, e.
    let d = enqueue(&store, job().priority(5).run_at(at(-10)), t0()).await;
    let b = enqueue(&store, job().priority(1).run_at(at(-20)), t0()).await;
    let c = enqueue(&store, job().priority(1).run_at(at(-5)), t0()).await;
    let a = enqueue(&store, job().priority(-2).run_at(at(-1)), t0()).await;
    let e = enqueue(&store, job().priority(5).run_at(at(-10)), t0()).await;
    let mut order = Vec::new();
    for _ in 0..5 {
        order.push(claim_one(&store, "r1", t0()).await.id);
    }
    assert_eq!(order, vec![a, b, c, d, e], "priority ascending, then run_at, then id");
    // A limited batch takes the first jobs in that order, too.
    let ids = enqueue_n(&store, 3, at(1)).await;
    let high = enqueue(&store, job().priority(-9), at(1)).await;
    let mut batch: Vec<JobId> = claim(&store, &params("r2", 2, at(1)))
        .await
        .iter()
        .map(|j| j.id)
        .collect();
    batch.sort();
    let mut expected = vec![high, ids[0]];
    expected.sort();
    assert_eq!(batch, expected, "a limit of 2 takes the two first jobs in claim order");
}

async fn claim_respects_the_limit(store: Store) {
    enqueue_n(&store, 5, t0()).await;
    assert!(
        claim(&store, &params("r1", 0, t0())).await.is_empty(),
        "a limit of 0 claims nothing"
    );
    assert_eq!(claim(&store, &params("r1", 2, t0())).await.len(), 2);
    assert_eq!(claim(&store, &params("r1", 2, t0())).await.len(), 2);
    assert_eq!(claim(&store, &params("r1", 2, t0())).await.len(), 1);
    assert_eq!(counts(&store, None).await.get(JobState::Running), 5);
}

async fn claim_only_takes_jobs_whose_worker_the_runner_has(store: Store) {
    let mine = enqueue(&store, job(), t0()).await;
    let theirs = enqueue(&store, job_for("not_here"), t0()).await;
    let claimed = claim(&store, &params("r1", 10, t0())).await;
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![mine]);
    let left = get(&store, theirs).await;
    assert_eq!(
        (left.state, left.attempt),
        (JobState::Queued, 0),
        "a job whose worker the runner lacks stays queued"
    );
    let other = ClaimParams {
        workers: vec!["not_here".into()],
        ..params("r2", 10, t0())
    };
    let claimed = claim(&store, &other).await;
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![theirs],
        "a runner with the worker takes it"
    );
    let none = ClaimParams {
        workers: vec![],
        ..params("r3", 10, t0())
    };
    enqueue(&store, job(), t0()).await;
    assert!(
        claim(&store, &none).await.is_empty(),
        "a runner with no workers claims nothing"
    );
}

async fn claim_filters_by_queue(store: Store) {
    let a = enqueue(&store, job().queue("a"), t0()).await;
    let b = enqueue(&store, job().queue("b"), t0()).await;
    let c = enqueue(&store, job().queue("c"), t0()).await;
    let only_a = ClaimParams {
        queues: Some(vec!["a".into(), "x".into()]),
        ..params("r1", 10, t0())
    };
    let claimed = claim(&store, &only_a).await;
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![a],
        "only queue a"
    );
    let mut any: Vec<JobId> = claim(&store, &params("r1", 10, t0()))
        .await
        .iter()
        .map(|j| j.id)
        .collect();
    any.sort();
    assert_eq!(any, vec![b, c], "queues: None claims from every queue");
    let no_queue = ClaimParams {
        queues: Some(vec![]),
        ..params("r1", 10, t0())
    };
    enqueue(&store, job().queue("a"), t0()).await;
    assert!(
        claim(&store, &no_queue).await.is_empty(),
        "an empty queue list claims nothing"
    );
}

async fn claim_skips_running_and_finished_jobs(store: Store) {
    let running = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let done = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&done), backtick_core::Transition::Done, t0()).await;
    let dead_job = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&dead_job), dead("gave up"), t0()).await;
    let cancelled = enqueue(&store, job(), t0()).await;
    assert!(store.cancel(cancelled, "no", Some(t0())).await.expect("cancel failed"));
    // Far in the future, with every lease long expired: still nothing to claim.
    assert!(
        claim(&store, &params("r2", 10, at(86_400))).await.is_empty(),
        "only queued jobs are claimed"
    );
    assert_eq!(get(&store, running.id).await.lease_owner, Some(RunnerId::new("r1")));
}

async fn claim_returns_nothing_when_nothing_matches(store: Store) {
    assert!(
        claim(&store, &params("r1", 10, t0())).await.is_empty(),
        "an empty store has nothing to claim"
    );
    enqueue(&store, job_for("other"), t0()).await;
    enqueue(&store, job().run_at(at(10)), t0()).await;
    assert!(claim(&store, &params("r1", 10, t0())).await.is_empty());
    assert_eq!(
        counts(&store, None).await.get(JobState::Queued),
        2,
        "a claim that finds nothing changes nothing"
    );
}

async fn claim_without_now_uses_the_store_clock(store: Store) {
    let now = store.now().await.expect("now failed");
    let due = enqueue(&store, job().run_at(now - chrono::Duration::seconds(5)), now).await;
    let future = enqueue(&store, job().run_at(now + chrono::Duration::hours(1)), now).await;
    let claimed = claim(
        &store,
        &ClaimParams {
            now: None,
            ..params("r1", 10, now)
        },
    )
    .await;
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![due],
        "due by the store's clock"
    );
    let expires = claimed[0].lease_expires_at.expect("a claimed job has a lease");
    let after = store.now().await.expect("now failed");
    let lease = chrono::Duration::from_std(LEASE).expect("small");
    assert!(
        now + lease <= expires && expires <= after + lease,
        "the lease counts from the store's clock"
    );
    assert_eq!(get(&store, future).await.state, JobState::Queued);
}

async fn each_claim_adds_one_to_the_attempt(store: Store) {
    let first = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    assert_eq!(first.attempt, 1);
    finish_applied(&store, &token(&first), requeue_after(secs(0), Some("boom")), at(1)).await;
    assert_eq!(
        get(&store, first.id).await.attempt,
        1,
        "a retry keeps the attempt; the next claim adds one"
    );
    let second = claim_one(&store, "r1", at(1)).await;
    assert_eq!((second.id, second.attempt), (first.id, 2));
    let release = backtick_core::state::transition_for_release();
    finish_applied(&store, &token(&second), release, at(2)).await;
    let third = claim_one(&store, "r1", at(2)).await;
    assert_eq!(third.attempt, 3, "even a released attempt is never reused");
    assert_eq!(third.worker, WORKER);
}
