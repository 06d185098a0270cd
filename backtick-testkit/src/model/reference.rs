//! The reference model: the queue as a plain map of jobs, each rule of the contract written
//! out as directly as possible. Independent of `MemoryStore` on purpose: the property test
//! compares a store against this, so it must not share the store's code.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use backtick_core::{ClaimToken, JobId, JobState, RunAt, RunnerId, Timestamp, Transition};

use super::ops::{JobSpec, QUEUES, WORKERS};

/// What the model knows of one job: the fields the property test compares.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ModelJob {
    pub(super) worker: &'static str,
    pub(super) queue: &'static str,
    pub(super) priority: i16,
    pub(super) state: JobState,
    pub(super) attempt: i32,
    pub(super) max_attempts: i32,
    pub(super) run_at: Timestamp,
    pub(super) owner: Option<RunnerId>,
    pub(super) lease_expires_at: Option<Timestamp>,
    pub(super) has_error: bool,
    pub(super) finished_at: Option<Timestamp>,
    pub(super) updated_at: Timestamp,
    pub(super) unique: Option<String>,
    /// The key is held only while queued or running.
    pub(super) unique_active: bool,
}

/// The whole queue at one instant.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) jobs: BTreeMap<JobId, ModelJob>,
    /// Queues with a global concurrency limit: the plain claim skips them.
    pub(super) limits: BTreeMap<&'static str, u32>,
    /// Pending job -> the parents it still waits for.
    pub(super) waiting: BTreeMap<JobId, BTreeSet<JobId>>,
}

/// The key a job of `spec` due at `run_at` holds: `k<n>`, and with a period `@` and the start of
/// its period in microseconds since the epoch (written out here, not taken from the stores).
pub(super) fn held_key(spec: &JobSpec, run_at: Timestamp) -> Option<String> {
    let key = format!("k{}", spec.unique?);
    Some(match spec.unique_period {
        None => key,
        Some(secs) => {
            let period_us = secs * 1_000_000;
            let us = run_at.timestamp_micros();
            format!("{key}@{}", us - us.rem_euclid(period_us))
        }
    })
}

