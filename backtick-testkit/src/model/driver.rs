//! The driver: applies each operation to the store under test and to the reference model,
//! the way runners, a reviver and an operator would, then compares the two.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use backtick_core::state::{Finish, revive, transition_for, transition_for_release};
use backtick_core::{
    ClaimParams, ClaimToken, Codec, CompletionError, Job, JobContext, JobFilter, JobId, JobState, NewJob, Outcome,
    QueueStore, RetryPolicy, RunAt, RunnerId, StoreError, Timestamp, Transition, Unique,
};
use chrono::TimeZone;

use super::TransactionalCompletion;
use super::ops::{Failure, JobSpec, Op, QUEUES, RUNNERS, WORKERS};
use super::reference::{Model, ModelJob, held_key};

/// The lease every claim and heartbeat uses.
const LEASE: Duration = Duration::from_secs(30);

type Checked<T = ()> = Result<T, String>;

fn store_error(error: StoreError) -> String {
    format!("the store returned an error: {error}")
}

fn ensure(ok: bool, message: impl FnOnce() -> String) -> Checked {
    if ok { Ok(()) } else { Err(message()) }
}

/// The retry policy the runners use: no jitter, so backoffs are whole seconds.
fn policy() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        jitter: 0.0,
    }
}

/// A claim a runner holds: its token and the job's `max_attempts` as claimed.
struct Held {
    token: ClaimToken,
    max_attempts: i32,
    /// The job as claimed: what a worker's context holds.
    job: Job,
}

#[derive(Default)]
struct Runner {
    generation: u32,
    held: Vec<Held>,
}

pub(super) struct Driver {
    store: Arc<dyn QueueStore>,
    model: Model,
    now: Timestamp,
    runners: Vec<Runner>,
    /// Every claim token ever issued, for late (possibly stale) completions.
    issued: Vec<ClaimToken>,
    /// Every job ever claimed, as claimed, for late (possibly stale) completions in a
    /// transaction.
    issued_jobs: Vec<Job>,
    /// Every id the store ever assigned, pruned ones included.
    enqueued: Vec<JobId>,
    /// The store's completion inside a transaction, when the factory supplied one.
    transactions: Option<Arc<dyn TransactionalCompletion>>,
    /// How often each kind of event happened: evidence that the generator reaches every path.
    seen: Coverage,
}

/// How often each kind of event happened in a run, by name.
pub(super) type Coverage = BTreeMap<&'static str, u64>;

impl Driver {
    pub(super) fn new(store: Arc<dyn QueueStore>) -> Self {
        let now = chrono::Utc
            .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let runners = (0..RUNNERS).map(|_| Runner::default()).collect();
        Driver {
            store,
            model: Model::default(),
            now,
            runners,
            issued: Vec::new(),
            issued_jobs: Vec::new(),
            enqueued: Vec::new(),
            transactions: None,
            seen: Coverage::new(),
        }
    }

    /// This driver with `transactions` for the [`Op::InTransaction`] steps (without one they
    /// do nothing).
    pub(super) fn with_transactions(mut self, transactions: Option<Arc<dyn TransactionalCompletion>>) -> Self {
        self.transactions = transactions;
        self
    }

    /// Run every op, checking the store against the model after each; what happened.
    pub(super) async fn run(mut self, ops: &[Op]) -> Checked<Coverage> {
        for (index, op) in ops.iter().enumerate() {
            let checked = match self.step(op).await {
                Ok(()) => self.compare().await,
                Err(error) => Err(error),
            };
            checked.map_err(|error| format!("step {} ({op:?}): {error}", index + 1))?;
        }
        Ok(self.seen)
    }

    fn note(&mut self, event: &'static str, times: usize) {
        if times > 0 {
            *self.seen.entry(event).or_default() += times as u64;
        }
    }

    fn runner_id(&self, runner: usize) -> RunnerId {
        RunnerId::new(format!("r{runner}.{}", self.runners[runner].generation))
    }

