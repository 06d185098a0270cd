//! [`QueueAdmin`] for the [`MemoryStore`]: the reference semantics of the operator contract.

use std::collections::BTreeMap;

use async_trait::async_trait;
use backtick_core::admin::{
    ActionReport, AdminError, BULK_BATCH_SIZE, Count, CountQuery, GroupBy, GroupCount, JobAction, JobCounts, JobDetail,
    JobPage, JobQuery, Order, PageRequest, QueueAdmin, QueueInfo, RunnerStatus, ScheduleAction, ScheduleInfo,
    TimeRange, assemble_queues, spec_time_zone,
};
use backtick_core::{Job, JobId, JobState, Timestamp};

use super::{MemoryStore, State, resolve_now};

impl State {
    /// One page of `query`, as [`PageRequest`] documents it.
    fn page(&self, query: &JobQuery, page: &PageRequest) -> JobPage {
        let examined = self.jobs.values().filter(|job| {
            (query.states.is_empty() || query.states.contains(&job.state))
                && (query.ids.is_empty() || query.ids.contains(&job.id))
                && query.up_to_id.is_none_or(|max| job.id <= max)
                && page.is_after_cursor(job.id)
        });
        let in_order: Box<dyn Iterator<Item = &Job>> = match page.order {
            Order::NewestFirst => Box::new(examined.rev()),
            Order::OldestFirst => Box::new(examined),
        };
        let (mut jobs, mut scanned, mut last_scanned) = (Vec::new(), 0u64, None);
        for job in in_order {
            scanned += 1;
            last_scanned = Some(job.id);
            if query.matches(job) {
                jobs.push(job.clone());
            }
            if jobs.len() >= page.limit as usize || scanned >= u64::from(page.scan_limit) {
                break;
            }
        }
        let next = page.next_cursor(jobs.last().map(|job| job.id), jobs.len(), scanned, last_scanned);
        JobPage { jobs, next }
    }

    /// Counts as [`CountQuery`] documents them: each state's first `cap` jobs by id.
    fn counts(&self, query: &CountQuery) -> JobCounts {
        let mut groups: BTreeMap<(String, JobState), Count> = BTreeMap::new();
        for state in JobState::ALL {
            if !query.states.is_empty() && !query.states.contains(&state) {
                continue;
            }
            let in_state: Vec<&Job> = self.jobs.values().filter(|job| job.state == state).collect();
            let capped = in_state.len() as u64 > query.cap;
            for job in in_state
                .into_iter()
                .take(usize::try_from(query.cap).unwrap_or(usize::MAX))
            {
                let key = match query.group_by {
                    GroupBy::State => state.as_str().to_owned(),
                    GroupBy::Queue => job.queue.clone(),
                    GroupBy::Worker => job.worker.clone(),
                };
                let count = groups.entry((key, state)).or_default();
                count.value += 1;
                count.capped = capped;
            }
        }
        JobCounts {
            groups: groups
                .into_iter()
                .map(|((key, state), count)| GroupCount { key, state, count })
                .collect(),
        }
    }

    /// Finished jobs in `range` by state, as [`QueueAdmin::count_finished`] documents it: the
    /// newest `cap` finishes of the range.
    fn finished_counts(&self, range: TimeRange, cap: u64) -> JobCounts {
        let mut finished: Vec<(Timestamp, JobState)> = self
            .jobs
            .values()
            .filter(|job| job.state.is_finished())
            .filter_map(|job| {
                job.finished_at
                    .filter(|at| range.contains(*at))
                    .map(|at| (at, job.state))
            })
            .collect();
        finished.sort_by_key(|&(at, _)| std::cmp::Reverse(at));
        let capped = finished.len() as u64 > cap;
        let mut groups: BTreeMap<(String, JobState), Count> = BTreeMap::new();
        for (_, state) in finished.into_iter().take(usize::try_from(cap).unwrap_or(usize::MAX)) {
            let count = groups.entry((state.as_str().to_owned(), state)).or_default();
            count.value += 1;
            count.capped = capped;
        }
        JobCounts {
            groups: groups
                .into_iter()
                .map(|((key, state), count)| GroupCount { key, state, count })
                .collect(),
        }
    }

