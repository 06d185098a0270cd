//! Timestamps: created_at, updated_at and finished_at as documented, at microsecond precision.

use backtick_core::{JobState, Timestamp, Transition};

use super::Case;
use super::support::{
    Store, at, claim_one, dead, enqueue, finish_applied, get, heartbeat, job, params, requeue_after, secs, t0, token,
};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("timestamps", updated_at_follows_every_change_and_created_at_never_does),
        case!("timestamps", microsecond_times_are_stored_exactly),
    ]
}

async fn updated_at_follows_every_change_and_created_at_never_does(store: Store) {
    let id = enqueue(&store, job().max_attempts(2), t0()).await;
    let check = |state: JobState, updated: Timestamp, finished: Option<Timestamp>| {
        let store = store.clone();
        async move {
            let job = get(&store, id).await;
            assert_eq!(job.state, state);
            assert_eq!(job.created_at, t0(), "created_at never changes (now {state})");
            assert_eq!(
                job.updated_at, updated,
                "updated_at is the time of the last change (now {state})"
            );
            assert_eq!(job.finished_at, finished, "finished_at (now {state})");
        }
    };
    let first = claim_one(&store, "r1", at(1)).await;
    check(JobState::Running, at(1), None).await;
    heartbeat(&store, &[token(&first)], at(2)).await;
    check(JobState::Running, at(2), None).await;
    finish_applied(&store, &token(&first), requeue_after(secs(1), Some("e")), at(3)).await;
    check(JobState::Queued, at(3), None).await;
    let second = claim_one(&store, "r1", at(4)).await;
    finish_applied(&store, &token(&second), dead("e"), at(5)).await;
    check(JobState::Dead, at(5), Some(at(5))).await;
    assert!(store.retry(id, Some(at(6))).await.expect("retry failed"));
    check(JobState::Queued, at(6), None).await;
    assert!(store.cancel(id, "stop", Some(at(7))).await.expect("cancel failed"));
    check(JobState::Cancelled, at(7), Some(at(7))).await;
    // Reads and refused writes leave updated_at alone.
    assert!(!store.cancel(id, "again", Some(at(8))).await.expect("cancel failed"));
    store.claim(&params("r1", 10, at(9))).await.expect("claim failed");
    store
        .expired_leases(10, Some(at(9)))
        .await
        .expect("expired_leases failed");
    check(JobState::Cancelled, at(7), Some(at(7))).await;
}

async fn microsecond_times_are_stored_exactly(store: Store) {
    let micros = |base: Timestamp, us: i64| base + chrono::Duration::microseconds(us);
    let now = micros(t0(), 123_457);
    let id = enqueue(&store, job().run_at(micros(at(-1), 999_999)), now).await;
    let stored = get(&store, id).await;
    assert_eq!(
        (stored.run_at, stored.created_at),
        (micros(at(-1), 999_999), now),
        "microseconds are kept"
    );
    let claimed = claim_one(&store, "r1", micros(at(2), 1)).await;
    let lease = chrono::Duration::from_std(super::support::LEASE).expect("small");
    assert_eq!(claimed.lease_expires_at, Some(micros(at(2), 1) + lease));
    finish_applied(&store, &token(&claimed), Transition::Done, micros(at(3), 500_001)).await;
    assert_eq!(get(&store, id).await.finished_at, Some(micros(at(3), 500_001)));
}
