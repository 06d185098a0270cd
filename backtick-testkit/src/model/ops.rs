//! The operations of the property test, their random generation, and a one-line rendering of
//! each so that a shrunk failing sequence reads like a script.

use std::fmt;

use proptest::prelude::*;

/// How many runners take part. Each has an index; a crash gives it a new generation (a new
/// runner id), as a restarted process would have.
pub(super) const RUNNERS: usize = 3;

/// The workers jobs are enqueued for.
pub(super) const WORKERS: [&str; 2] = ["alpha", "beta"];

/// The queues jobs are enqueued on.
pub(super) const QUEUES: [&str; 2] = ["q1", "q2"];

/// One job to enqueue.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct JobSpec {
    pub(super) worker: usize,
    pub(super) queue: usize,
    pub(super) priority: i16,
    /// Seconds from now: negative is an `RunAt::At` in the past, 0 the default (now), positive
    /// an `RunAt::After`.
    pub(super) delay: i64,
    pub(super) max_attempts: i32,
    pub(super) unique: Option<u8>,
    /// With `unique`: the key is held only while the job is queued or running.
    pub(super) unique_active: bool,
    /// With `unique`: one job per this many seconds of due time.
    pub(super) unique_period: Option<i64>,
}

/// Which workers a claiming runner has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WorkerSet {
    Alpha,
    Beta,
    Both,
}

impl WorkerSet {
    pub(super) fn names(self) -> Vec<String> {
        let pick: &[usize] = match self {
            WorkerSet::Alpha => &[0],
            WorkerSet::Beta => &[1],
            WorkerSet::Both => &[0, 1],
        };
        pick.iter().map(|&i| WORKERS[i].to_owned()).collect()
    }
}

/// How a worker's run ends when it does not complete.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// A retryable error: backoff while attempts remain.
    Retry,
    /// A retryable error, retried after this many seconds.
    RetryAfter(u64),
    /// Run again after this many seconds without using an attempt.
    Snooze(u64),
    /// Give up: dead at once.
    Discard,
    /// The worker cancels its job.
    Cancel,
    /// The worker panics.
    Panic,
}

/// One step of the property test.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Op {
    Enqueue(JobSpec),
    EnqueueMany {
        jobs: Vec<JobSpec>,
        with_invalid: bool,
    },
    Claim {
        runner: usize,
        limit: u32,
        queue: Option<usize>,
        workers: WorkerSet,
    },
    Complete {
        runner: usize,
        pick: usize,
    },
    Fail {
        runner: usize,
        pick: usize,
        how: Failure,
    },
    Heartbeat {
        runner: usize,
    },
    Advance {
        secs: i64,
    },
    Crash {
        runner: usize,
    },
    Release {
        runner: usize,
    },
    Revive {
        limit: u32,
        heartbeat_between: bool,
    },
    LateComplete {
        pick: usize,
    },
    Cancel {
        pick: usize,
    },
    Retry {
        pick: usize,
    },
    Prune {
        age: i64,
    },
    /// Set (or clear, `None`) a global concurrency limit on a queue.
    SetLimit {
        queue: usize,
        concurrency: Option<u32>,
    },
    /// The limited claim, for the slots the plain claim left.
    ClaimLimited {
        runner: usize,
        limit: u32,
        queue: Option<usize>,
        workers: WorkerSet,
    },
    /// Enqueue one job (no unique key) waiting for the jobs picked among those ever enqueued
    /// (`None`: a job that never existed).
    EnqueueAfter {
        spec: JobSpec,
        parents: Vec<Option<usize>>,
    },
    /// Complete (or, `fail`, fail) a claim inside a transaction that is then committed or
    /// rolled back: a held claim of `runner`, or (`late`) any token ever issued.
    InTransaction {
        runner: usize,
        pick: usize,
        late: bool,
        fail: bool,
        commit: bool,
    },
}

