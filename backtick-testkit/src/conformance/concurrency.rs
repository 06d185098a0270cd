//! Concurrency: many claimers, finishers, revivers and enqueuers at once. No job is claimed
//! twice, finished twice or lost.

use std::collections::BTreeMap;
use std::future::Future;

use backtick_core::state::{Finish, revive};
use backtick_core::{JobFilter, JobId, JobState, Transition};
use tokio::task::JoinSet;

use super::Case;
use super::support::{Store, at, claim, counts, dead, enqueue, enqueue_n, job, params, requeue_after, secs, t0, token};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("concurrency", concurrent_claimers_never_share_a_job),
        case!("concurrency", concurrent_finishes_of_one_claim_apply_once),
        case!("concurrency", concurrent_revives_and_completions_apply_once_per_job),
        case!("concurrency", concurrent_enqueues_with_one_unique_key_store_one_job),
        case!(
            "concurrency",
            of_concurrent_enqueues_of_one_unique_key_exactly_one_reports_fresh
        ),
        case!("concurrency", concurrent_runners_finish_every_job_exactly_once),
    ]
}

/// Spawn every task and wait for all of them, results in task order. The first panic is
/// re-raised so the case fails with the task's own message; dropping the set aborts the rest.
pub(super) async fn join_all<T, F>(tasks: Vec<F>) -> Vec<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut set = JoinSet::new();
    for (index, task) in tasks.into_iter().enumerate() {
        set.spawn(async move { (index, task.await) });
    }
    let mut results = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("a concurrent task did not finish: {error}"),
        }
    }
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

async fn concurrent_claimers_never_share_a_job(store: Store) {
    const JOBS: usize = 1000;
    const CLAIMERS: usize = 16;
    let mut ids = Vec::new();
    for _ in 0..JOBS / 100 {
        ids.extend(enqueue_n(&store, 100, t0()).await);
    }
    let claimers = (0..CLAIMERS).map(|n| {
        let store = store.clone();
        async move {
            let mut mine = Vec::new();
            // More than JOBS claims by one claimer can only mean jobs were handed out twice.
            while mine.len() <= JOBS {
                let batch = claim(&store, &params(&format!("claimer-{n}"), 7, t0())).await;
                if batch.is_empty() {
                    break;
                }
                mine.extend(batch.into_iter().map(|job| (job.id, job.attempt, job.lease_owner)));
                tokio::task::yield_now().await;
            }
            mine
        }
    });
    let mut claimed: Vec<_> = join_all(claimers.collect()).await.into_iter().flatten().collect();
    // A claimer may stop while the last rows are locked by another; sweep what is left.
    claimed.extend(
        claim(&store, &params("sweeper", JOBS as u32, t0()))
            .await
            .into_iter()
            .map(|j| (j.id, j.attempt, j.lease_owner)),
    );
    let mut times: BTreeMap<JobId, usize> = BTreeMap::new();
    for (id, attempt, _) in &claimed {
        assert_eq!(*attempt, 1, "job {id} was claimed with attempt {attempt}");
        *times.entry(*id).or_default() += 1;
    }
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "jobs claimed more than once (id, times): {twice:?}");
    assert_eq!(times.len(), JOBS, "every job is claimed exactly once");
    let counts = counts(&store, None).await;
    assert_eq!(
        (counts.get(JobState::Running), counts.total()),
        (JOBS as u64, JOBS as u64)
    );
    // The stored lease owner is the claimer that received the job.
    let stored = store
        .list(&JobFilter::default().limit(JOBS as u32))
        .await
        .expect("list failed");
    let owners: BTreeMap<JobId, _> = claimed.into_iter().map(|(id, _, owner)| (id, owner)).collect();
    for job in stored {
        assert_eq!(
            Some(&job.lease_owner),
            owners.get(&job.id),
            "job {} is leased to someone else",
            job.id
        );
    }
}

async fn concurrent_finishes_of_one_claim_apply_once(store: Store) {
    const JOBS: usize = 40;
    enqueue_n(&store, JOBS, t0()).await;
    let claimed = claim(&store, &params("r1", JOBS as u32, t0())).await;
    assert_eq!(claimed.len(), JOBS);
    let transitions = [
        Transition::Done,
        dead("dead"),
        requeue_after(secs(5), Some("retry")),
        Transition::Cancelled {
            reason: "cancel".into(),
        },
    ];
    let tasks = transitions.iter().flat_map(|transition| {
        claimed.iter().map(|job| {
            let (store, finish) = (
                store.clone(),
                Finish {
                    token: token(job),
                    transition: transition.clone(),
                },
            );
            async move {
                store
                    .finish_many(&[finish], Some(at(1)))
                    .await
                    .expect("finish_many failed")
                    .applied
            }
        })
    });
    let applied: Vec<JobId> = join_all(tasks.collect()).await.into_iter().flatten().collect();
    let mut times: BTreeMap<JobId, usize> = BTreeMap::new();
    for id in applied {
        *times.entry(id).or_default() += 1;
    }
    for job in &claimed {
        assert_eq!(
            times.get(&job.id),
            Some(&1),
            "job {} must be finished exactly once by its one claim",
            job.id
        );
    }
    assert_eq!(counts(&store, None).await.get(JobState::Running), 0);
}