    async fn step(&mut self, op: &Op) -> Checked {
        match op {
            Op::Enqueue(spec) => self.enqueue(spec).await,
            Op::EnqueueMany { jobs, with_invalid } => self.enqueue_many(jobs, *with_invalid).await,
            Op::Claim {
                runner,
                limit,
                queue,
                workers,
            } => {
                self.claim(*runner, *limit, queue.map(|q| QUEUES[q]), workers.names())
                    .await
            }
            Op::Complete { runner, pick } => match self.take_held(*runner, *pick) {
                Some(held) => self.finish_one(&held.token, Transition::Done).await,
                None => Ok(()),
            },
            Op::Fail { runner, pick, how } => match self.take_held(*runner, *pick) {
                Some(held) => {
                    let outcome = outcome(*how);
                    let transition = transition_for(&outcome, held.token.attempt, held.max_attempts, &policy(), 0.5);
                    self.finish_one(&held.token, transition).await
                }
                None => Ok(()),
            },
            Op::Heartbeat { runner } => self.heartbeat(*runner).await,
            Op::Advance { secs } => {
                self.now += chrono::Duration::seconds(*secs);
                Ok(())
            }
            Op::Crash { runner } => {
                let crashed = &mut self.runners[*runner];
                crashed.held.clear();
                crashed.generation += 1;
                Ok(())
            }
            Op::Release { runner } => self.release(*runner).await,
            Op::Revive {
                limit,
                heartbeat_between,
            } => self.revive(*limit, *heartbeat_between).await,
            Op::LateComplete { pick } => self.late_complete(*pick).await,
            Op::Cancel { pick } => self.cancel(*pick).await,
            Op::Retry { pick } => self.retry(*pick).await,
            Op::SetLimit { queue, concurrency } => self.set_limit(QUEUES[*queue], *concurrency).await,
            Op::ClaimLimited {
                runner,
                limit,
                queue,
                workers,
            } => {
                self.claim_with(*runner, *limit, queue.map(|q| QUEUES[q]), workers.names(), true)
                    .await
            }
            Op::EnqueueAfter { spec, parents } => self.enqueue_after(spec, parents).await,
            Op::InTransaction {
                runner,
                pick,
                late,
                fail,
                commit,
            } => self.in_transaction(*runner, *pick, *late, *fail, *commit).await,
            Op::Prune { age } => {
                let before = self.now - chrono::Duration::seconds(*age);
                let pruned = self.store.prune_finished(before, 10_000).await.map_err(store_error)?;
                let expected = self.model.prune(before);
                self.note("pruned a job", expected as usize);
                ensure(pruned == expected, || {
                    format!("pruned {pruned} jobs, the model says {expected}")
                })
            }
        }
    }

    fn take_held(&mut self, runner: usize, pick: usize) -> Option<Held> {
        let held = &mut self.runners[runner].held;
        if held.is_empty() {
            None
        } else {
            Some(held.remove(pick % held.len()))
        }
    }

    fn new_job(&self, spec: &JobSpec) -> NewJob {
        let mut job = NewJob::from_encoded(WORKERS[spec.worker], vec![0x18, spec.delay as u8], Codec::Cbor)
            .queue(QUEUES[spec.queue])
            .priority(spec.priority)
            .max_attempts(spec.max_attempts);
        job.run_at = match spec.delay {
            0 => None,
            d if d < 0 => Some(RunAt::At(self.now + chrono::Duration::seconds(d))),
            d => Some(RunAt::After(Duration::from_secs(d.unsigned_abs()))),
        };
        match spec.unique {
            Some(key) => {
                let mut unique = Unique::by_key(format!("k{key}"));
                if let Some(secs) = spec.unique_period {
                    unique = unique.period(Duration::from_secs(secs.unsigned_abs()));
                }
                if spec.unique_active {
                    unique = unique.states([JobState::Queued, JobState::Running]);
                }
                job.unique(unique)
            }
            None => job,
        }
    }

