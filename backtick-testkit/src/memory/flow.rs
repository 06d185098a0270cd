//! Queue limits and job dependencies in [`super::MemoryStore`]: the reference of what the
//! Postgres stores do under a queue's row lock and in the trigger that resolves dependents.

use std::collections::{BTreeSet, HashMap};

use backtick_core::flow::{GraphPlan, QueueLimits, RateWindow, Readiness, allowance, cancel_reason, window_reopens};
use backtick_core::{ClaimParams, Job, JobId, JobState, Timestamp};

use super::{State, finish_as, later, limit};

/// What the store keeps for flow control.
#[derive(Default)]
pub(super) struct Flow {
    /// Limits of the queues that have any, by name.
    pub(super) limits: HashMap<String, QueueLimits>,
    /// The current rate window of each rate-limited queue that started a job.
    pub(super) windows: HashMap<String, RateWindow>,
    /// Pending job -> the parents it still waits for (those not `done`).
    pub(super) waiting: HashMap<JobId, BTreeSet<JobId>>,
}

impl Flow {
    /// True when `queue` has limits: the plain claim skips it.
    pub(super) fn is_limited(&self, queue: &str) -> bool {
        self.limits.get(queue).is_some_and(QueueLimits::is_limited)
    }
}

impl State {
    /// The limited claim: each limited queue in name order, each taking at most its allowance.
    pub(super) fn claim_limited(&mut self, params: &ClaimParams, now: Timestamp) -> Vec<Job> {
        let mut queues: Vec<(String, QueueLimits)> = self
            .flow
            .limits
            .iter()
            .filter(|(queue, limits)| limits.is_limited() && !self.admin.is_paused(queue))
            .filter(|(queue, _)| params.queues.as_ref().is_none_or(|qs| qs.contains(queue)))
            .map(|(queue, limits)| (queue.clone(), *limits))
            .collect();
        queues.sort_by(|a, b| a.0.cmp(&b.0));
        let mut left = limit(params.limit);
        let mut claimed = Vec::new();
        for (queue, limits) in queues {
            if left == 0 {
                break;
            }
            let running = self
                .jobs
                .values()
                .filter(|job| job.queue == queue && job.state == JobState::Running)
                .count();
            let window = self.flow.windows.get(&queue).copied();
            let want = u32::try_from(left).unwrap_or(u32::MAX);
            let allowed = allowance(&limits, running as u64, window, now, want);
            let ids = self.due_on(&queue, params, now, limit(allowed.jobs));
            let taken = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            if taken > 0
                && let Some(window) = allowed.after(taken)
            {
                self.flow.windows.insert(queue.clone(), window);
            }
            left -= ids.len();
            claimed.extend(self.claim_ids(&ids, params, now));
        }
        claimed
    }

    /// Up to `n` due jobs of `queue` for the claim's workers, in claim order.
    fn due_on(&self, queue: &str, params: &ClaimParams, now: Timestamp, n: usize) -> Vec<JobId> {
        let mut due: Vec<&Job> = self
            .jobs
            .values()
            .filter(|job| job.queue == queue && job.state == JobState::Queued && job.run_at <= now)
            .filter(|job| params.workers.contains(&job.worker))
            .collect();
        due.sort_by_key(|job| (job.priority, job.run_at, job.id));
        due.into_iter().take(n).map(|job| job.id).collect()
    }

