//! Revive: finding expired leases and putting their jobs back, fenced and only once expired.

use backtick_core::state::{Finish, revive};
use backtick_core::{FinishReport, Job, JobId, JobState, RunAt, Timestamp, Transition};

use super::Case;
use super::support::{
    Store, at, claim, claim_one, enqueue, enqueue_and_claim, enqueue_n, finish_applied, get, heartbeat, job, params,
    t0, token,
};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!(
            "revive",
            expired_leases_lists_running_jobs_past_their_lease_oldest_first
        ),
        case!("revive", revive_requeues_an_expired_job_with_attempts_left),
        case!("revive", revive_kills_an_expired_job_on_its_last_attempt),
        case!("revive", revive_many_skips_a_lease_that_has_not_expired),
        case!("revive", revive_many_loses_to_a_heartbeat_that_landed_in_between),
        case!("revive", revive_many_loses_to_a_completion_that_landed_in_between),
        case!("revive", two_revivers_revive_a_job_once),
        case!("revive", attempts_never_exceed_max_attempts_through_revives),
    ]
}

async fn expired(store: &Store, limit: u32, now: Timestamp) -> Vec<Job> {
    store
        .expired_leases(limit, Some(now))
        .await
        .expect("expired_leases failed")
}

async fn revive_all(store: &Store, jobs: &[Job], now: Timestamp) -> FinishReport {
    let revivals: Vec<Finish> = jobs.iter().filter_map(revive).collect();
    assert_eq!(
        revivals.len(),
        jobs.len(),
        "expired_leases returned a job that is not running: {jobs:?}"
    );
    store
        .revive_many(&revivals, Some(now))
        .await
        .expect("revive_many failed")
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|job| job.id).collect()
}

async fn expired_leases_lists_running_jobs_past_their_lease_oldest_first(store: Store) {
    // Leases of 30s from claims at t+20, t+0 and t+10: they expire at t+50, t+30 and t+40.
    enqueue_n(&store, 5, t0()).await;
    let late = claim_one(&store, "r1", at(20)).await;
    let early = claim_one(&store, "r1", at(0)).await;
    let middle = claim_one(&store, "r1", at(10)).await;
    let done = claim_one(&store, "r1", at(0)).await;
    finish_applied(&store, &token(&done), Transition::Done, at(1)).await;
    assert!(
        expired(&store, 10, at(29)).await.is_empty(),
        "no lease has run out at t+29s"
    );
    assert_eq!(
        ids(&expired(&store, 10, at(40)).await),
        vec![early.id, middle.id],
        "oldest lease first; due at its end"
    );
    assert_eq!(
        ids(&expired(&store, 1, at(60)).await),
        vec![early.id],
        "the limit takes the oldest"
    );
    assert_eq!(
        ids(&expired(&store, 10, at(60)).await),
        vec![early.id, middle.id, late.id]
    );
    assert_eq!(get(&store, early.id).await, early, "expired_leases only reads");
    assert_eq!(
        expired(&store, 10, at(60)).await[0],
        early,
        "it returns the jobs as stored"
    );
}

async fn revive_requeues_an_expired_job_with_attempts_left(store: Store) {
    let claimed = enqueue_and_claim(&store, job().max_attempts(2), "r1", t0()).await;
    let found = expired(&store, 10, at(45)).await;
    // Core picks the due time of a revived job; the store must apply exactly that.
    let revival = revive(&found[0]).expect("an expired job is running");
    let due = match revival.transition {
        Transition::Queued {
            run_at: RunAt::At(t), ..
        } => t,
        Transition::Queued {
            run_at: RunAt::After(d),
            ..
        } => at(45) + chrono::Duration::from_std(d).expect("small"),
        ref other => panic!("core revives a job with attempts left to queued, not {other:?}"),
    };
    assert_eq!(revive_all(&store, &found, at(45)).await.applied, vec![claimed.id]);
    let revived = get(&store, claimed.id).await;
    assert_eq!(
        (revived.state, revived.attempt, revived.max_attempts),
        (JobState::Queued, 1, 2)
    );
    assert_eq!(
        (revived.run_at, revived.updated_at),
        (due, at(45)),
        "run_at is the transition's"
    );
    assert!(revived.run_at <= at(45), "a revived job is due at once");
    assert_eq!(
        (revived.lease_owner, revived.lease_expires_at, revived.finished_at),
        (None, None, None)
    );
    let error = revived.last_error.unwrap_or_default();
    assert!(
        error.contains("lease expired"),
        "the revive is recorded as the last error: {error:?}"
    );
    assert_eq!(
        claim_one(&store, "r2", at(45)).await.attempt,
        2,
        "another runner takes it"
    );
}