impl fmt::Debug for JobSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let due = match self.delay {
            0 => "now".to_owned(),
            d if d < 0 => format!("at now{d}s"),
            d => format!("after {d}s"),
        };
        write!(
            f,
            "{} on {} prio {} due {due} max {}",
            WORKERS[self.worker], QUEUES[self.queue], self.priority, self.max_attempts
        )?;
        if let Some(key) = self.unique {
            write!(f, " key k{key}")?;
            if let Some(period) = self.unique_period {
                write!(f, " per {period}s")?;
            }
            if self.unique_active {
                write!(f, " while active")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Enqueue(spec) => write!(f, "enqueue {spec:?}"),
            Op::EnqueueMany { jobs, with_invalid } => {
                write!(
                    f,
                    "enqueue_many [{}]",
                    jobs.iter().map(|j| format!("{j:?}")).collect::<Vec<_>>().join("; ")
                )?;
                if *with_invalid {
                    write!(f, " + one invalid job (whole batch rejected)")
                } else {
                    Ok(())
                }
            }
            Op::Claim {
                runner,
                limit,
                queue,
                workers,
            } => {
                let queue = queue.map_or("any queue", |q| QUEUES[q]);
                write!(
                    f,
                    "runner {runner} claims up to {limit} from {queue} for {:?}",
                    workers.names()
                )
            }
            Op::Complete { runner, pick } => write!(f, "runner {runner} completes its claim #{pick}"),
            Op::Fail { runner, pick, how } => write!(f, "runner {runner}'s claim #{pick} ends: {how:?}"),
            Op::Heartbeat { runner } => write!(f, "runner {runner} heartbeats"),
            Op::Advance { secs } => write!(f, "time advances {secs}s"),
            Op::Crash { runner } => write!(f, "runner {runner} crashes (forgets its claims, restarts as a new id)"),
            Op::Release { runner } => write!(f, "runner {runner} shuts down and releases its claims"),
            Op::Revive {
                limit,
                heartbeat_between: false,
            } => write!(f, "reviver revives up to {limit} expired leases"),
            Op::Revive {
                limit,
                heartbeat_between: true,
            } => {
                write!(
                    f,
                    "reviver reads up to {limit} expired leases, every runner heartbeats, reviver revives them"
                )
            }
            Op::LateComplete { pick } => write!(f, "a late completion with issued token #{pick} (maybe stale)"),
            Op::Cancel { pick } => write!(f, "operator cancels job #{pick}"),
            Op::Retry { pick } => write!(f, "operator retries job #{pick}"),
            Op::Prune { age } => write!(f, "prune jobs finished more than {age}s ago"),
            Op::SetLimit { queue, concurrency } => match concurrency {
                Some(n) => write!(f, "operator limits {} to {n} running jobs", QUEUES[*queue]),
                None => write!(f, "operator clears the limits of {}", QUEUES[*queue]),
            },
            Op::ClaimLimited {
                runner,
                limit,
                queue,
                workers,
            } => {
                let queue = queue.map_or("any limited queue", |q| QUEUES[q]);
                write!(
                    f,
                    "runner {runner} claims up to {limit} from {queue} (limited claim) for {:?}",
                    workers.names()
                )
            }
            Op::EnqueueAfter { spec, parents } => {
                let parents: Vec<String> = parents
                    .iter()
                    .map(|p| p.map_or("a missing job".to_owned(), |p| format!("enqueued #{p}")))
                    .collect();
                write!(f, "enqueue {spec:?} after [{}]", parents.join(", "))
            }
            Op::InTransaction {
                runner,
                pick,
                late,
                fail,
                commit,
            } => {
                let what = if *fail { "fails" } else { "completes" };
                let end = if *commit { "commits" } else { "rolls back" };
                if *late {
                    write!(
                        f,
                        "a late worker {what} issued token #{pick} in a transaction and {end}"
                    )
                } else {
                    write!(f, "runner {runner} {what} its claim #{pick} in a transaction and {end}")
                }
            }
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Retry => write!(f, "retryable error"),
            Failure::RetryAfter(secs) => write!(f, "retryable error, retry after {secs}s"),
            Failure::Snooze(secs) => write!(f, "snooze {secs}s"),
            Failure::Discard => write!(f, "discard"),
            Failure::Cancel => write!(f, "worker cancels"),
            Failure::Panic => write!(f, "panic"),
        }
    }
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    let unique = prop_oneof![3 => Just(None), 1 => (0u8..3).prop_map(Some)];
    let scope = (any::<bool>(), prop_oneof![2 => Just(None), 1 => Just(Some(20i64))]);
    // Most jobs are due at once, so that claims find work; some are overdue, some due later.
    let delay = prop_oneof![2 => Just(0i64), 1 => -10i64..0, 1 => 1i64..=30];
    (
        0..WORKERS.len(),
        0..QUEUES.len(),
        0i16..3,
        delay,
        1i32..=3,
        unique,
        scope,
    )
        .prop_map(
            |(worker, queue, priority, delay, max_attempts, unique, (active, period))| JobSpec {
                worker,
                queue,
                priority,
                delay,
                max_attempts,
                unique,
                unique_active: unique.is_some() && active,
                unique_period: unique.and(period),
            },
        )
}

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        4 => Just(Failure::Retry),
        1 => (0u64..20).prop_map(Failure::RetryAfter),
        2 => (0u64..20).prop_map(Failure::Snooze),
        1 => Just(Failure::Discard),
        1 => Just(Failure::Cancel),
        1 => Just(Failure::Panic),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let runner = 0..RUNNERS;
    let pick = 0usize..8;
    let workers = prop_oneof![2 => Just(WorkerSet::Both), 1 => Just(WorkerSet::Alpha), 1 => Just(WorkerSet::Beta)];
    prop_oneof![
        3 => job_spec().prop_map(Op::Enqueue),
        1 => (proptest::collection::vec(job_spec(), 1..4), proptest::bool::weighted(0.25))
            .prop_map(|(jobs, with_invalid)| Op::EnqueueMany { jobs, with_invalid }),
        6 => (runner.clone(), 1u32..4, proptest::option::weighted(0.3, 0..QUEUES.len()), workers)
            .prop_map(|(runner, limit, queue, workers)| Op::Claim { runner, limit, queue, workers }),
        3 => (runner.clone(), pick.clone()).prop_map(|(runner, pick)| Op::Complete { runner, pick }),
        4 => (runner.clone(), pick.clone(), failure()).prop_map(|(runner, pick, how)| Op::Fail { runner, pick, how }),
        2 => runner.clone().prop_map(|runner| Op::Heartbeat { runner }),
        3 => (1i64..=40).prop_map(|secs| Op::Advance { secs }),
        1 => runner.clone().prop_map(|runner| Op::Crash { runner }),
        1 => runner.clone().prop_map(|runner| Op::Release { runner }),
        3 => (1u32..5, proptest::bool::weighted(0.3))
            .prop_map(|(limit, heartbeat_between)| Op::Revive { limit, heartbeat_between }),
        2 => (0usize..16).prop_map(|pick| Op::LateComplete { pick }),
        1 => pick.clone().prop_map(|pick| Op::Cancel { pick }),
        1 => pick.prop_map(|pick| Op::Retry { pick }),
        1 => (0i64..60).prop_map(|age| Op::Prune { age }),
        1 => (0..QUEUES.len(), proptest::option::weighted(0.7, 1u32..3))
            .prop_map(|(queue, concurrency)| Op::SetLimit { queue, concurrency }),
        3 => (0..RUNNERS, 1u32..4, proptest::option::weighted(0.3, 0..QUEUES.len()), workers_again())
            .prop_map(|(runner, limit, queue, workers)| Op::ClaimLimited { runner, limit, queue, workers }),
        2 => (job_spec(), proptest::collection::vec(proptest::option::weighted(0.95, 0usize..12), 1..3))
            .prop_map(|(spec, parents)| Op::EnqueueAfter { spec: JobSpec { unique: None, ..spec }, parents }),
        3 => (0..RUNNERS, 0usize..16, proptest::bool::weighted(0.3), any::<bool>(), proptest::bool::weighted(0.7))
            .prop_map(|(runner, pick, late, fail, commit)| Op::InTransaction { runner, pick, late, fail, commit }),
    ]
}

fn workers_again() -> impl Strategy<Value = WorkerSet> {
    prop_oneof![2 => Just(WorkerSet::Both), 1 => Just(WorkerSet::Alpha), 1 => Just(WorkerSet::Beta)]
}

/// A random sequence of operations.
pub(super) fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..60)
}
