//! The admin cases have teeth: each deliberately broken admin store below breaks one rule of
//! the admin contract, and `run_all_admin` must fail it, naming a case that checks that rule.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backtick_core::admin::{
    ActionReport, AdminError, BulkReport, CancelReceiver, CancelRequest, CountQuery, JobAction, JobCounts, JobCursor,
    JobDetail, JobPage, JobQuery, JobSelection, PageRequest, QueueAdmin, QueueInfo, RunnerInfo, RunnerStatus,
    ScheduleAction, ScheduleInfo, ScheduleRunRequest, TimeRange, UnservedWorker,
};
use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::state::Finish;
use backtick_core::{
    ClaimParams, ClaimToken, Enqueued, FinishReport, Job, JobFilter, JobId, NewJob, QueueStore, RunnerId, StateCounts,
    StoreError, Timestamp, WakeReceiver, async_trait,
};
use backtick_testkit::{MemoryStore, conformance};

/// The one rule a [`BrokenAdmin`] store breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AdminFault {
    /// No fault: the control.
    Honest,
    /// Pausing a queue is recorded, but claim takes its jobs anyway.
    ClaimIgnoresPause,
    /// A bulk action acts on every job, whatever the filter, even an empty one.
    BulkIgnoresFilter,
    /// Pages are cut by offset: the cursor counts the jobs already returned.
    OffsetPages,
    /// The attempt history keeps only the latest attempt.
    ForgetsAttempts,
}

/// A [`MemoryStore`] with one admin fault.
struct BrokenAdmin {
    inner: MemoryStore,
    fault: AdminFault,
    /// Queues "paused" by [`AdminFault::ClaimIgnoresPause`], which `inner` never sees paused.
    paused: Mutex<BTreeSet<String>>,
}

impl BrokenAdmin {
    fn store(fault: AdminFault) -> Arc<dyn QueueAdmin> {
        Arc::new(BrokenAdmin {
            inner: MemoryStore::new(),
            fault,
            paused: Mutex::new(BTreeSet::new()),
        })
    }

    fn paused(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.paused.lock().unwrap()
    }

    /// A page cut by offset from the whole listing (the cursor's id is the offset).
    async fn offset_page(&self, query: &JobQuery, page: &PageRequest) -> Result<JobPage, AdminError> {
        page.validate()?;
        let mut everything = Vec::new();
        let mut request = PageRequest {
            cursor: None,
            limit: backtick_core::admin::MAX_PAGE_SIZE,
            ..*page
        };
        loop {
            let found = self.inner.list_jobs(query, &request).await?;
            everything.extend(found.jobs);
            match found.next {
                Some(next) => request.cursor = Some(next),
                None => break,
            }
        }
        let offset = page.after_id().map_or(0, |id| id.0 as usize);
        let jobs: Vec<Job> = everything.into_iter().skip(offset).take(page.limit as usize).collect();
        let next = (jobs.len() == page.limit as usize)
            .then(|| JobCursor::after(JobId((offset + jobs.len()) as i64), page.order));
        Ok(JobPage { jobs, next })
    }
}

