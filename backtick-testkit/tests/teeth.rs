//! The conformance suite and the model have teeth: each deliberately broken store below breaks
//! one rule of the contract, and the suite must fail it, naming a case that checks that rule.

#![allow(clippy::unwrap_used)]

#[path = "teeth/admin.rs"]
mod admin;

use backtick_core::RunnerId;
use backtick_core::admin::{CancelReceiver, CancelRequest, RunnerInfo, ScheduleRunRequest, UnservedWorker};
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::state::Finish;
use backtick_core::{
    ClaimParams, ClaimToken, Enqueued, FinishReport, Job, JobFilter, JobId, JobState, NewJob, QueueStore, StateCounts,
    StoreError, Timestamp, Transition, async_trait,
};
use backtick_testkit::{MemoryStore, conformance, model};
use proptest::test_runner::Config;

/// The one rule a [`Broken`] store breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// No fault: the control, showing the wrapper itself is faithful.
    Honest,
    /// finish_many applies to a running job whatever the token says.
    NoFencing,
    /// claim also hands out jobs already running under another runner's claim.
    DoubleClaim,
    /// A retry (a finish to queued) loses the job: it is gone from every read and claim.
    LosesRetriedJobs,
    /// revive_many revives live leases too (fenced, but no expiry check).
    ReviveIgnoresLeaseExpiry,
    /// claim takes jobs for workers the runner does not have.
    ClaimIgnoresWorkers,
    /// enqueue_many stores the jobs before an invalid one.
    EnqueueManyNotAtomic,
}

/// A [`MemoryStore`] with one fault.
struct Broken {
    inner: MemoryStore,
    fault: Fault,
    /// Jobs lost by [`Fault::LosesRetriedJobs`]: kept in `inner` as cancelled, hidden here.
    lost: Mutex<HashSet<JobId>>,
}

impl Broken {
    fn store(fault: Fault) -> Arc<dyn QueueStore> {
        Arc::new(Broken {
            inner: MemoryStore::new(),
            fault,
            lost: Mutex::new(HashSet::new()),
        })
    }

    fn is_lost(&self, id: JobId) -> bool {
        self.lost.lock().unwrap().contains(&id)
    }

    /// Without fencing: every finish for a running job carries that job's live token.
    async fn unfenced(&self, finishes: &[Finish]) -> Vec<Finish> {
        let mut out = Vec::new();
        for finish in finishes {
            let live = self
                .inner
                .get(finish.token.job_id)
                .await
                .unwrap()
                .and_then(|job| job.claim_token());
            out.push(Finish {
                token: live.unwrap_or_else(|| finish.token.clone()),
                ..finish.clone()
            });
        }
        out
    }

    /// Finishes to queued become cancellations in `inner`, and the job is hidden.
    async fn losing(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        let lose = |t: &Transition| matches!(t, Transition::Queued { .. });
        let rewritten: Vec<Finish> = finishes
            .iter()
            .map(|f| match lose(&f.transition) {
                true => Finish {
                    transition: Transition::Cancelled { reason: "lost".into() },
                    ..f.clone()
                },
                false => f.clone(),
            })
            .collect();
        let report = self.inner.finish_many(&rewritten, now).await?;
        for finish in finishes
            .iter()
            .filter(|f| lose(&f.transition) && report.applied.contains(&f.token.job_id))
        {
            self.lost.lock().unwrap().insert(finish.token.job_id);
        }
        Ok(report)
    }
}

