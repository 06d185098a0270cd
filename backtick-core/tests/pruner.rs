//! The pruner's pass, called directly: finished jobs go once their retention has passed,
//! queued and running jobs never.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::maintenance::{PruneReport, Pruner};
use backtick_core::{
    ClaimParams, Finish, JobFilter, JobState, ManualClock, NewJob, QueueStore, RunnerId, Timestamp, Transition,
};
use backtick_testkit::MemoryStore;

const DAY: i64 = 24 * 3600;

/// Three jobs at `t0`: one done, one claimed (running), one left queued.
async fn three_jobs(store: &MemoryStore, t0: Timestamp) {
    let jobs = (0..3).map(|i| NewJob::new("work", &i).expect("encode")).collect();
    store.enqueue_many(jobs, Some(t0)).await.expect("enqueue");
    let params = ClaimParams {
        runner_id: RunnerId::new("runner"),
        workers: vec!["work".to_owned()],
        queues: None,
        limit: 2,
        lease_ttl: Duration::from_secs(30 * DAY as u64),
        now: Some(t0),
    };
    let claimed = store.claim(&params).await.expect("claim");
    let token = claimed[0].claim_token().expect("a claimed job has a token");
    let done = Finish {
        token,
        transition: Transition::Done,
    };
    store.finish_many(&[done], Some(t0)).await.expect("finish");
}

#[tokio::test]
async fn a_pruner_pass_deletes_only_jobs_finished_before_the_retention() {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let store = MemoryStore::new();
    three_jobs(&store, t0).await;
    let pruner = Pruner::new(Arc::new(store.clone()), Arc::new(ManualClock::new(t0)))
        .retention(Duration::from_secs(7 * DAY as u64));
    let early = pruner.run_once(Some(t0 + chrono::Duration::seconds(6 * DAY))).await;
    assert_eq!(early.expect("prune"), PruneReport { deleted: 0 });
    let late = pruner.run_once(Some(t0 + chrono::Duration::seconds(8 * DAY))).await;
    assert_eq!(late.expect("prune"), PruneReport { deleted: 1 });
    let left = store.list(&JobFilter::default()).await.expect("list");
    let mut states: Vec<JobState> = left.iter().map(|job| job.state).collect();
    states.sort();
    assert_eq!(states, vec![JobState::Queued, JobState::Running]);
}