    /// Check the id the store returned for `spec` and add the job to the model.
    fn record_enqueue(&mut self, spec: &JobSpec, id: JobId) -> Checked {
        let run_at = self.now + chrono::Duration::seconds(spec.delay);
        let key = held_key(spec, run_at);
        if let Some(holder) = key.as_deref().and_then(|key| self.model.holder(key)) {
            self.note("deduplicated a unique key", 1);
            if spec.unique_period.is_some() || spec.unique_active {
                self.note("deduplicated a unique key per period or while active", 1);
            }
            return ensure(id == holder, || {
                format!("unique key {key:?} is held by job {holder}, got {id}")
            });
        }
        if key.is_some() && self.model.jobs.values().any(|job| job.unique == key) {
            self.note("reused a unique key its finished holder released", 1);
        }
        ensure(!self.enqueued.contains(&id), || {
            format!("a new job got the used id {id}")
        })?;
        self.model.jobs.insert(id, ModelJob::new(spec, self.now));
        self.note("enqueued a job", 1);
        self.enqueued.push(id);
        Ok(())
    }

    async fn enqueue(&mut self, spec: &JobSpec) -> Checked {
        let id = self
            .store
            .enqueue(self.new_job(spec), Some(self.now))
            .await
            .map_err(store_error)?;
        self.record_enqueue(spec, id)
    }

    async fn enqueue_many(&mut self, specs: &[JobSpec], with_invalid: bool) -> Checked {
        let mut batch: Vec<NewJob> = specs.iter().map(|spec| self.new_job(spec)).collect();
        if with_invalid {
            batch.push(NewJob::from_encoded(WORKERS[0], vec![], Codec::Cbor).max_attempts(0));
        }
        match self.store.enqueue_many(batch, Some(self.now)).await {
            Err(StoreError::InvalidJob(_)) if with_invalid => {
                self.note("rejected a batch with an invalid job", 1);
                Ok(())
            }
            Err(error) => Err(store_error(error)),
            Ok(ids) if with_invalid => Err(format!("a batch with an invalid job was stored as {ids:?}")),
            Ok(ids) => {
                ensure(ids.len() == specs.len(), || {
                    format!("{} jobs in, {} ids out", specs.len(), ids.len())
                })?;
                specs
                    .iter()
                    .zip(ids)
                    .try_for_each(|(spec, id)| self.record_enqueue(spec, id))
            }
        }
    }

    async fn set_limit(&mut self, queue: &'static str, concurrency: Option<u32>) -> Checked {
        let limits = backtick_core::flow::QueueLimits {
            concurrency,
            rate: None,
        };
        self.store
            .set_queue_limits(queue, &limits, Some(self.now))
            .await
            .map_err(store_error)?;
        match concurrency {
            Some(n) => self.model.limits.insert(queue, n),
            None => self.model.limits.remove(queue),
        };
        self.note("set a queue limit", 1);
        Ok(())
    }

    async fn enqueue_after(&mut self, spec: &JobSpec, picks: &[Option<usize>]) -> Checked {
        let parents: Vec<JobId> = picks
            .iter()
            .map(|pick| match pick {
                Some(p) if !self.enqueued.is_empty() => self.enqueued[p % self.enqueued.len()],
                _ => JobId(1_000_000_000),
            })
            .collect();
        let mut graph = backtick_core::flow::JobGraph::new();
        graph.add(
            "job",
            self.new_job(spec),
            parents.iter().copied().map(backtick_core::flow::Parent::from),
        );
        let missing = parents.iter().any(|p| !self.model.jobs.contains_key(p));
        match self.store.enqueue_graph(graph, Some(self.now)).await {
            Err(StoreError::InvalidGraph(_)) if missing => {
                self.note("rejected a graph with a missing parent", 1);
                Ok(())
            }
            Err(error) => Err(store_error(error)),
            Ok(ids) if missing => Err(format!("a job after a missing parent was stored as {ids:?}")),
            Ok(ids) => {
                let id = *ids.first().ok_or("enqueue_graph returned no id")?;
                ensure(!self.enqueued.contains(&id), || {
                    format!("a new job got the used id {id}")
                })?;
                self.model
                    .enqueue_after(id, ModelJob::new(spec, self.now), &parents, self.now);
                self.note("enqueued a dependent job", 1);
                self.enqueued.push(id);
                Ok(())
            }
        }
    }