    /// Claim the jobs `ids` (due, checked by the caller) for `params.runner_id`.
    pub(super) fn claim_ids(&mut self, ids: &[JobId], params: &ClaimParams, now: Timestamp) -> Vec<Job> {
        let lease_expires_at = later(now, params.lease_ttl);
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(job) = self.jobs.get_mut(id) {
                job.state = JobState::Running;
                job.attempt = job.attempt.saturating_add(1);
                job.lease_owner = Some(params.runner_id.clone());
                job.lease_expires_at = Some(lease_expires_at);
                job.updated_at = now;
                self.admin.claimed(*id, now);
                claimed.push(job.clone());
            }
        }
        claimed
    }

    /// The earliest end of a full rate window among limited queues with a due job for
    /// `workers` on `queues`.
    pub(super) fn window_reopens(
        &self,
        workers: &[String],
        queues: Option<&[String]>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        self.flow
            .limits
            .iter()
            .filter(|(queue, _)| queues.is_none_or(|qs| qs.contains(queue)) && !self.admin.is_paused(queue))
            .filter_map(|(queue, limits)| {
                window_reopens(limits, self.flow.windows.get(queue).copied(), now).map(|at| (queue, at))
            })
            .filter(|(queue, _)| {
                self.jobs.values().any(|job| {
                    &job.queue == *queue
                        && job.state == JobState::Queued
                        && job.run_at <= now
                        && workers.contains(&job.worker)
                })
            })
            .map(|(_, at)| at)
            .min()
    }

    /// Insert a checked graph: each node in the state its parents' states give it.
    pub(super) fn insert_graph(&mut self, plan: GraphPlan, states: Vec<Readiness>, now: Timestamp) -> Vec<JobId> {
        let mut ids = vec![JobId(0); plan.nodes.len()];
        let mut plan_ids = Vec::with_capacity(plan.nodes.len());
        for (node, readiness) in plan.nodes.into_iter().zip(states) {
            let (id, _) = self.insert(node.job, now);
            ids[node.input] = id;
            plan_ids.push(id);
            let Some(job) = self.jobs.get_mut(&id) else { continue };
            match readiness {
                Readiness::Queued => {}
                Readiness::Cancelled { reason } => finish_as(job, JobState::Cancelled, reason, now),
                Readiness::Pending => {
                    job.state = JobState::Pending;
                    let mut parents: BTreeSet<JobId> = node.parent_nodes.iter().map(|&p| plan_ids[p]).collect();
                    parents.extend(node.parent_jobs.iter().copied());
                    parents.retain(|p| self.jobs.get(p).is_some_and(|j| j.state != JobState::Done));
                    self.flow.waiting.insert(id, parents);
                }
            }
        }
        ids
    }

    /// Move pending jobs on after their parents changed: released when every parent is done,
    /// cancelled (and, in turn, their dependents) when one ended dead or cancelled. Returns the
    /// queues of the released jobs, to wake.
    pub(super) fn settle(&mut self, now: Timestamp) -> Vec<String> {
        let mut released: Vec<String> = Vec::new();
        loop {
            let mut changed = false;
            let children: Vec<JobId> = self.flow.waiting.keys().copied().collect();
            for child in children {
                if self.jobs.get(&child).is_none_or(|job| job.state != JobState::Pending) {
                    self.flow.waiting.remove(&child);
                    continue;
                }
                let Some(parents) = self.flow.waiting.get(&child).cloned() else {
                    continue;
                };
                let mut outcome = None;
                let mut left = BTreeSet::new();
                for parent in parents {
                    match self.jobs.get(&parent).map(|job| job.state) {
                        Some(state @ (JobState::Dead | JobState::Cancelled)) => {
                            outcome.get_or_insert(cancel_reason(&parent.to_string(), state));
                        }
                        // A pruned parent was done: a dead or cancelled one settled first.
                        Some(JobState::Done) | None => {}
                        Some(_) => {
                            left.insert(parent);
                        }
                    }
                }
                let Some(job) = self.jobs.get_mut(&child) else { continue };
                if let Some(reason) = outcome {
                    finish_as(job, JobState::Cancelled, reason, now);
                    job.updated_at = now;
                    self.flow.waiting.remove(&child);
                    changed = true;
                } else if left.is_empty() {
                    job.state = JobState::Queued;
                    job.updated_at = now;
                    if !released.contains(&job.queue) {
                        released.push(job.queue.clone());
                    }
                    self.flow.waiting.remove(&child);
                    changed = true;
                } else {
                    self.flow.waiting.insert(child, left);
                }
            }
            if !changed {
                return released;
            }
        }
    }
}