    /// True when `queue` is known: a job not done waits, runs or failed on it, a live runner
    /// names it, or it has a pause row.
    fn knows_queue(&self, queue: &str, now: Timestamp) -> bool {
        self.admin.queues.contains_key(queue)
            || self
                .admin
                .live_runners(now)
                .any(|r| r.info.queues.as_ref().is_some_and(|qs| qs.iter().any(|q| q == queue)))
            || self
                .jobs
                .values()
                .any(|job| job.queue == queue && job.state != JobState::Done)
    }

    /// Apply `action` to the job `id` at `now`; which list of `report` it joins, if any.
    /// Returns the queue to wake, if any.
    fn act(&mut self, id: JobId, action: &JobAction, now: Timestamp, report: &mut ActionReport) -> Option<String> {
        let job = self.jobs.get(&id)?;
        let (state, queue) = (job.state, job.queue.clone());
        match action {
            JobAction::Retry if self.retry(id, now) => {
                report.applied.push(id);
                return Some(queue);
            }
            JobAction::Cancel { reason }
                if matches!(state, JobState::Queued | JobState::Pending) && self.cancel(id, reason, now) =>
            {
                let _ = self.settle(now);
                report.applied.push(id);
            }
            JobAction::Cancel { reason }
                if state == JobState::Running && self.admin.request_cancel(id, reason, now) =>
            {
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.updated_at = now;
                }
                report.cancel_requested.push(id);
            }
            JobAction::Delete if state != JobState::Running && self.remove(id).is_some() => report.applied.push(id),
            JobAction::RunNow => {
                let job = self
                    .jobs
                    .get_mut(&id)
                    .filter(|job| job.state == JobState::Queued && job.run_at > now)?;
                job.run_at = now;
                job.updated_at = now;
                report.applied.push(id);
                return Some(queue);
            }
            _ => {}
        }
        None
    }

    fn schedule_info(&self, name: &str, now: Timestamp) -> Option<ScheduleInfo> {
        let record = self.schedules.get(name)?;
        let extra = self.admin.schedules.get(name).cloned().unwrap_or_default();
        Some(ScheduleInfo {
            name: record.name.clone(),
            worker: record.worker.clone(),
            spec: record.spec.clone(),
            time_zone: spec_time_zone(&record.spec).map(str::to_owned),
            next_run_at: record.next_run_at,
            last_fired_at: extra.last_fired_at,
            paused_at: extra.paused_at,
            run_requested_at: extra.run_requested_at,
            declared_by: self
                .admin
                .live_runners(now)
                .filter(|r| r.info.schedules.iter().any(|s| s == name))
                .map(|r| r.info.id.clone())
                .collect(),
        })
    }

    fn unknown_schedule(name: &str) -> AdminError {
        AdminError::UnknownSchedule { name: name.to_owned() }
    }
}

#[async_trait]
impl QueueAdmin for MemoryStore {
    async fn list_jobs(&self, query: &JobQuery, page: &PageRequest) -> Result<JobPage, AdminError> {
        page.validate()?;
        Ok(self.lock().page(query, page))
    }

    async fn job_detail(&self, id: JobId) -> Result<JobDetail, AdminError> {
        let state = self.lock();
        let job = state.jobs.get(&id).cloned().ok_or(AdminError::UnknownJob { id })?;
        Ok(state.admin.detail(job))
    }

    async fn count_jobs(&self, query: &CountQuery) -> Result<JobCounts, AdminError> {
        Ok(self.lock().counts(query))
    }

    async fn count_finished(&self, finished: TimeRange, cap: u64) -> Result<JobCounts, AdminError> {
        Ok(self.lock().finished_counts(finished, cap))
    }

    async fn apply_to_jobs(
        &self,
        ids: &[JobId],
        action: &JobAction,
        now: Option<Timestamp>,
    ) -> Result<ActionReport, AdminError> {
        if ids.len() > BULK_BATCH_SIZE as usize {
            return Err(AdminError::invalid(format!(
                "at most {BULK_BATCH_SIZE} jobs per call, not {}",
                ids.len()
            )));
        }
        let now = resolve_now(now);
        let mut report = ActionReport::default();
        let mut wake = Vec::new();
        {
            let mut state = self.lock();
            for id in ids {
                if let Some(queue) = state.act(*id, action, now, &mut report)
                    && !wake.contains(&queue)
                {
                    wake.push(queue);
                }
            }
        }
        self.hint(wake);
        for id in &report.cancel_requested {
            // An error only means nobody listens: hints are lossy by design.
            let _ = self.shared.cancels.send(*id);
        }
        Ok(report)
    }