#[async_trait]
impl QueueStore for Broken {
    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if self.fault != Fault::EnqueueManyNotAtomic {
            return self.inner.enqueue_many_reporting(jobs, now).await;
        }
        let mut enqueued = Vec::new();
        for job in jobs {
            enqueued.push(self.inner.enqueue_reporting(job, now).await?);
        }
        Ok(enqueued)
    }

    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        match self.fault {
            Fault::ClaimIgnoresWorkers => {
                let all = self.inner.list(&JobFilter::default().limit(u32::MAX)).await?;
                let workers = all.into_iter().map(|job| job.worker).collect();
                self.inner
                    .claim(&ClaimParams {
                        workers,
                        ..params.clone()
                    })
                    .await
            }
            Fault::DoubleClaim => {
                let mut claimed = self.inner.claim(params).await?;
                let running = self.inner.list(&JobFilter::default().state(JobState::Running)).await?;
                let taken = running
                    .into_iter()
                    .filter(|job| job.lease_owner.as_ref() != Some(&params.runner_id));
                claimed.extend(taken.take(params.limit as usize - claimed.len().min(params.limit as usize)));
                Ok(claimed)
            }
            Fault::LosesRetriedJobs => Ok(self
                .inner
                .claim(params)
                .await?
                .into_iter()
                .filter(|job| !self.is_lost(job.id))
                .collect()),
            _ => self.inner.claim(params).await,
        }
    }

    async fn claim_limited(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.inner.claim_limited(params).await
    }

    async fn set_queue_limits(
        &self,
        queue: &str,
        limits: &backtick_core::flow::QueueLimits,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.inner.set_queue_limits(queue, limits, now).await
    }

    async fn queue_limits(&self) -> Result<Vec<(String, backtick_core::flow::QueueLimits)>, StoreError> {
        self.inner.queue_limits().await
    }

    async fn enqueue_graph(
        &self,
        graph: backtick_core::flow::JobGraph,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        self.inner.enqueue_graph(graph, now).await
    }

    async fn finish_many(&self, finishes: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        match self.fault {
            Fault::NoFencing => self.inner.finish_many(&self.unfenced(finishes).await, now).await,
            Fault::LosesRetriedJobs => self.losing(finishes, now).await,
            _ => self.inner.finish_many(finishes, now).await,
        }
    }

    async fn heartbeat_many(
        &self,
        tokens: &[ClaimToken],
        lease_ttl: Duration,
        now: Option<Timestamp>,
    ) -> Result<Vec<JobId>, StoreError> {
        self.inner.heartbeat_many(tokens, lease_ttl, now).await
    }

    async fn expired_leases(&self, limit: u32, now: Option<Timestamp>) -> Result<Vec<Job>, StoreError> {
        self.inner.expired_leases(limit, now).await
    }

    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<Duration>, StoreError> {
        self.inner.next_due(workers, queues, within, now).await
    }

    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        match self.fault {
            Fault::ReviveIgnoresLeaseExpiry => self.inner.finish_many(revivals, now).await,
            Fault::LosesRetriedJobs => self.losing(revivals, now).await,
            _ => self.inner.revive_many(revivals, now).await,
        }
    }

    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError> {
        if self.is_lost(id) {
            return Ok(false);
        }
        self.inner.cancel(id, reason, now).await
    }

    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError> {
        if self.is_lost(id) {
            return Ok(false);
        }
        self.inner.retry(id, now).await
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.inner.get(id).await?.filter(|job| !self.is_lost(job.id)))
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let all = self
            .inner
            .list(&JobFilter {
                limit: u32::MAX,
                ..filter.clone()
            })
            .await?;
        Ok(all
            .into_iter()
            .filter(|job| !self.is_lost(job.id))
            .take(filter.limit as usize)
            .collect())
    }

    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError> {
        let mut counts = StateCounts::default();
        for job in self.list(&JobFilter::default().limit(u32::MAX)).await? {
            if queue.is_none_or(|queue| job.queue == queue) {
                *counts.0.entry(job.state).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    async fn prune_finished(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.inner.prune_finished(before, limit).await
    }

    async fn upsert_schedules(
        &self,
        schedules: &[ScheduleRecord],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.upsert_schedules(schedules, now).await
    }

    async fn due_schedules(
        &self,
        workers: &[String],
        now: Option<Timestamp>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.due_schedules(workers, now).await
    }

    async fn fire_schedule(&self, fire: &ScheduleFire, now: Option<Timestamp>) -> Result<bool, StoreError> {
        self.inner.fire_schedule(fire, now).await
    }

    async fn now(&self) -> Result<Timestamp, StoreError> {
        self.inner.now().await
    }

    async fn register_runner(
        &self,
        runner: &RunnerInfo,
        ttl: std::time::Duration,
        now: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.inner.register_runner(runner, ttl, now).await
    }

    async fn deregister_runner(&self, runner: &RunnerId) -> Result<(), StoreError> {
        self.inner.deregister_runner(runner).await
    }
    async fn unserved_jobs(&self, waited: Duration, now: Option<Timestamp>) -> Result<Vec<UnservedWorker>, StoreError> {
        self.inner.unserved_jobs(waited, now).await
    }

    async fn cancel_requests(&self, jobs: &[JobId]) -> Result<Vec<CancelRequest>, StoreError> {
        self.inner.cancel_requests(jobs).await
    }

    fn subscribe_cancels(&self) -> Option<CancelReceiver> {
        self.inner.subscribe_cancels()
    }

    async fn schedule_run_requests(&self, workers: &[String]) -> Result<Vec<ScheduleRunRequest>, StoreError> {
        self.inner.schedule_run_requests(workers).await
    }

    async fn fire_schedule_request(
        &self,
        request: &ScheduleRunRequest,
        job: &NewJob,
        now: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.inner.fire_schedule_request(request, job, now).await
    }
}

/// Run the whole suite against a store with `fault`; it must fail, and among the failures
/// must be every case in `expected`.
async fn suite_catches(fault: Fault, expected: &[&str]) {
    let report = conformance::run_all(move || async move { Broken::store(fault) }).await;
    let failed: Vec<&str> = report.failures().iter().map(|result| result.name).collect();
    println!(
        "{fault:?}: {} of {} cases failed: {failed:?}",
        failed.len(),
        report.results.len()
    );
    assert!(!report.is_success(), "the suite passed a store with {fault:?}");
    for name in expected {
        assert!(report.failed(name), "{fault:?} should fail {name}; failed: {failed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_a_store_without_fencing() {
    suite_catches(
        Fault::NoFencing,
        &[
            "finish_with_a_wrong_attempt_is_stale_and_changes_nothing",
            "a_token_from_a_previous_attempt_is_stale_after_revive_and_reclaim",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_a_store_that_claims_a_job_twice() {
    suite_catches(
        Fault::DoubleClaim,
        &[
            "concurrent_claimers_never_share_a_job",
            "claim_skips_running_and_finished_jobs",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_a_store_that_loses_retried_jobs() {
    suite_catches(
        Fault::LosesRetriedJobs,
        &[
            "finish_queued_resolves_run_at_and_keeps_the_last_error_unless_given",
            "concurrent_runners_finish_every_job_exactly_once",
            "revive_requeues_an_expired_job_with_attempts_left",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_a_store_that_revives_live_leases() {
    suite_catches(
        Fault::ReviveIgnoresLeaseExpiry,
        &[
            "revive_many_skips_a_lease_that_has_not_expired",
            "revive_many_loses_to_a_heartbeat_that_landed_in_between",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_a_store_that_claims_jobs_for_missing_workers() {
    suite_catches(
        Fault::ClaimIgnoresWorkers,
        &["claim_only_takes_jobs_whose_worker_the_runner_has"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_a_store_whose_batches_are_not_atomic() {
    suite_catches(
        Fault::EnqueueManyNotAtomic,
        &["enqueue_many_is_atomic_when_one_job_is_invalid"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wrapper_without_a_fault_passes_the_suite() {
    // The control for the tests above: failures come from the fault, not from the wrapper.
    conformance::run_all(|| async { Broken::store(Fault::Honest) })
        .await
        .assert_all_passed();
}

/// Run the model check against a store with `fault` and return its panic message.
fn model_failure(fault: Fault) -> String {
    // More sequences than the default: the run stops at the first failure, and a fault that
    // needs a rare interleaving must still be found every time.
    let config = Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    };
    let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
        model::check_against_model_with(config, move || async move { Broken::store(fault) })
    }));
    let payload = run.expect_err("the model check passed a broken store");
    let message = payload.downcast_ref::<String>().cloned().unwrap_or_default();
    println!("{fault:?}:\n{message}\n");
    message
}

#[test]
fn the_model_catches_a_store_without_fencing() {
    let message = model_failure(Fault::NoFencing);
    assert!(message.contains("minimal failing sequence"), "{message}");
    assert!(
        message.contains("late completion") || message.contains("claim #"),
        "{message}"
    );
}

#[test]
fn the_model_catches_a_store_that_loses_retried_jobs() {
    let message = model_failure(Fault::LosesRetriedJobs);
    assert!(message.contains("minimal failing sequence"), "{message}");
}

#[test]
fn the_model_catches_a_store_that_revives_live_leases() {
    let message = model_failure(Fault::ReviveIgnoresLeaseExpiry);
    assert!(message.contains("revive"), "{message}");
}
