//! Fencing: finishes and heartbeats apply only under the live claim token; every transition
//! a finish can carry does exactly what the contract says.

use backtick_core::state::{Finish, transition_for, transition_for_release};
use backtick_core::{ClaimToken, JobId, JobState, Outcome, RetryPolicy, RunAt, RunnerId, Transition};

use super::Case;
use super::support::{
    LEASE, Store, at, claim_one, dead, enqueue, enqueue_and_claim, finish, finish_applied, finish_stale, get,
    heartbeat, job, requeue_after, secs, t0, token,
};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("fencing", finish_done_marks_the_job_done_and_clears_the_lease),
        case!(
            "fencing",
            finish_queued_resolves_run_at_and_keeps_the_last_error_unless_given
        ),
        case!("fencing", finish_dead_records_the_error_and_finished_at),
        case!("fencing", finish_cancelled_records_the_reason),
        case!("fencing", finish_with_a_wrong_attempt_is_stale_and_changes_nothing),
        case!("fencing", finish_with_another_runners_token_is_stale),
        case!("fencing", finish_many_applies_each_finish_on_its_own),
        case!("fencing", finish_for_a_missing_job_is_stale),
        case!(
            "fencing",
            a_token_from_a_previous_attempt_is_stale_after_revive_and_reclaim
        ),
        case!("fencing", an_old_token_cannot_requeue_or_kill_a_cancelled_job),
        case!("fencing", heartbeat_extends_only_live_leases),
        case!(
            "fencing",
            heartbeat_after_the_lease_expired_still_extends_an_unrevived_claim
        ),
        case!("fencing", release_puts_the_job_back_and_gives_the_attempt_back),
        case!("fencing", a_snooze_does_not_use_up_an_attempt),
    ]
}

fn lease_until(now: backtick_core::Timestamp) -> Option<backtick_core::Timestamp> {
    Some(now + chrono::Duration::from_std(LEASE).expect("small"))
}

async fn finish_done_marks_the_job_done_and_clears_the_lease(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&claimed), Transition::Done, at(7)).await;
    let done = get(&store, claimed.id).await;
    assert_eq!(
        (done.state, done.attempt, done.max_attempts),
        (JobState::Done, 1, claimed.max_attempts)
    );
    assert_eq!(
        (done.finished_at, done.updated_at),
        (Some(at(7)), at(7)),
        "finished_at and updated_at are now"
    );
    assert_eq!(
        (done.lease_owner, done.lease_expires_at),
        (None, None),
        "the lease is cleared"
    );
    assert_eq!(done.last_error, None);
    assert_eq!(done.run_at, claimed.run_at, "run_at is left alone");
}

async fn finish_queued_resolves_run_at_and_keeps_the_last_error_unless_given(store: Store) {
    let first = enqueue_and_claim(&store, job().max_attempts(3), "r1", t0()).await;
    finish_applied(&store, &token(&first), requeue_after(secs(10), Some("e1")), at(2)).await;
    let queued = get(&store, first.id).await;
    assert_eq!(
        (queued.state, queued.attempt, queued.max_attempts),
        (JobState::Queued, 1, 3)
    );
    assert_eq!(queued.run_at, at(12), "RunAt::After counts from the finish's now");
    assert_eq!(queued.last_error.as_deref(), Some("e1"));
    assert_eq!(
        (queued.lease_owner, queued.lease_expires_at, queued.finished_at),
        (None, None, None)
    );
    assert_eq!(queued.updated_at, at(2));
    let second = claim_one(&store, "r1", at(12)).await;
    let snooze = Transition::Queued {
        run_at: RunAt::At(at(500)),
        error: None,
        refund_attempt: false,
    };
    finish_applied(&store, &token(&second), snooze, at(13)).await;
    let queued = get(&store, first.id).await;
    assert_eq!(queued.run_at, at(500), "RunAt::At is kept as given");
    assert_eq!(
        queued.last_error.as_deref(),
        Some("e1"),
        "no new error keeps the previous one"
    );
    assert_eq!((queued.attempt, queued.max_attempts), (2, 3));
}

async fn finish_dead_records_the_error_and_finished_at(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&claimed), dead("discarded: bad input"), at(3)).await;
    let gone = get(&store, claimed.id).await;
    assert_eq!(gone.state, JobState::Dead);
    assert_eq!(gone.last_error.as_deref(), Some("discarded: bad input"));
    assert_eq!((gone.finished_at, gone.updated_at), (Some(at(3)), at(3)));
    assert_eq!((gone.lease_owner, gone.lease_expires_at), (None, None));
}

async fn finish_cancelled_records_the_reason(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let cancel = Transition::Cancelled {
        reason: "the order was withdrawn".into(),
    };
    finish_applied(&store, &token(&claimed), cancel, at(4)).await;
    let cancelled = get(&store, claimed.id).await;
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(cancelled.last_error.as_deref(), Some("the order was withdrawn"));
    assert_eq!((cancelled.finished_at, cancelled.updated_at), (Some(at(4)), at(4)));
    assert_eq!((cancelled.lease_owner, cancelled.lease_expires_at), (None, None));
}

