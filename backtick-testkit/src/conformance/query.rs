//! Reads: get, list and count_by_state.

use std::collections::BTreeMap;

use backtick_core::{JobFilter, JobId, JobState, StateCounts, Transition};

use super::Case;
use super::support::{Store, at, claim_one, counts, enqueue, finish_applied, job, job_for, t0, token};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("query", get_returns_none_for_a_missing_job),
        case!("query", list_filters_by_state_queue_and_worker_lowest_id_first),
        case!("query", list_respects_the_limit),
        case!("query", count_by_state_counts_each_state_and_omits_empty_ones),
    ]
}

async fn list(store: &Store, filter: JobFilter) -> Vec<JobId> {
    store
        .list(&filter)
        .await
        .expect("list failed")
        .iter()
        .map(|job| job.id)
        .collect()
}

async fn get_returns_none_for_a_missing_job(store: Store) {
    assert_eq!(
        store.get(JobId(1)).await.expect("get failed"),
        None,
        "an empty store has no job 1"
    );
    let id = enqueue(&store, job(), t0()).await;
    assert_eq!(store.get(JobId(id.0 + 1000)).await.expect("get failed"), None);
    assert!(store.get(id).await.expect("get failed").is_some());
}

async fn list_filters_by_state_queue_and_worker_lowest_id_first(store: Store) {
    let mail_a = enqueue(&store, job_for("mail").queue("q1"), t0()).await;
    let sms = enqueue(&store, job_for("sms").queue("q1"), t0()).await;
    let mail_b = enqueue(&store, job_for("mail").queue("q2"), t0()).await;
    let running = enqueue(&store, job().queue("q2"), t0()).await;
    let claimed = claim_one(&store, "r1", t0()).await;
    assert_eq!(claimed.id, running);
    assert_eq!(
        list(&store, JobFilter::default()).await,
        vec![mail_a, sms, mail_b, running],
        "everything, by id"
    );
    assert_eq!(
        list(&store, JobFilter::default().worker("mail")).await,
        vec![mail_a, mail_b]
    );
    assert_eq!(list(&store, JobFilter::default().queue("q1")).await, vec![mail_a, sms]);
    assert_eq!(
        list(&store, JobFilter::default().state(JobState::Running)).await,
        vec![running]
    );
    assert_eq!(
        list(&store, JobFilter::default().queue("q2").state(JobState::Queued)).await,
        vec![mail_b]
    );
    assert_eq!(
        list(
            &store,
            JobFilter::default().worker("mail").queue("q2").state(JobState::Queued)
        )
        .await,
        vec![mail_b]
    );
    assert!(
        list(&store, JobFilter::default().state(JobState::Dead))
            .await
            .is_empty(),
        "no match, empty list"
    );
    assert!(list(&store, JobFilter::default().queue("nope")).await.is_empty());
    let full = store
        .list(&JobFilter::default().state(JobState::Running))
        .await
        .expect("list failed");
    assert_eq!(full, vec![claimed], "list returns whole jobs as stored");
}

async fn list_respects_the_limit(store: Store) {
    let ids = store
        .enqueue_many(vec![job(); 7], Some(t0()))
        .await
        .expect("enqueue_many failed");
    assert_eq!(
        list(&store, JobFilter::default().limit(3)).await,
        ids[..3].to_vec(),
        "the lowest ids first"
    );
    assert!(list(&store, JobFilter::default().limit(0)).await.is_empty());
    assert_eq!(list(&store, JobFilter::default().limit(100)).await, ids);
}

async fn count_by_state_counts_each_state_and_omits_empty_ones(store: Store) {
    assert_eq!(
        counts(&store, None).await,
        StateCounts::default(),
        "an empty store counts nothing"
    );
    store
        .enqueue_many(vec![job().queue("a"); 3], Some(t0()))
        .await
        .expect("enqueue_many failed");
    store
        .enqueue_many(vec![job().queue("b"); 2], Some(t0()))
        .await
        .expect("enqueue_many failed");
    let first = claim_one(&store, "r1", t0()).await; // queue a, the lowest id
    finish_applied(&store, &token(&first), Transition::Done, at(1)).await;
    claim_one(&store, "r1", at(1)).await; // queue a
    let expected = |pairs: &[(JobState, u64)]| StateCounts(pairs.iter().copied().collect::<BTreeMap<_, _>>());
    assert_eq!(
        counts(&store, None).await,
        expected(&[(JobState::Queued, 3), (JobState::Running, 1), (JobState::Done, 1)]),
        "states with no job are absent"
    );
    assert_eq!(
        counts(&store, Some("a")).await,
        expected(&[(JobState::Queued, 1), (JobState::Running, 1), (JobState::Done, 1)])
    );
    assert_eq!(counts(&store, Some("b")).await, expected(&[(JobState::Queued, 2)]));
    assert_eq!(counts(&store, Some("nope")).await, StateCounts::default());
}