pub(super) fn plus(t: Timestamp, d: Duration) -> Timestamp {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn due_time(run_at: RunAt, now: Timestamp) -> Timestamp {
    match run_at {
        RunAt::At(t) => t,
        RunAt::After(d) => plus(now, d),
    }
}

impl ModelJob {
    pub(super) fn new(spec: &JobSpec, now: Timestamp) -> Self {
        let run_at = now + chrono::Duration::seconds(spec.delay);
        ModelJob {
            worker: WORKERS[spec.worker],
            queue: QUEUES[spec.queue],
            priority: spec.priority,
            state: JobState::Queued,
            attempt: 0,
            max_attempts: spec.max_attempts,
            run_at,
            owner: None,
            lease_expires_at: None,
            has_error: false,
            finished_at: None,
            updated_at: now,
            unique: held_key(spec, run_at),
            unique_active: spec.unique_active,
        }
    }

    /// Whether this job holds its key now.
    fn holds_key(&self, key: &str) -> bool {
        self.unique.as_deref() == Some(key)
            && (!self.unique_active || matches!(self.state, JobState::Queued | JobState::Running))
    }

    fn holds(&self, token: &ClaimToken) -> bool {
        self.state == JobState::Running
            && self.attempt == token.attempt
            && self.owner.as_ref() == Some(&token.runner_id)
    }

    fn expired(&self, now: Timestamp) -> bool {
        self.state == JobState::Running && self.lease_expires_at.is_some_and(|t| t <= now)
    }

    fn end(&mut self, state: JobState, now: Timestamp) {
        self.state = state;
        self.owner = None;
        self.lease_expires_at = None;
        self.updated_at = now;
        if state.is_finished() {
            self.finished_at = Some(now);
        }
    }
}

impl Model {
    /// The job already holding `key`, if any.
    pub(super) fn holder(&self, key: &str) -> Option<JobId> {
        self.jobs.iter().find(|(_, job)| job.holds_key(key)).map(|(id, _)| *id)
    }

    /// The job another than `id` holding the key `id` would hold if it were queued again.
    pub(super) fn other_holder(&self, id: JobId) -> Option<JobId> {
        let key = self.jobs.get(&id)?.unique.clone()?;
        self.jobs
            .iter()
            .find(|(other, job)| **other != id && job.holds_key(&key))
            .map(|(other, _)| *other)
    }

    /// The ids a claim must take, in claim order.
    pub(super) fn claimable(&self, workers: &[String], queue: Option<&str>, limit: u32, now: Timestamp) -> Vec<JobId> {
        let mut due: Vec<(&JobId, &ModelJob)> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.state == JobState::Queued && j.run_at <= now)
            .filter(|(_, j)| workers.iter().any(|w| w == j.worker) && queue.is_none_or(|q| q == j.queue))
            .filter(|(_, j)| !self.limits.contains_key(j.queue))
            .collect();
        due.sort_by_key(|(id, j)| (j.priority, j.run_at, **id));
        due.into_iter().take(limit as usize).map(|(id, _)| *id).collect()
    }

    /// The ids a limited claim must take: queue by queue in name order, each at most its limit
    /// less its running jobs, in claim order.
    pub(super) fn claimable_limited(
        &self,
        workers: &[String],
        queue: Option<&str>,
        limit: u32,
        now: Timestamp,
    ) -> Vec<JobId> {
        let mut left = limit as usize;
        let mut out = Vec::new();
        for (name, max) in &self.limits {
            if queue.is_some_and(|q| q != *name) {
                continue;
            }
            let running = self
                .jobs
                .values()
                .filter(|j| j.queue == *name && j.state == JobState::Running)
                .count();
            let allowed = (*max as usize).saturating_sub(running).min(left);
            let mut due: Vec<(&JobId, &ModelJob)> = self
                .jobs
                .iter()
                .filter(|(_, j)| j.queue == *name && j.state == JobState::Queued && j.run_at <= now)
                .filter(|(_, j)| workers.iter().any(|w| w == j.worker))
                .collect();
            due.sort_by_key(|(id, j)| (j.priority, j.run_at, **id));
            let taken: Vec<JobId> = due.into_iter().take(allowed).map(|(id, _)| *id).collect();
            left -= taken.len();
            out.extend(taken);
        }
        out
    }

    /// Add a job waiting for `parents` (all stored): cancelled at once when one is dead or
    /// cancelled, queued when all are done, else pending.
    pub(super) fn enqueue_after(&mut self, id: JobId, mut job: ModelJob, parents: &[JobId], now: Timestamp) {
        let states: Vec<JobState> = parents
            .iter()
            .filter_map(|p| self.jobs.get(p))
            .map(|j| j.state)
            .collect();
        if states.iter().any(|s| matches!(s, JobState::Dead | JobState::Cancelled)) {
            job.has_error = true;
            job.end(JobState::Cancelled, now);
        } else if states.iter().all(|s| *s == JobState::Done) {
            job.state = JobState::Queued;
        } else {
            job.state = JobState::Pending;
            let left = parents
                .iter()
                .filter(|p| self.jobs.get(p).is_some_and(|j| j.state != JobState::Done))
                .copied()
                .collect();
            self.waiting.insert(id, left);
        }
        self.jobs.insert(id, job);
    }

    /// Move pending jobs on: queued once every parent is done, cancelled (and in turn their
    /// dependents) once one is dead or cancelled.
    fn settle(&mut self, now: Timestamp) {
        loop {
            let mut changed = false;
            let children: Vec<JobId> = self.waiting.keys().copied().collect();
            for child in children {
                if self.jobs.get(&child).is_none_or(|j| j.state != JobState::Pending) {
                    self.waiting.remove(&child);
                    continue;
                }
                let parents = self.waiting[&child].clone();
                let states: Vec<Option<JobState>> = parents.iter().map(|p| self.jobs.get(p).map(|j| j.state)).collect();
                let cancel = states
                    .iter()
                    .any(|s| matches!(s, Some(JobState::Dead | JobState::Cancelled)));
                let left: BTreeSet<JobId> = parents
                    .iter()
                    .zip(&states)
                    .filter(|(_, s)| !matches!(s, None | Some(JobState::Done)))
                    .map(|(p, _)| *p)
                    .collect();
                let Some(job) = self.jobs.get_mut(&child) else { continue };
                if cancel {
                    job.has_error = true;
                    job.end(JobState::Cancelled, now);
                    self.waiting.remove(&child);
                    changed = true;
                } else if left.is_empty() {
                    job.state = JobState::Queued;
                    job.updated_at = now;
                    self.waiting.remove(&child);
                    changed = true;
                } else {
                    self.waiting.insert(child, left);
                }
            }
            if !changed {
                return;
            }
        }
    }

    pub(super) fn claim(&mut self, id: JobId, runner: &RunnerId, lease: Duration, now: Timestamp) {
        if let Some(job) = self.jobs.get_mut(&id) {
            job.state = JobState::Running;
            job.attempt += 1;
            job.owner = Some(runner.clone());
            job.lease_expires_at = Some(plus(now, lease));
            job.updated_at = now;
        }
    }

    /// Apply a fenced transition; true when it applied.
    /// Whether `token` is the live claim of its job: a fenced write under it would apply.
    pub(super) fn is_live(&self, token: &ClaimToken) -> bool {
        self.jobs.get(&token.job_id).is_some_and(|job| job.holds(token))
    }

    pub(super) fn finish(&mut self, token: &ClaimToken, transition: &Transition, now: Timestamp) -> bool {
        let Some(job) = self.jobs.get_mut(&token.job_id).filter(|job| job.holds(token)) else {
            return false;
        };
        match transition {
            Transition::Done => job.end(JobState::Done, now),
            Transition::Dead { .. } => {
                job.has_error = true;
                job.end(JobState::Dead, now);
            }
            Transition::Cancelled { .. } => {
                job.has_error = true;
                job.end(JobState::Cancelled, now);
            }
            Transition::Queued {
                run_at,
                error,
                refund_attempt,
            } => {
                job.run_at = due_time(*run_at, now);
                job.has_error |= error.is_some();
                if *refund_attempt {
                    job.max_attempts += 1;
                }
                job.end(JobState::Queued, now);
            }
        }
        self.settle(now);
        true
    }

    /// Apply a revive: fenced, and only while the lease is expired.
    pub(super) fn revive(&mut self, token: &ClaimToken, transition: &Transition, now: Timestamp) -> bool {
        let expired = self.jobs.get(&token.job_id).is_some_and(|job| job.expired(now));
        expired && self.finish(token, transition, now)
    }

    /// Extend the live leases among `tokens`; the ids extended.
    pub(super) fn heartbeat(&mut self, tokens: &[ClaimToken], lease: Duration, now: Timestamp) -> Vec<JobId> {
        let mut extended = Vec::new();
        for token in tokens {
            if let Some(job) = self.jobs.get_mut(&token.job_id).filter(|job| job.holds(token)) {
                job.lease_expires_at = Some(plus(now, lease));
                job.updated_at = now;
                extended.push(token.job_id);
            }
        }
        extended
    }

    /// Running jobs whose lease ran out at `now`.
    pub(super) fn expired(&self, now: Timestamp) -> Vec<JobId> {
        self.jobs
            .iter()
            .filter(|(_, job)| job.expired(now))
            .map(|(id, _)| *id)
            .collect()
    }

    pub(super) fn cancel(&mut self, id: JobId, now: Timestamp) -> bool {
        match self.jobs.get_mut(&id) {
            Some(job) if matches!(job.state, JobState::Pending | JobState::Queued | JobState::Running) => {
                job.has_error = true;
                job.end(JobState::Cancelled, now);
                self.settle(now);
                true
            }
            _ => false,
        }
    }

    pub(super) fn retry(&mut self, id: JobId, now: Timestamp) -> bool {
        match self.jobs.get_mut(&id) {
            Some(job) if matches!(job.state, JobState::Dead | JobState::Cancelled) => {
                job.state = JobState::Queued;
                job.run_at = now;
                job.finished_at = None;
                job.max_attempts = job.max_attempts.max(job.attempt + 1);
                job.updated_at = now;
                true
            }
            _ => false,
        }
    }

    /// Delete the jobs finished before `before`; how many.
    pub(super) fn prune(&mut self, before: Timestamp) -> u64 {
        let old: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, job)| job.state.is_finished() && job.finished_at.is_some_and(|t| t < before))
            .map(|(id, _)| *id)
            .collect();
        for id in &old {
            self.jobs.remove(id);
        }
        old.len() as u64
    }
}