async fn finish_with_a_wrong_attempt_is_stale_and_changes_nothing(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    for attempt in [0, 2] {
        let wrong = ClaimToken {
            attempt,
            ..token(&claimed)
        };
        finish_stale(&store, &wrong, Transition::Done, at(1)).await;
        finish_stale(&store, &wrong, requeue_after(secs(1), Some("x")), at(1)).await;
        finish_stale(&store, &wrong, dead("x"), at(1)).await;
        finish_stale(&store, &wrong, Transition::Cancelled { reason: "x".into() }, at(1)).await;
    }
    assert_eq!(get(&store, claimed.id).await, claimed, "the live claim is untouched");
    finish_applied(&store, &token(&claimed), Transition::Done, at(2)).await;
}

async fn finish_with_another_runners_token_is_stale(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let other = ClaimToken {
        runner_id: RunnerId::new("r2"),
        ..token(&claimed)
    };
    finish_stale(&store, &other, Transition::Done, at(1)).await;
    finish_stale(&store, &other, transition_for_release(), at(1)).await;
    assert!(
        heartbeat(&store, &[other], at(1)).await.is_empty(),
        "another runner cannot extend the lease"
    );
    assert_eq!(get(&store, claimed.id).await, claimed);
}

async fn finish_many_applies_each_finish_on_its_own(store: Store) {
    enqueue(&store, job(), t0()).await;
    enqueue(&store, job(), t0()).await;
    let a = claim_one(&store, "r1", t0()).await;
    let b = claim_one(&store, "r1", t0()).await;
    let stale_b = ClaimToken {
        attempt: 9,
        ..token(&b)
    };
    let finishes = [
        Finish {
            token: token(&a),
            transition: Transition::Done,
        },
        Finish {
            token: stale_b.clone(),
            transition: Transition::Done,
        },
        Finish {
            token: token(&b),
            transition: dead("no"),
        },
        Finish {
            token: token(&a),
            transition: dead("twice"),
        },
    ];
    let report = store
        .finish_many(&finishes, Some(at(1)))
        .await
        .expect("finish_many failed");
    let mut applied = report.applied.clone();
    applied.sort();
    assert_eq!(
        applied,
        vec![a.id, b.id],
        "each live claim is finished exactly once: {report:?}"
    );
    assert_eq!(
        report.stale.len(),
        2,
        "a stale token, and a second finish of one claim, are stale: {report:?}"
    );
    assert!(
        report.stale.contains(&stale_b) && report.stale.contains(&token(&a)),
        "{report:?}"
    );
    let a_now = get(&store, a.id).await;
    assert!(
        matches!(a_now.state, JobState::Done | JobState::Dead),
        "one of the two finishes of a applied: {a_now:?}"
    );
    assert_eq!(get(&store, b.id).await.state, JobState::Dead);
    let empty = store.finish_many(&[], Some(at(1))).await.expect("finish_many failed");
    assert_eq!(empty, Default::default(), "no finishes, empty report");
}

async fn finish_for_a_missing_job_is_stale(store: Store) {
    let missing = ClaimToken {
        job_id: JobId(987_654_321),
        attempt: 1,
        runner_id: RunnerId::new("r1"),
    };
    let report = finish(&store, &missing, Transition::Done, t0()).await;
    assert_eq!((report.applied, report.stale), (vec![], vec![missing.clone()]));
    assert!(heartbeat(&store, &[missing], t0()).await.is_empty());
}

async fn a_token_from_a_previous_attempt_is_stale_after_revive_and_reclaim(store: Store) {
    let first = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    let old = token(&first);
    let expired = store
        .expired_leases(10, Some(at(31)))
        .await
        .expect("expired_leases failed");
    let revivals: Vec<Finish> = expired.iter().filter_map(backtick_core::state::revive).collect();
    let report = store
        .revive_many(&revivals, Some(at(31)))
        .await
        .expect("revive_many failed");
    assert_eq!(report.applied, vec![first.id], "the expired claim is revived");
    let second = claim_one(&store, "r1", at(31)).await;
    assert_eq!((second.id, second.attempt), (first.id, 2));
    // The same runner name, the previous attempt: every fenced write is stale.
    finish_stale(&store, &old, Transition::Done, at(32)).await;
    finish_stale(&store, &old, requeue_after(secs(5), Some("late failure")), at(32)).await;
    finish_stale(&store, &old, dead("late failure"), at(32)).await;
    finish_stale(&store, &old, transition_for_release(), at(32)).await;
    assert!(
        heartbeat(&store, std::slice::from_ref(&old), at(32)).await.is_empty(),
        "an old token's heartbeat fails"
    );
    assert_eq!(get(&store, first.id).await, second, "the live claim is untouched");
    assert_eq!(heartbeat(&store, &[token(&second)], at(33)).await, vec![second.id]);
}

