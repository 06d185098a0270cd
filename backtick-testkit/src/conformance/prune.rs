//! Prune: deleting finished jobs after retention, and nothing else.

use backtick_core::{JobId, JobState, Timestamp, Transition};

use super::Case;
use super::support::{Store, at, claim_one, counts, dead, enqueue, enqueue_and_claim, finish_applied, job, t0, token};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("prune", prune_deletes_only_finished_jobs_before_the_cutoff),
        case!("prune", prune_respects_the_limit),
        case!("prune", prune_never_touches_queued_or_running_jobs),
    ]
}

async fn prune(store: &Store, before: Timestamp, limit: u32) -> u64 {
    store
        .prune_finished(before, limit)
        .await
        .expect("prune_finished failed")
}

async fn exists(store: &Store, id: JobId) -> bool {
    store.get(id).await.expect("get failed").is_some()
}

async fn prune_deletes_only_finished_jobs_before_the_cutoff(store: Store) {
    let done = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&done), Transition::Done, at(10)).await;
    let gone = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&gone), dead("no"), at(20)).await;
    let cancelled = enqueue(&store, job(), t0()).await;
    assert!(
        store
            .cancel(cancelled, "no", Some(at(30)))
            .await
            .expect("cancel failed")
    );
    let queued = enqueue(&store, job().run_at(at(-100)), at(-100)).await;

    assert_eq!(
        prune(&store, at(10), 100).await,
        0,
        "finished_at equal to the cutoff is kept: before is exclusive"
    );
    assert_eq!(
        prune(&store, at(21), 100).await,
        2,
        "done at t+10 and dead at t+20 are before t+21"
    );
    assert!(!exists(&store, done.id).await && !exists(&store, gone.id).await);
    assert!(exists(&store, cancelled).await, "cancelled at t+30 is after the cutoff");
    assert_eq!(prune(&store, at(31), 100).await, 1, "cancelled jobs are pruned too");
    assert!(
        exists(&store, queued).await,
        "a queued job is never pruned, however old"
    );
}

async fn prune_respects_the_limit(store: Store) {
    let ids = store
        .enqueue_many(vec![job(); 5], Some(t0()))
        .await
        .expect("enqueue_many failed");
    for (i, id) in ids.iter().enumerate() {
        assert!(
            store
                .cancel(*id, "no", Some(at(i as i64)))
                .await
                .expect("cancel failed")
        );
    }
    assert_eq!(prune(&store, at(100), 0).await, 0, "a limit of 0 deletes nothing");
    assert_eq!(prune(&store, at(100), 2).await, 2);
    assert_eq!(prune(&store, at(100), 2).await, 2);
    assert_eq!(prune(&store, at(100), 2).await, 1);
    assert_eq!(prune(&store, at(100), 2).await, 0, "nothing left to prune");
    assert_eq!(counts(&store, None).await.total(), 0);
}

async fn prune_never_touches_queued_or_running_jobs(store: Store) {
    store
        .enqueue_many(vec![job(); 3], Some(at(-1000)))
        .await
        .expect("enqueue_many failed");
    let running = claim_one(&store, "r1", at(-1000)).await;
    let far_future = at(100 * 365 * 86_400);
    assert_eq!(
        prune(&store, far_future, 1000).await,
        0,
        "only finished jobs are pruned"
    );
    let counts = counts(&store, None).await;
    assert_eq!((counts.get(JobState::Queued), counts.get(JobState::Running)), (2, 1));
    assert!(exists(&store, running.id).await);
}