async fn concurrent_revives_and_completions_apply_once_per_job(store: Store) {
    const JOBS: usize = 60;
    enqueue_n(&store, JOBS, t0()).await;
    let claimed = claim(&store, &params("r1", JOBS as u32, t0())).await;
    let expired = store
        .expired_leases(JOBS as u32, Some(at(31)))
        .await
        .expect("expired_leases failed");
    assert_eq!(expired.len(), JOBS);
    let revivals: Vec<Finish> = expired.iter().filter_map(revive).collect();
    let mut tasks: Vec<futures::future::BoxFuture<'static, Vec<(JobId, bool)>>> = Vec::new();
    for _ in 0..2 {
        let (store, revivals) = (store.clone(), revivals.clone());
        tasks.push(Box::pin(async move {
            let report = store
                .revive_many(&revivals, Some(at(31)))
                .await
                .expect("revive_many failed");
            report.applied.into_iter().map(|id| (id, false)).collect()
        }));
    }
    for job in &claimed {
        let (store, finish) = (
            store.clone(),
            Finish {
                token: token(job),
                transition: Transition::Done,
            },
        );
        tasks.push(Box::pin(async move {
            let report = store
                .finish_many(&[finish], Some(at(31)))
                .await
                .expect("finish_many failed");
            report.applied.into_iter().map(|id| (id, true)).collect()
        }));
    }
    let mut winner: BTreeMap<JobId, Vec<bool>> = BTreeMap::new();
    for (id, completed) in join_all(tasks).await.into_iter().flatten() {
        winner.entry(id).or_default().push(completed);
    }
    for job in &claimed {
        let wins = winner.get(&job.id).cloned().unwrap_or_default();
        assert_eq!(
            wins.len(),
            1,
            "job {}: exactly one of the revives and the completion applies, got {wins:?}",
            job.id
        );
        let stored = store.get(job.id).await.expect("get failed").expect("no job is lost");
        let expected = if wins[0] { JobState::Done } else { JobState::Queued };
        assert_eq!(stored.state, expected, "job {} ended in the winner's state", job.id);
    }
}

async fn concurrent_enqueues_with_one_unique_key_store_one_job(store: Store) {
    let tasks = (0..16).map(|n| {
        let store = store.clone();
        async move { enqueue(&store, job().unique_key("only-one").priority(n), t0()).await }
    });
    let ids = join_all(tasks.collect()).await;
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every enqueue returns the one job's id: {ids:?}"
    );
    assert_eq!(counts(&store, None).await.total(), 1, "one job per unique key");
}

async fn of_concurrent_enqueues_of_one_unique_key_exactly_one_reports_fresh(store: Store) {
    let tasks = (0..16).map(|n| {
        let store = store.clone();
        async move {
            store
                .enqueue_reporting(job().unique_key("reported-once").priority(n), Some(t0()))
                .await
                .expect("enqueue_reporting failed")
        }
    });
    let reports = join_all(tasks.collect()).await;
    let fresh: Vec<_> = reports.iter().filter(|e| !e.duplicate).collect();
    assert_eq!(fresh.len(), 1, "exactly one enqueue inserts the job: {reports:?}");
    assert!(
        reports.iter().all(|e| e.id == fresh[0].id),
        "every duplicate names the one stored job: {reports:?}"
    );
    assert_eq!(counts(&store, None).await.total(), 1, "one job per unique key");
}

async fn concurrent_runners_finish_every_job_exactly_once(store: Store) {
    const JOBS: usize = 300;
    const RUNNERS: usize = 8;
    let ids = enqueue_n(&store, JOBS, t0()).await;
    let runners = (0..RUNNERS).map(|n| {
        let store = store.clone();
        async move {
            let mut completed = Vec::new();
            for _ in 0..5_000 {
                let batch = claim(&store, &params(&format!("runner-{n}"), 5, t0())).await;
                if batch.is_empty() {
                    if counts(&store, None).await.get(JobState::Queued) == 0 {
                        return completed;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                // Every job fails its first attempt and succeeds on its second.
                let finishes: Vec<Finish> = batch
                    .iter()
                    .map(|job| {
                        let transition = if job.attempt == 1 {
                            requeue_after(secs(0), Some("first try fails"))
                        } else {
                            Transition::Done
                        };
                        Finish {
                            token: token(job),
                            transition,
                        }
                    })
                    .collect();
                let report = store
                    .finish_many(&finishes, Some(t0()))
                    .await
                    .expect("finish_many failed");
                assert!(report.stale.is_empty(), "a live claim's finish was stale: {report:?}");
                let done = batch.iter().filter(|job| job.attempt == 2).map(|job| job.id);
                completed.extend(done);
                tokio::task::yield_now().await;
            }
            panic!("runner-{n} was still finding work after 5000 rounds");
        }
    });
    let mut completed: Vec<JobId> = join_all(runners.collect()).await.into_iter().flatten().collect();
    completed.sort();
    assert_eq!(completed, ids, "every job is completed exactly once");
    let counts = counts(&store, None).await;
    assert_eq!(
        (counts.get(JobState::Done), counts.total()),
        (JOBS as u64, JOBS as u64),
        "none lost, all done"
    );
    let jobs = store
        .list(&JobFilter::default().limit(JOBS as u32))
        .await
        .expect("list failed");
    assert!(jobs.iter().all(|job| job.attempt == 2), "each job ran exactly twice");
    assert!(
        jobs.iter()
            .all(|job| job.last_error.as_deref() == Some("first try fails")),
        "the failure is kept"
    );
}