async fn an_old_token_cannot_requeue_or_kill_a_cancelled_job(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    assert!(
        store
            .cancel(claimed.id, "operator", Some(at(1)))
            .await
            .expect("cancel failed")
    );
    let cancelled = get(&store, claimed.id).await;
    let policy = RetryPolicy::default();
    let failed = transition_for(
        &Outcome::Failed { error: "boom".into() },
        1,
        claimed.max_attempts,
        &policy,
        0.5,
    );
    finish_stale(&store, &token(&claimed), failed, at(2)).await;
    finish_stale(&store, &token(&claimed), dead("boom"), at(2)).await;
    finish_stale(&store, &token(&claimed), Transition::Done, at(2)).await;
    assert_eq!(get(&store, claimed.id).await, cancelled, "the job stays cancelled");
}

async fn heartbeat_extends_only_live_leases(store: Store) {
    enqueue(&store, job(), t0()).await;
    enqueue(&store, job(), t0()).await;
    enqueue(&store, job(), t0()).await;
    let live = claim_one(&store, "r1", t0()).await;
    let done = claim_one(&store, "r1", t0()).await;
    let other = claim_one(&store, "r2", t0()).await;
    finish_applied(&store, &token(&done), Transition::Done, at(1)).await;
    let wrong_owner = ClaimToken {
        runner_id: RunnerId::new("r1"),
        ..token(&other)
    };
    let extended = heartbeat(&store, &[token(&live), token(&done), wrong_owner], at(20)).await;
    assert_eq!(extended, vec![live.id], "only the live claim is extended");
    let after = get(&store, live.id).await;
    assert_eq!(
        after.lease_expires_at,
        lease_until(at(20)),
        "the lease runs from the heartbeat's now"
    );
    assert_eq!(
        (after.state, after.attempt, after.updated_at),
        (JobState::Running, 1, at(20))
    );
    assert_eq!(
        get(&store, other.id).await,
        other,
        "a wrong token's heartbeat changes nothing"
    );
    assert!(heartbeat(&store, &[], at(20)).await.is_empty());
}

async fn heartbeat_after_the_lease_expired_still_extends_an_unrevived_claim(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let extended = heartbeat(&store, &[token(&claimed)], at(3600)).await;
    assert_eq!(
        extended,
        vec![claimed.id],
        "the claim is still live until something revives it"
    );
    assert_eq!(get(&store, claimed.id).await.lease_expires_at, lease_until(at(3600)));
    let expired = store
        .expired_leases(10, Some(at(3600)))
        .await
        .expect("expired_leases failed");
    assert!(
        expired.is_empty(),
        "a freshly extended lease is not expired: {expired:?}"
    );
}

async fn release_puts_the_job_back_and_gives_the_attempt_back(store: Store) {
    let claimed = enqueue_and_claim(&store, job().max_attempts(1), "r1", t0()).await;
    finish_applied(&store, &token(&claimed), transition_for_release(), at(5)).await;
    let released = get(&store, claimed.id).await;
    assert_eq!(
        (released.state, released.attempt, released.max_attempts),
        (JobState::Queued, 1, 2),
        "refunded"
    );
    assert_eq!(released.run_at, at(5), "due at once");
    assert_eq!(
        (released.last_error, released.finished_at, released.lease_owner),
        (None, None, None)
    );
    let again = claim_one(&store, "r2", at(5)).await;
    assert_eq!(
        (again.attempt, again.max_attempts),
        (2, 2),
        "the refund pays for exactly one more attempt"
    );
}

async fn a_snooze_does_not_use_up_an_attempt(store: Store) {
    let policy = RetryPolicy::default();
    let mut current = enqueue_and_claim(&store, job().max_attempts(1), "r1", t0()).await;
    for round in 1..=3 {
        let snoozed = Outcome::Snoozed {
            at: RunAt::After(secs(60)),
        };
        let transition = transition_for(&snoozed, current.attempt, current.max_attempts, &policy, 0.5);
        let now = at(round * 100);
        finish_applied(&store, &token(&current), transition, now).await;
        let queued = get(&store, current.id).await;
        assert_eq!(queued.run_at, now + chrono::Duration::seconds(60));
        assert!(
            queued.attempt <= queued.max_attempts,
            "attempt {} > max {}",
            queued.attempt,
            queued.max_attempts
        );
        current = claim_one(&store, "r1", queued.run_at).await;
        assert!(
            current.attempt <= current.max_attempts,
            "a claim never exceeds max_attempts: {current:?}"
        );
    }
    assert_eq!((current.attempt, current.max_attempts), (4, 4));
    let failed = transition_for(&Outcome::Failed { error: "boom".into() }, 4, 4, &policy, 0.5);
    assert!(
        matches!(failed, Transition::Dead { .. }),
        "no attempts left after the snoozes: {failed:?}"
    );
    finish_applied(&store, &token(&current), failed, at(1000)).await;
    assert_eq!(get(&store, current.id).await.state, JobState::Dead);
}