#[async_trait]
impl QueueStore for BrokenAdmin {
    async fn enqueue(&self, job: NewJob, now: Option<Timestamp>) -> Result<JobId, StoreError> {
        self.inner.enqueue(job, now).await
    }
    async fn enqueue_many_reporting(
        &self,
        jobs: Vec<NewJob>,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.inner.enqueue_many_reporting(jobs, now).await
    }
    async fn claim(&self, params: &ClaimParams) -> Result<Vec<Job>, StoreError> {
        self.inner.claim(params).await
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
        self.inner.finish_many(finishes, now).await
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
    async fn revive_many(&self, revivals: &[Finish], now: Option<Timestamp>) -> Result<FinishReport, StoreError> {
        self.inner.revive_many(revivals, now).await
    }
    async fn cancel(&self, id: JobId, reason: &str, now: Option<Timestamp>) -> Result<bool, StoreError> {
        self.inner.cancel(id, reason, now).await
    }
    async fn retry(&self, id: JobId, now: Option<Timestamp>) -> Result<bool, StoreError> {
        self.inner.retry(id, now).await
    }
    async fn get(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.inner.get(id).await
    }
    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.inner.list(filter).await
    }
    async fn count_by_state(&self, queue: Option<&str>) -> Result<StateCounts, StoreError> {
        self.inner.count_by_state(queue).await
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
    fn subscribe(&self) -> Option<WakeReceiver> {
        self.inner.subscribe()
    }
    async fn wait_for_hints(&self, timeout: std::time::Duration) -> bool {
        self.inner.wait_for_hints(timeout).await
    }
    async fn next_due(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        within: std::time::Duration,
        now: Option<Timestamp>,
    ) -> Result<Option<std::time::Duration>, StoreError> {
        self.inner.next_due(workers, queues, within, now).await
    }
    async fn register_runner(
        &self,
        runner: &RunnerInfo,
        ttl: Duration,
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

#[async_trait]
impl QueueAdmin for BrokenAdmin {
    async fn list_jobs(&self, query: &JobQuery, page: &PageRequest) -> Result<JobPage, AdminError> {
        match self.fault {
            AdminFault::OffsetPages => self.offset_page(query, page).await,
            _ => self.inner.list_jobs(query, page).await,
        }
    }
    async fn job_detail(&self, id: JobId) -> Result<JobDetail, AdminError> {
        let mut detail = self.inner.job_detail(id).await?;
        if self.fault == AdminFault::ForgetsAttempts {
            let latest = detail.attempts.pop();
            detail.attempts = latest.into_iter().collect();
        }
        Ok(detail)
    }
    async fn count_jobs(&self, query: &CountQuery) -> Result<JobCounts, AdminError> {
        self.inner.count_jobs(query).await
    }
    async fn count_finished(&self, finished: TimeRange, cap: u64) -> Result<JobCounts, AdminError> {
        self.inner.count_finished(finished, cap).await
    }
    async fn apply_to_jobs(
        &self,
        ids: &[JobId],
        action: &JobAction,
        now: Option<Timestamp>,
    ) -> Result<ActionReport, AdminError> {
        self.inner.apply_to_jobs(ids, action, now).await
    }
    async fn apply_bulk(
        &self,
        selection: &JobSelection,
        action: &JobAction,
        dry_run: bool,
        now: Option<Timestamp>,
    ) -> Result<BulkReport, AdminError> {
        let selection = match self.fault {
            AdminFault::BulkIgnoresFilter => &JobSelection::All,
            _ => selection,
        };
        self.inner.apply_bulk(selection, action, dry_run, now).await
    }
    async fn list_queues(&self, now: Option<Timestamp>) -> Result<Vec<QueueInfo>, AdminError> {
        let mut queues = self.inner.list_queues(now).await?;
        let at = now.unwrap_or_else(chrono::Utc::now);
        for queue in &mut queues {
            if self.paused().contains(&queue.name) {
                queue.paused_at = Some(at);
            }
        }
        Ok(queues)
    }
    async fn pause_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        if self.fault != AdminFault::ClaimIgnoresPause {
            return self.inner.pause_queue(queue, now).await;
        }
        // Checked and recorded as a pause would be, but the claim never learns of it.
        self.inner.pause_queue(queue, now).await?;
        self.inner.resume_queue(queue, now).await?;
        Ok(self.paused().insert(queue.to_owned()))
    }
    async fn resume_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        if self.fault != AdminFault::ClaimIgnoresPause {
            return self.inner.resume_queue(queue, now).await;
        }
        self.inner.resume_queue(queue, now).await?;
        Ok(self.paused().remove(queue))
    }
    async fn list_schedules(&self, now: Option<Timestamp>) -> Result<Vec<ScheduleInfo>, AdminError> {
        self.inner.list_schedules(now).await
    }
    async fn apply_to_schedule(
        &self,
        name: &str,
        action: ScheduleAction,
        now: Option<Timestamp>,
    ) -> Result<bool, AdminError> {
        self.inner.apply_to_schedule(name, action, now).await
    }
    async fn list_runners(&self, now: Option<Timestamp>) -> Result<Vec<RunnerStatus>, AdminError> {
        self.inner.list_runners(now).await
    }
}

/// Run the whole admin suite against a store with `fault`; it must fail, and among the
/// failures must be every case in `expected`.
async fn admin_suite_catches(fault: AdminFault, expected: &[&str]) {
    let report = conformance::run_all_admin(move || async move { BrokenAdmin::store(fault) }).await;
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
async fn the_admin_suite_catches_a_claim_that_ignores_paused_queues() {
    admin_suite_catches(
        AdminFault::ClaimIgnoresPause,
        &[
            "claim_skips_jobs_on_a_paused_queue_until_it_is_resumed",
            "a_queue_a_live_runner_serves_can_be_paused_before_it_has_jobs",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_suite_catches_bulk_actions_that_ignore_their_filter() {
    admin_suite_catches(
        AdminFault::BulkIgnoresFilter,
        &[
            "bulk_actions_refuse_an_empty_filter",
            "bulk_retry_touches_only_the_jobs_matching_the_filter",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_suite_catches_offset_pages_that_shift_under_inserts() {
    admin_suite_catches(AdminFault::OffsetPages, &["pages_are_stable_under_inserts"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_suite_catches_a_store_that_forgets_attempts() {
    admin_suite_catches(
        AdminFault::ForgetsAttempts,
        &[
            "job_detail_records_each_failed_attempt_with_runner_times_and_error",
            "an_operator_retry_keeps_the_dead_attempt_in_the_history",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_wrapper_without_a_fault_passes_the_admin_suite() {
    // The control for the tests above: failures come from the fault, not from the wrapper.
    conformance::run_all_admin(|| async { BrokenAdmin::store(AdminFault::Honest) })
        .await
        .assert_all_passed();
}