    async fn claim(&mut self, runner: usize, limit: u32, queue: Option<&str>, workers: Vec<String>) -> Checked {
        self.claim_with(runner, limit, queue, workers, false).await
    }

    async fn claim_with(
        &mut self,
        runner: usize,
        limit: u32,
        queue: Option<&str>,
        workers: Vec<String>,
        limited: bool,
    ) -> Checked {
        let expected = if limited {
            self.model.claimable_limited(&workers, queue, limit, self.now)
        } else {
            self.model.claimable(&workers, queue, limit, self.now)
        };
        let runner_id = self.runner_id(runner);
        let params = ClaimParams {
            runner_id: runner_id.clone(),
            workers,
            queues: queue.map(|q| vec![q.to_owned()]),
            limit,
            lease_ttl: LEASE,
            now: Some(self.now),
        };
        let claimed = if limited {
            self.store.claim_limited(&params).await
        } else {
            self.store.claim(&params).await
        }
        .map_err(store_error)?;
        let mut got: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
        got.sort();
        let mut want = expected.clone();
        want.sort();
        ensure(got == want, || {
            format!("claimed {got:?}, the model says {want:?} (in claim order {expected:?})")
        })?;
        for id in &expected {
            self.model.claim(*id, &runner_id, LEASE, self.now);
        }
        self.note(
            if limited {
                "claimed a job of a limited queue"
            } else {
                "claimed a job"
            },
            expected.len(),
        );
        for job in claimed {
            self.check_job(&job)?;
            let token = job
                .claim_token()
                .ok_or_else(|| format!("claimed job {} is not running", job.id))?;
            self.issued.push(token.clone());
            self.issued_jobs.push(job.clone());
            self.runners[runner].held.push(Held {
                token,
                max_attempts: job.max_attempts,
                job,
            });
        }
        Ok(())
    }

    /// Apply one fenced finish to both and compare whether it applied.
    async fn finish_one(&mut self, token: &ClaimToken, transition: Transition) -> Checked {
        let finish = Finish {
            token: token.clone(),
            transition: transition.clone(),
        };
        let report = self
            .store
            .finish_many(&[finish], Some(self.now))
            .await
            .map_err(store_error)?;
        let applied = report.applied.contains(&token.job_id);
        let expected = self.model.finish(token, &transition, self.now);
        self.note(
            if expected {
                finished(&transition)
            } else {
                "reported a stale finish"
            },
            1,
        );
        ensure(applied == expected, || {
            format!("{transition:?} for {token}: applied {applied}, the model says {expected}")
        })?;
        ensure(applied || report.stale.contains(token), || {
            format!("a stale {token} was not reported: {report:?}")
        })
    }

    async fn heartbeat(&mut self, runner: usize) -> Checked {
        let tokens: Vec<ClaimToken> = self.runners[runner]
            .held
            .iter()
            .map(|held| held.token.clone())
            .collect();
        let mut extended = self
            .store
            .heartbeat_many(&tokens, LEASE, Some(self.now))
            .await
            .map_err(store_error)?;
        let mut expected = self.model.heartbeat(&tokens, LEASE, self.now);
        extended.sort();
        expected.sort();
        ensure(extended == expected, || {
            format!("heartbeat extended {extended:?}, the model says {expected:?}")
        })?;
        self.note("extended a lease", expected.len());
        self.note("lost a claim at a heartbeat", tokens.len() - expected.len());
        // A claim missing from the result was lost: the runner stops that work.
        self.runners[runner]
            .held
            .retain(|held| extended.contains(&held.token.job_id));
        Ok(())
    }