async fn revive_kills_an_expired_job_on_its_last_attempt(store: Store) {
    let claimed = enqueue_and_claim(&store, job().max_attempts(1), "r1", t0()).await;
    let found = expired(&store, 10, at(30)).await;
    assert_eq!(revive_all(&store, &found, at(30)).await.applied, vec![claimed.id]);
    let gone = get(&store, claimed.id).await;
    assert_eq!((gone.state, gone.attempt), (JobState::Dead, 1));
    assert_eq!(gone.finished_at, Some(at(30)));
    assert!(gone.last_error.unwrap_or_default().contains("no attempts left"));
    assert!(
        claim(&store, &params("r2", 10, at(31))).await.is_empty(),
        "a dead job is never claimed"
    );
}

async fn revive_many_skips_a_lease_that_has_not_expired(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let early = [revive(&claimed).expect("a claimed job is running")];
    let report = store
        .revive_many(&early, Some(at(29)))
        .await
        .expect("revive_many failed");
    assert_eq!(
        (report.applied, report.stale),
        (vec![], vec![token(&claimed)]),
        "a live lease is not revived"
    );
    assert_eq!(get(&store, claimed.id).await, claimed, "and nothing changed");
}

async fn revive_many_loses_to_a_heartbeat_that_landed_in_between(store: Store) {
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let found = expired(&store, 10, at(31)).await;
    assert_eq!(ids(&found), vec![claimed.id]);
    // The runner was only slow: its heartbeat lands after the reviver's read.
    assert_eq!(heartbeat(&store, &[token(&claimed)], at(31)).await, vec![claimed.id]);
    let report = revive_all(&store, &found, at(32)).await;
    assert_eq!(
        (report.applied, report.stale),
        (vec![], vec![token(&claimed)]),
        "the heartbeat wins"
    );
    let job = get(&store, claimed.id).await;
    assert_eq!(
        (job.state, job.attempt),
        (JobState::Running, 1),
        "the runner keeps its claim"
    );
    finish_applied(&store, &token(&claimed), Transition::Done, at(33)).await;
}

async fn revive_many_loses_to_a_completion_that_landed_in_between(store: Store) {
    enqueue_n(&store, 2, t0()).await;
    let completed = claim_one(&store, "r1", t0()).await;
    let cancelled = claim_one(&store, "r1", t0()).await;
    let found = expired(&store, 10, at(40)).await;
    assert_eq!(found.len(), 2);
    finish_applied(&store, &token(&completed), Transition::Done, at(40)).await;
    assert!(
        store
            .cancel(cancelled.id, "operator", Some(at(40)))
            .await
            .expect("cancel failed")
    );
    let report = revive_all(&store, &found, at(41)).await;
    assert!(report.applied.is_empty(), "a finished job is not revived: {report:?}");
    assert_eq!(report.stale.len(), 2);
    assert_eq!(get(&store, completed.id).await.state, JobState::Done);
    assert_eq!(get(&store, cancelled.id).await.state, JobState::Cancelled);
}

async fn two_revivers_revive_a_job_once(store: Store) {
    let claimed = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    let seen_by_a = expired(&store, 10, at(40)).await;
    let seen_by_b = expired(&store, 10, at(40)).await;
    assert_eq!(revive_all(&store, &seen_by_a, at(40)).await.applied, vec![claimed.id]);
    let reclaimed = claim_one(&store, "r2", at(40)).await;
    let late = revive_all(&store, &seen_by_b, at(100)).await;
    assert!(
        late.applied.is_empty(),
        "the second reviver's read is stale once the job was revived: {late:?}"
    );
    assert_eq!(get(&store, claimed.id).await, reclaimed, "the new claim survives");
}

async fn attempts_never_exceed_max_attempts_through_revives(store: Store) {
    let id = enqueue(&store, job().max_attempts(3), t0()).await;
    let mut now = t0();
    for attempt in 1..=3 {
        let claimed = claim_one(&store, "r1", now).await;
        assert_eq!(claimed.attempt, attempt);
        now += chrono::Duration::seconds(31);
        let report = revive_all(&store, &expired(&store, 10, now).await, now).await;
        assert_eq!(report.applied, vec![id]);
    }
    let gone = get(&store, id).await;
    assert_eq!(
        (gone.state, gone.attempt, gone.max_attempts),
        (JobState::Dead, 3, 3),
        "dead after the third revive"
    );
    assert!(claim(&store, &params("r1", 10, now)).await.is_empty());
}
