//! What the admin contract keeps beside each job, queue, schedule and runner in the
//! [`super::MemoryStore`], and the hooks through which the queue's own paths (claim, finish,
//! revive, cancel, retry, prune) keep it up to date, as the admin SQL does on a database.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use backtick_core::admin::{
    Attempt, AttemptOutcome, CancelRequest, JobDetail, RUNNER_RETENTION, RunnerInfo, latest_attempt, record_attempt,
};
use backtick_core::state::Transition;
use backtick_core::{Job, JobId, JobState, RunnerId, Timestamp};

use super::later;

/// The admin columns of one job (see `migrations/0003_admin.up.sql`).
#[derive(Debug, Default)]
struct JobExtra {
    attempted_at: Option<Timestamp>,
    attempted_by: Option<RunnerId>,
    history: Vec<Attempt>,
    cancel: Option<CancelRequest>,
}

/// One registered runner.
#[derive(Debug, Clone)]
pub(super) struct Registration {
    pub(super) info: RunnerInfo,
    pub(super) heartbeat_at: Timestamp,
    pub(super) expires_at: Timestamp,
}

/// The admin columns of one schedule.
#[derive(Debug, Default, Clone)]
pub(super) struct ScheduleExtra {
    pub(super) paused_at: Option<Timestamp>,
    pub(super) last_fired_at: Option<Timestamp>,
    pub(super) run_requested_at: Option<Timestamp>,
}

/// Everything the admin contract stores beside the jobs and schedules themselves.
#[derive(Debug, Default)]
pub(super) struct Bookkeeping {
    jobs: HashMap<JobId, JobExtra>,
    /// Queue name -> when it was paused (`None`: a row kept after a resume).
    pub(super) queues: BTreeMap<String, Option<Timestamp>>,
    pub(super) runners: BTreeMap<RunnerId, Registration>,
    pub(super) schedules: HashMap<String, ScheduleExtra>,
}

impl Bookkeeping {
    /// True while an operator has `queue` paused: the claim skips its jobs.
    pub(super) fn is_paused(&self, queue: &str) -> bool {
        self.queues.get(queue).is_some_and(Option::is_some)
    }

    /// The claim of `id` at `now` starts an attempt.
    pub(super) fn claimed(&mut self, id: JobId, now: Timestamp) {
        self.jobs.entry(id).or_default().attempted_at = Some(now);
    }

    /// The transition a fenced write really applies to `job`: a requeue of a job whose
    /// cancellation was requested ends it cancelled instead, with the request's reason.
    pub(super) fn effective(&self, job: &Job, transition: &Transition) -> Transition {
        match (transition, self.cancel_request(job.id)) {
            (Transition::Queued { .. }, Some(request)) => Transition::Cancelled {
                reason: request.reason.clone(),
            },
            _ => transition.clone(),
        }
    }

    /// A fenced finish or revive applies `transition` (already [`Bookkeeping::effective`]) to
    /// the running `job` at `now`: a requeue records the ended attempt; any end keeps its
    /// runner and clears a cancellation request.
    pub(super) fn attempt_ended(&mut self, job: &Job, transition: &Transition, revive: bool, now: Timestamp) {
        let extra = self.jobs.entry(job.id).or_default();
        if let Transition::Queued {
            error, refund_attempt, ..
        } = transition
        {
            let outcome = if revive {
                AttemptOutcome::LeaseExpired
            } else {
                AttemptOutcome::for_requeue(*refund_attempt)
            };
            let attempt = Attempt {
                attempt: job.attempt,
                runner: job.lease_owner.clone(),
                started_at: extra.attempted_at,
                finished_at: Some(now),
                outcome,
                error: error.clone(),
            };
            record_attempt(&mut extra.history, attempt);
        }
        extra.attempted_by = job.lease_owner.clone();
        extra.cancel = None;
    }

    /// An operator cancels `job` outright ([`backtick_core::QueueStore::cancel`]).
    pub(super) fn cancelled_outright(&mut self, job: &Job) {
        if job.state == JobState::Running {
            let extra = self.jobs.entry(job.id).or_default();
            extra.attempted_by = job.lease_owner.clone();
            extra.cancel = None;
        }
    }

    /// An operator retries the finished `job`: its final attempt joins the history.
    pub(super) fn retried(&mut self, job: &Job) {
        let extra = self.jobs.entry(job.id).or_default();
        let last_recorded = extra.history.last().map_or(0, |a| a.attempt);
        if let Some(last) = latest_attempt(job, last_recorded, extra.attempted_at, extra.attempted_by.clone()) {
            record_attempt(&mut extra.history, last);
        }
    }

    /// The job is gone (pruned or deleted).
    pub(super) fn forget(&mut self, id: JobId) {
        self.jobs.remove(&id);
    }

    /// Store a cancellation request for the running job `id`; false when one is pending.
    pub(super) fn request_cancel(&mut self, id: JobId, reason: &str, now: Timestamp) -> bool {
        let extra = self.jobs.entry(id).or_default();
        if extra.cancel.is_some() {
            return false;
        }
        extra.cancel = Some(CancelRequest {
            job_id: id,
            reason: reason.to_owned(),
            requested_at: now,
        });
        true
    }

    /// The pending cancellation request of `id`.
    pub(super) fn cancel_request(&self, id: JobId) -> Option<&CancelRequest> {
        self.jobs.get(&id).and_then(|extra| extra.cancel.as_ref())
    }

    /// `job` with its history and pending request.
    pub(super) fn detail(&self, job: Job) -> JobDetail {
        match self.jobs.get(&job.id) {
            Some(extra) => JobDetail::assemble(
                job,
                extra.history.clone(),
                extra.attempted_at,
                extra.attempted_by.clone(),
                extra.cancel.clone(),
            ),
            None => JobDetail::assemble(job, Vec::new(), None, None, None),
        }
    }

    /// Register or refresh `info`, live until `now + ttl`; forget the runners stale for
    /// longer than [`RUNNER_RETENTION`].
    pub(super) fn register(&mut self, info: &RunnerInfo, ttl: Duration, now: Timestamp) {
        self.runners
            .retain(|id, r| *id == info.id || later(r.expires_at, RUNNER_RETENTION) >= now);
        self.runners.insert(
            info.id.clone(),
            Registration {
                info: info.clone(),
                heartbeat_at: now,
                expires_at: later(now, ttl),
            },
        );
    }

    /// The runners live at `now`.
    pub(super) fn live_runners(&self, now: Timestamp) -> impl Iterator<Item = &Registration> {
        self.runners.values().filter(move |r| r.expires_at > now)
    }
}