    async fn release(&mut self, runner: usize) -> Checked {
        let held = std::mem::take(&mut self.runners[runner].held);
        let finishes: Vec<Finish> = held
            .iter()
            .map(|h| Finish {
                token: h.token.clone(),
                transition: transition_for_release(),
            })
            .collect();
        let report = self
            .store
            .finish_many(&finishes, Some(self.now))
            .await
            .map_err(store_error)?;
        let mut expected: Vec<JobId> = finishes
            .iter()
            .filter(|f| self.model.finish(&f.token, &f.transition, self.now))
            .map(|f| f.token.job_id)
            .collect();
        let mut applied = report.applied.clone();
        applied.sort();
        expected.sort();
        self.runners[runner].generation += 1;
        ensure(applied == expected, || {
            format!("release applied {applied:?}, the model says {expected:?}")
        })
    }

    async fn revive(&mut self, limit: u32, heartbeat_between: bool) -> Checked {
        let read = self
            .store
            .expired_leases(limit, Some(self.now))
            .await
            .map_err(store_error)?;
        self.check_expired(&read, limit)?;
        if heartbeat_between {
            // Slow runners, not dead ones: their heartbeats land after the reviver's read.
            for runner in 0..RUNNERS {
                self.heartbeat(runner).await?;
            }
        }
        let revivals: Vec<Finish> = read.iter().filter_map(revive).collect();
        let report = self
            .store
            .revive_many(&revivals, Some(self.now))
            .await
            .map_err(store_error)?;
        let mut expected: Vec<JobId> = revivals
            .iter()
            .filter(|r| self.model.revive(&r.token, &r.transition, self.now))
            .map(|r| r.token.job_id)
            .collect();
        self.note("revived an expired lease", expected.len());
        self.note("lost a revive to a heartbeat", revivals.len() - expected.len());
        let mut applied = report.applied.clone();
        applied.sort();
        expected.sort();
        ensure(applied == expected, || {
            format!("revive applied {applied:?}, the model says {expected:?}")
        })
    }

    /// `read` must be the `limit` oldest expired leases, oldest first.
    fn check_expired(&self, read: &[Job], limit: u32) -> Checked {
        let expected = self.model.expired(self.now);
        let ids: Vec<JobId> = read.iter().map(|job| job.id).collect();
        let want = expected.len().min(limit as usize);
        ensure(ids.len() == want && ids.iter().all(|id| expected.contains(id)), || {
            format!("expired_leases({limit}) returned {ids:?}, the model's expired leases are {expected:?}")
        })?;
        let leases: Vec<Option<Timestamp>> = read.iter().map(|job| job.lease_expires_at).collect();
        ensure(leases.windows(2).all(|pair| pair[0] <= pair[1]), || {
            format!("not oldest lease first: {leases:?}")
        })?;
        let newest_read = leases.last().copied().flatten();
        let skipped_older = expected
            .iter()
            .filter(|id| !ids.contains(id))
            .find(|id| self.model.jobs[id].lease_expires_at < newest_read);
        ensure(skipped_older.is_none(), || {
            format!("expired_leases skipped the older lease of {skipped_older:?}")
        })?;
        read.iter().try_for_each(|job| self.check_job(job))
    }

    async fn late_complete(&mut self, pick: usize) -> Checked {
        if self.issued.is_empty() {
            return Ok(());
        }
        let token = self.issued[pick % self.issued.len()].clone();
        self.finish_one(&token, Transition::Done).await?;
        for runner in &mut self.runners {
            runner.held.retain(|held| held.token != token);
        }
        Ok(())
    }