    async fn list_queues(&self, now: Option<Timestamp>) -> Result<Vec<QueueInfo>, AdminError> {
        let now = resolve_now(now);
        let state = self.lock();
        let counts = state.counts(&CountQuery::by(GroupBy::Queue));
        let mut oldest: BTreeMap<String, Timestamp> = BTreeMap::new();
        for job in state.jobs.values() {
            if job.state == JobState::Queued && job.run_at <= now {
                let at = oldest.entry(job.queue.clone()).or_insert(job.run_at);
                *at = (*at).min(job.run_at);
            }
        }
        let oldest: Vec<(String, Timestamp)> = oldest.into_iter().collect();
        let rows: Vec<(String, Option<Timestamp>)> = state.admin.queues.clone().into_iter().collect();
        Ok(assemble_queues(&counts, &oldest, &rows, now))
    }

    async fn pause_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        let now = resolve_now(now);
        let mut state = self.lock();
        if !state.knows_queue(queue, now) {
            return Err(AdminError::UnknownQueue { name: queue.to_owned() });
        }
        let paused = state.admin.queues.entry(queue.to_owned()).or_default();
        Ok(paused.replace(paused.unwrap_or(now)).is_none())
    }

    async fn resume_queue(&self, queue: &str, now: Option<Timestamp>) -> Result<bool, AdminError> {
        let now = resolve_now(now);
        let resumed = {
            let mut state = self.lock();
            if !state.knows_queue(queue, now) {
                return Err(AdminError::UnknownQueue { name: queue.to_owned() });
            }
            state.admin.queues.get_mut(queue).and_then(Option::take).is_some()
        };
        if resumed {
            self.hint(vec![queue.to_owned()]);
        }
        Ok(resumed)
    }

    async fn list_schedules(&self, now: Option<Timestamp>) -> Result<Vec<ScheduleInfo>, AdminError> {
        let now = resolve_now(now);
        let state = self.lock();
        Ok(state
            .schedules
            .keys()
            .filter_map(|name| state.schedule_info(name, now))
            .collect())
    }

    async fn apply_to_schedule(
        &self,
        name: &str,
        action: ScheduleAction,
        now: Option<Timestamp>,
    ) -> Result<bool, AdminError> {
        let now = resolve_now(now);
        let mut state = self.lock();
        if action == ScheduleAction::Remove {
            let info = state
                .schedule_info(name, now)
                .ok_or_else(|| State::unknown_schedule(name))?;
            if !info.is_stale() {
                return Err(AdminError::ScheduleInUse {
                    name: name.to_owned(),
                    runners: info.declared_by.iter().map(|r| r.as_str().to_owned()).collect(),
                });
            }
            state.schedules.remove(name);
            state.admin.schedules.remove(name);
            return Ok(true);
        }
        if !state.schedules.contains_key(name) {
            return Err(State::unknown_schedule(name));
        }
        let extra = state.admin.schedules.entry(name.to_owned()).or_default();
        Ok(match action {
            ScheduleAction::Pause => extra.paused_at.replace(extra.paused_at.unwrap_or(now)).is_none(),
            ScheduleAction::Resume => extra.paused_at.take().is_some(),
            ScheduleAction::RunNow => {
                let pending = extra.run_requested_at.is_some();
                if !pending {
                    extra.run_requested_at = Some(now);
                }
                !pending
            }
            ScheduleAction::Remove => true,
        })
    }

    async fn list_runners(&self, now: Option<Timestamp>) -> Result<Vec<RunnerStatus>, AdminError> {
        let now = resolve_now(now);
        let state = self.lock();
        let mut runners: Vec<RunnerStatus> = state
            .admin
            .runners
            .values()
            .map(|r| RunnerStatus {
                info: r.info.clone(),
                heartbeat_at: r.heartbeat_at,
                expires_at: r.expires_at,
                stale: r.expires_at <= now,
                running_jobs: state
                    .jobs
                    .values()
                    .filter(|job| job.state == JobState::Running && job.lease_owner.as_ref() == Some(&r.info.id))
                    .count() as u64,
            })
            .collect();
        runners.sort_by(|a, b| (a.stale, &a.info.id).cmp(&(b.stale, &b.info.id)));
        Ok(runners)
    }
}
