//! Small helpers the cases share: a fixed clock, job builders, and store calls that fail the
//! case with a readable message when the store returns an error.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::state::{Finish, Transition};
use backtick_core::{
    ClaimParams, ClaimToken, Codec, FinishReport, Job, JobId, NewJob, QueueStore, RunAt, RunnerId, StateCounts,
    Timestamp,
};
use chrono::TimeZone;

/// The store under test.
pub(crate) type Store = Arc<dyn QueueStore>;

/// The lease every case claims with.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// The worker most cases enqueue for and claim with.
pub(crate) const WORKER: &str = "conformance_worker";

/// The base time of every case: a fixed instant in whole seconds, so that it survives a
/// database's microsecond precision and never depends on the database clock.
pub(crate) fn t0() -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("2030-01-01 is a valid time")
}

/// `t0` plus `secs` seconds (negative for earlier).
pub(crate) fn at(secs: i64) -> Timestamp {
    t0() + chrono::Duration::seconds(secs)
}

/// `secs` seconds.
pub(crate) fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// A job for [`WORKER`] with a small CBOR payload.
pub(crate) fn job() -> NewJob {
    job_for(WORKER)
}

/// A job for `worker` with a small CBOR payload.
pub(crate) fn job_for(worker: &str) -> NewJob {
    NewJob::from_encoded(worker, vec![0x82, 0x01, 0x02], Codec::Cbor)
}

/// Claim parameters for [`WORKER`] on every queue.
pub(crate) fn params(runner: &str, limit: u32, now: Timestamp) -> ClaimParams {
    ClaimParams {
        runner_id: RunnerId::new(runner),
        workers: vec![WORKER.to_owned()],
        queues: None,
        limit,
        lease_ttl: LEASE,
        now: Some(now),
    }
}

pub(crate) async fn enqueue(store: &Store, job: NewJob, now: Timestamp) -> JobId {
    store.enqueue(job, Some(now)).await.expect("enqueue failed")
}

/// Enqueue `n` plain jobs at `now`, returning their ids.
pub(crate) async fn enqueue_n(store: &Store, n: usize, now: Timestamp) -> Vec<JobId> {
    store
        .enqueue_many(vec![job(); n], Some(now))
        .await
        .expect("enqueue_many failed")
}

pub(crate) async fn claim(store: &Store, params: &ClaimParams) -> Vec<Job> {
    store.claim(params).await.expect("claim failed")
}

/// Claim with `runner` at `now` and expect exactly one job.
pub(crate) async fn claim_one(store: &Store, runner: &str, now: Timestamp) -> Job {
    let mut claimed = claim(store, &params(runner, 1, now)).await;
    assert_eq!(
        claimed.len(),
        1,
        "expected to claim one job at {now}, claimed {claimed:?}"
    );
    claimed.remove(0)
}

/// Enqueue one job at `now` and claim it with `runner` at the same time.
pub(crate) async fn enqueue_and_claim(store: &Store, job: NewJob, runner: &str, now: Timestamp) -> Job {
    let id = enqueue(store, job, now).await;
    let claimed = claim_one(store, runner, now).await;
    assert_eq!(claimed.id, id, "claimed another job than the only one enqueued");
    claimed
}

pub(crate) async fn get(store: &Store, id: JobId) -> Job {
    store
        .get(id)
        .await
        .expect("get failed")
        .unwrap_or_else(|| panic!("job {id} is missing from the store"))
}

pub(crate) fn token(job: &Job) -> ClaimToken {
    job.claim_token()
        .unwrap_or_else(|| panic!("job {} is not running: {job:?}", job.id))
}

pub(crate) async fn finish(store: &Store, token: &ClaimToken, transition: Transition, now: Timestamp) -> FinishReport {
    let finishes = [Finish {
        token: token.clone(),
        transition,
    }];
    store
        .finish_many(&finishes, Some(now))
        .await
        .expect("finish_many failed")
}

/// Finish one claim and expect the write to take effect.
pub(crate) async fn finish_applied(store: &Store, token: &ClaimToken, transition: Transition, now: Timestamp) {
    let report = finish(store, token, transition, now).await;
    assert_eq!(
        report.applied,
        vec![token.job_id],
        "a live claim's finish was not applied: {report:?}"
    );
    assert!(
        report.stale.is_empty(),
        "a live claim's finish was reported stale: {report:?}"
    );
}

/// Finish one claim and expect it to be reported stale and change nothing.
pub(crate) async fn finish_stale(store: &Store, token: &ClaimToken, transition: Transition, now: Timestamp) {
    let before = store.get(token.job_id).await.expect("get failed");
    let report = finish(store, token, transition.clone(), now).await;
    assert!(
        report.applied.is_empty(),
        "a stale {transition:?} for {token} was applied: {report:?}"
    );
    assert_eq!(
        report.stale,
        vec![token.clone()],
        "a stale finish must be reported back"
    );
    let after = store.get(token.job_id).await.expect("get failed");
    assert_eq!(before, after, "a stale {transition:?} for {token} changed the job");
}

pub(crate) async fn heartbeat(store: &Store, tokens: &[ClaimToken], now: Timestamp) -> Vec<JobId> {
    store
        .heartbeat_many(tokens, LEASE, Some(now))
        .await
        .expect("heartbeat_many failed")
}

pub(crate) async fn counts(store: &Store, queue: Option<&str>) -> StateCounts {
    store.count_by_state(queue).await.expect("count_by_state failed")
}

/// A failed attempt to retry `after` from now.
pub(crate) fn requeue_after(delay: Duration, error: Option<&str>) -> Transition {
    Transition::Queued {
        run_at: RunAt::After(delay),
        error: error.map(str::to_owned),
        refund_attempt: false,
    }
}

/// The transition the runner applies when a worker gives up.
pub(crate) fn dead(error: &str) -> Transition {
    Transition::Dead {
        error: error.to_owned(),
    }
}