    /// A completion or failure inside a transaction, committed or rolled back, with a held
    /// claim of `runner` or (`late`) any job ever claimed. The model predicts whether the
    /// fenced write applies (the claim is live), and keeps it only when committed.
    async fn in_transaction(&mut self, runner: usize, pick: usize, late: bool, fail: bool, commit: bool) -> Checked {
        let Some(transactions) = self.transactions.clone() else {
            return Ok(());
        };
        let job = if late {
            if self.issued_jobs.is_empty() {
                return Ok(());
            }
            self.issued_jobs[pick % self.issued_jobs.len()].clone()
        } else {
            let held = &self.runners[runner].held;
            if held.is_empty() {
                return Ok(());
            }
            held[pick % held.len()].job.clone()
        };
        let token = job
            .claim_token()
            .ok_or_else(|| format!("claimed job {} has no claim token", job.id))?;
        let ctx = JobContext::new(job.clone(), Default::default()).with_retry_policy(policy());
        let transition = if fail {
            transition_for(
                &Outcome::Failed { error: "boom".into() },
                token.attempt,
                job.max_attempts,
                &policy(),
                0.5,
            )
        } else {
            Transition::Done
        };
        let result = if fail {
            transactions.fail_in_tx(&ctx, "boom", self.now, commit).await
        } else {
            transactions.complete_in_tx(&ctx, self.now, commit).await
        };
        let live = self.model.is_live(&token);
        match (&result, live) {
            (Ok(()), true) => {}
            (Err(CompletionError::Stale(stale)), false) if *stale == token => {}
            _ => {
                return Err(format!(
                    "{} of {token} in a transaction returned {result:?}, the model says the claim is {}",
                    if fail { "failure" } else { "completion" },
                    if live { "live" } else { "stale" }
                ));
            }
        }
        let event = match (live, commit, fail) {
            (false, _, _) => "reported a stale completion in a transaction",
            (true, false, _) => "rolled back a live completion in a transaction",
            (true, true, false) => "completed in a committed transaction",
            (true, true, true) => "failed in a committed transaction",
        };
        self.note(event, 1);
        if live && commit {
            self.model.finish(&token, &transition, self.now);
            for runner in &mut self.runners {
                runner.held.retain(|held| held.token != token);
            }
        }
        Ok(())
    }

    fn pick_job(&self, pick: usize) -> Option<JobId> {
        (!self.enqueued.is_empty()).then(|| self.enqueued[pick % self.enqueued.len()])
    }

    async fn cancel(&mut self, pick: usize) -> Checked {
        let Some(id) = self.pick_job(pick) else { return Ok(()) };
        let cancelled = self
            .store
            .cancel(id, "cancelled by the operator", Some(self.now))
            .await
            .map_err(store_error)?;
        let expected = self.model.cancel(id, self.now);
        self.note(
            if expected {
                "cancelled a job"
            } else {
                "refused a cancel"
            },
            1,
        );
        ensure(cancelled == expected, || {
            format!("cancel of job {id} returned {cancelled}, the model says {expected}")
        })
    }

    async fn retry(&mut self, pick: usize) -> Checked {
        let Some(id) = self.pick_job(pick) else { return Ok(()) };
        if self.model.other_holder(id).is_some() {
            // Its key, released when it finished, is held by a newer job: the unique index
            // refuses the retry (a database error), which the model does not describe.
            self.note("skipped a retry whose unique key another job holds", 1);
            return Ok(());
        }
        let retried = self.store.retry(id, Some(self.now)).await.map_err(store_error)?;
        let expected = self.model.retry(id, self.now);
        self.note(if expected { "retried a job" } else { "refused a retry" }, 1);
        ensure(retried == expected, || {
            format!("retry of job {id} returned {retried}, the model says {expected}")
        })
    }

    /// Every job the model has is in the store with the same observable state, the store has
    /// no other job, and the invariants hold.
    async fn compare(&self) -> Checked {
        for id in self.model.jobs.keys() {
            let job = self.store.get(*id).await.map_err(store_error)?;
            let job = job.ok_or_else(|| format!("job {id} was lost: the store no longer has it"))?;
            self.check_job(&job)?;
        }
        let listed = self
            .store
            .list(&JobFilter::default().limit(100_000))
            .await
            .map_err(store_error)?;
        let listed_ids: Vec<JobId> = listed.iter().map(|job| job.id).collect();
        let model_ids: Vec<JobId> = self.model.jobs.keys().copied().collect();
        ensure(listed_ids == model_ids, || {
            format!("the store lists {listed_ids:?}, the model has {model_ids:?}")
        })?;
        let counts = self.store.count_by_state(None).await.map_err(store_error)?;
        for state in JobState::ALL {
            let expected = self.model.jobs.values().filter(|job| job.state == state).count() as u64;
            let got = counts.get(state);
            ensure(got == expected, || {
                format!("count_by_state has {got} {state}, the model has {expected}")
            })?;
        }
        listed.iter().try_for_each(|job| self.check_invariants(job))
    }

    /// The job as the store has it must match the model field by field.
    fn check_job(&self, job: &Job) -> Checked {
        let model = self
            .model
            .jobs
            .get(&job.id)
            .ok_or_else(|| format!("the store has job {} the model lacks", job.id))?;
        let id = job.id;
        macro_rules! same {
            ($field:literal, $got:expr, $want:expr) => {
                ensure($got == $want, || {
                    format!("job {id}: {} is {:?}, the model says {:?}", $field, $got, $want)
                })?
            };
        }
        same!("state", job.state, model.state);
        same!("attempt", job.attempt, model.attempt);
        same!("max_attempts", job.max_attempts, model.max_attempts);
        same!("run_at", job.run_at, model.run_at);
        same!("lease_owner", job.lease_owner.as_ref(), model.owner.as_ref());
        same!("lease_expires_at", job.lease_expires_at, model.lease_expires_at);
        same!("has last_error", job.last_error.is_some(), model.has_error);
        same!("finished_at", job.finished_at, model.finished_at);
        same!("updated_at", job.updated_at, model.updated_at);
        same!(
            "(worker, queue, priority)",
            (job.worker.as_str(), job.queue.as_str(), job.priority),
            (model.worker, model.queue, model.priority)
        );
        Ok(())
    }

    fn check_invariants(&self, job: &Job) -> Checked {
        let id = job.id;
        ensure(job.attempt <= job.max_attempts, || {
            format!("job {id}: attempt {} > max_attempts {}", job.attempt, job.max_attempts)
        })?;
        ensure(job.state != JobState::Queued || job.attempt < job.max_attempts, || {
            format!(
                "job {id} is queued with no attempt left ({} of {})",
                job.attempt, job.max_attempts
            )
        })?;
        let leased = job.lease_owner.is_some() && job.lease_expires_at.is_some();
        ensure(leased == (job.state == JobState::Running), || {
            format!("job {id}: {} with lease {leased}", job.state)
        })?;
        ensure(job.finished_at.is_some() == job.state.is_finished(), || {
            format!("job {id}: {} with finished_at {:?}", job.state, job.finished_at)
        })?;
        let live = job.claim_token();
        let holders = self
            .runners
            .iter()
            .flat_map(|r| &r.held)
            .filter(|held| Some(&held.token) == live.as_ref())
            .count();
        ensure(holders <= 1, || format!("job {id} has {holders} live claims"))
    }
}

/// The event name for an applied finish.
fn finished(transition: &Transition) -> &'static str {
    match transition {
        Transition::Done => "finished a job: done",
        Transition::Queued {
            refund_attempt: true, ..
        } => "finished a job: queued with a refund",
        Transition::Queued { .. } => "finished a job: queued for a retry",
        Transition::Dead { .. } => "finished a job: dead",
        Transition::Cancelled { .. } => "finished a job: cancelled",
    }
}

fn outcome(how: Failure) -> Outcome {
    let error = "boom".to_owned();
    match how {
        Failure::Retry => Outcome::Failed { error },
        Failure::RetryAfter(secs) => Outcome::RetryAt {
            error,
            at: RunAt::After(Duration::from_secs(secs)),
        },
        Failure::Snooze(secs) => Outcome::Snoozed {
            at: RunAt::After(Duration::from_secs(secs)),
        },
        Failure::Discard => Outcome::Discarded { error },
        Failure::Cancel => Outcome::Cancelled {
            reason: "the worker cancelled".into(),
        },
        Failure::Panic => Outcome::Panicked { message: error },
    }
}
