//! The property test of the job state machine: random sequences of what runners, a reviver
//! and an operator do, applied both to a store and to a small reference model, compared after
//! every step.
//!
//! Operations: enqueue (one job, or a batch that may hold an invalid job) with assorted
//! workers, queues, priorities, due times, attempt limits and unique keys; claims by three
//! runners (limit, queue and worker filters); complete; fail (retryable error, retry-at,
//! snooze, discard, worker cancel, panic) with the transition picked by
//! [`backtick_core::state::transition_for`]; heartbeat; advance time; runner crash (it forgets
//! its claims and comes back under a new id); graceful release; revive
//! ([`QueueStore::expired_leases`], [`backtick_core::state::revive`],
//! [`QueueStore::revive_many`]), optionally with heartbeats landing between the read and the
//! write (slow runners); a late completion with any token ever issued (often stale); operator cancel and
//! retry; prune; an operator's global concurrency limit on a queue (set and cleared) and the
//! limited claim ([`QueueStore::claim_limited`]); a job enqueued after other jobs
//! ([`QueueStore::enqueue_graph`]), some of them missing, released or cancelled as its parents
//! finish; and, when the factory supplies a [`TransactionalCompletion`], a completion or a
//! failure recorded inside a real transaction (`complete_in`, `fail_in`) that is then committed
//! or rolled back, by the claim's runner or with any token ever issued (often stale).
//!
//! After each step every job's state, attempt, max_attempts, run_at, lease owner and expiry,
//! presence of an error, finished_at and updated_at must match the model; the store must hold
//! no other job; and the invariants hold: attempt never exceeds max_attempts, only running
//! jobs have a lease, only finished ones a finished_at, and no job has two live claims.

mod driver;
mod ops;
mod reference;

use std::fmt::Write as _;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use backtick_core::{CompletionError, JobContext, QueueStore, Timestamp};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use self::driver::Driver;
use self::ops::Op;
use crate::panic_message;

/// Check a store against the reference model on random operation sequences, with proptest's
/// default configuration: 256 sequences unless `PROPTEST_CASES` says otherwise, no failure
/// persistence file.
///
/// Each sequence runs against a fresh store from `factory` (shrinking calls it many more
/// times, so make it cheap: a new schema, or truncated tables). Call it from a plain `#[test]`,
/// not from inside a tokio runtime: it runs its own.
///
/// # Panics
/// When the store diverges from the model: the message names the first diverging step and
/// lists the shrunk, minimal sequence of operations that shows it.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::sync::Arc;
/// use backtick_postgres::QueueStore;
/// use backtick_testkit::{MemoryStore, model};
/// use proptest::test_runner::Config;
///
/// let config = Config { cases: 16, failure_persistence: None, ..Config::default() };
/// model::check_against_model_with(config, || async { Arc::new(MemoryStore::new()) as Arc<dyn QueueStore> });
/// ```
pub fn check_against_model<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn QueueStore>>,
{
    check_against_model_with(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        factory,
    );
}

/// Completion and failure inside a real transaction of the store under test (the backend's
/// `complete_in` and `fail_in`), for the model: each call begins a transaction, runs the fenced
/// write in it at the model's time `now`, and then commits it or, when `commit` is false,
/// rolls it back. The result is the fenced write's.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::sync::Arc;
/// use backtick_postgres::QueueStore;
/// use backtick_testkit::model::{self, TransactionalCompletion};
/// use backtick_testkit::MemoryStore;
/// use proptest::test_runner::Config;
///
/// let config = Config { cases: 8, failure_persistence: None, ..Config::default() };
/// model::check_transactional_against_model(config, || async {
///     let store = MemoryStore::new();
///     (Arc::new(store.clone()) as Arc<dyn QueueStore>, Arc::new(store) as Arc<dyn TransactionalCompletion>)
/// });
/// ```
#[async_trait]
pub trait TransactionalCompletion: Send + Sync {
    /// Complete the job of `ctx` inside a transaction, then commit it (or roll it back).
    ///
    /// # Errors
    /// The fenced write's: [`CompletionError::Stale`] when the claim of `ctx` is not live.
    async fn complete_in_tx(&self, ctx: &JobContext, now: Timestamp, commit: bool) -> Result<(), CompletionError>;

    /// Record the failure of the job of `ctx` with `reason` inside a transaction, then commit
    /// it (or roll it back).
    ///
    /// # Errors
    /// The fenced write's: [`CompletionError::Stale`] when the claim of `ctx` is not live.
    async fn fail_in_tx(
        &self,
        ctx: &JobContext,
        reason: &str,
        now: Timestamp,
        commit: bool,
    ) -> Result<(), CompletionError>;
}

/// [`check_against_model_with`] for a store that can also complete and fail a job inside a
/// transaction: `factory` gives the store and its [`TransactionalCompletion`], and the random
/// sequences include completions and failures inside transactions that are committed or
/// rolled back (and stale ones), which the model predicts.
///
/// # Panics
/// As [`check_against_model_with`].
pub fn check_transactional_against_model<F, Fut>(config: Config, factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = (Arc<dyn QueueStore>, Arc<dyn TransactionalCompletion>)>,
{
    check(config, || {
        let made = factory();
        async move {
            let (store, transactions) = made.await;
            (store, Some(transactions))
        }
    });
}

/// [`check_against_model`] with an explicit proptest configuration (number of cases, shrink
/// limits, failure persistence).
///
/// # Panics
/// When the store diverges from the model, with the minimal failing sequence; or when no
/// tokio runtime can be built.
pub fn check_against_model_with<F, Fut>(config: Config, factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn QueueStore>>,
{
    check(config, || {
        let made = factory();
        async move { (made.await, None) }
    });
}

/// The store and, when it has one, its transactional completion.
type Subject = (Arc<dyn QueueStore>, Option<Arc<dyn TransactionalCompletion>>);

fn check<F, Fut>(config: Config, factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Subject>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("check_against_model cannot build its tokio runtime");
    // One run of one sequence against a fresh store; a panic in the store is a failure too.
    let check = |ops: &[Op]| -> Result<(), String> {
        let run = AssertUnwindSafe(|| {
            runtime.block_on(async {
                let (store, transactions) = factory().await;
                Driver::new(store)
                    .with_transactions(transactions)
                    .run(ops)
                    .await
                    .map(drop)
            })
        });
        std::panic::catch_unwind(run).unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&*panic))))
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&ops::ops(), |ops| check(&ops).map_err(TestCaseError::fail));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, ops)) => {
            let (reason, ops) = minimize(&check, reason.to_string(), ops);
            panic!("{}", failure_report(&reason, &ops));
        }
        Err(TestError::Abort(reason)) => panic!("the model check was aborted: {reason}"),
    }
}

/// Drop every step the failure does not need. Proptest's shrinking stops deleting steps once
/// it starts simplifying them, which can leave steps that turned into no-ops; a greedy pass
/// that deletes one step at a time while the sequence still fails removes them.
fn minimize(check: &dyn Fn(&[Op]) -> Result<(), String>, mut reason: String, mut ops: Vec<Op>) -> (String, Vec<Op>) {
    loop {
        let before = ops.len();
        for index in (0..before).rev() {
            let mut shorter = ops.clone();
            shorter.remove(index);
            if let Err(still) = check(&shorter) {
                (reason, ops) = (still, shorter);
            }
        }
        if ops.len() == before {
            return (reason, ops);
        }
    }
}

fn failure_report(reason: &str, ops: &[Op]) -> String {
    let mut report = format!(
        "the store diverged from the reference model.\n{reason}\nminimal failing sequence ({} steps; runners start \
         at 2030-01-01T00:00:00Z, leases last 30s):",
        ops.len()
    );
    for (index, op) in ops.iter().enumerate() {
        let _ = write!(report, "\n  {:>2}. {op:?}", index + 1);
    }
    report
}

#[cfg(test)]
mod tests {
    use proptest::strategy::{Strategy, ValueTree};

    use super::*;
    use crate::MemoryStore;

    /// Every kind of event happens in a few hundred random sequences: the generator reaches
    /// every path of the state machine, so a store that breaks one of them is caught.
    #[test]
    fn random_sequences_reach_every_kind_of_event() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut runner = TestRunner::deterministic();
        let mut seen = driver::Coverage::new();
        for _ in 0..300 {
            let ops = ops::ops().new_tree(&mut runner).expect("a sequence").current();
            let memory = MemoryStore::new();
            let store: Arc<dyn QueueStore> = Arc::new(memory.clone());
            let transactions: Arc<dyn TransactionalCompletion> = Arc::new(memory);
            let coverage = runtime
                .block_on(Driver::new(store).with_transactions(Some(transactions)).run(&ops))
                .expect("the memory store matches the model");
            for (event, count) in coverage {
                *seen.entry(event).or_default() += count;
            }
        }
        let expected = [
            "enqueued a job",
            "deduplicated a unique key",
            "deduplicated a unique key per period or while active",
            "reused a unique key its finished holder released",
            "rejected a batch with an invalid job",
            "claimed a job",
            "finished a job: done",
            "finished a job: queued for a retry",
            "finished a job: queued with a refund",
            "finished a job: dead",
            "finished a job: cancelled",
            "reported a stale finish",
            "extended a lease",
            "lost a claim at a heartbeat",
            "revived an expired lease",
            "lost a revive to a heartbeat",
            "cancelled a job",
            "refused a cancel",
            "retried a job",
            "refused a retry",
            "pruned a job",
            "set a queue limit",
            "claimed a job of a limited queue",
            "enqueued a dependent job",
            "rejected a graph with a missing parent",
            "completed in a committed transaction",
            "failed in a committed transaction",
            "rolled back a live completion in a transaction",
            "reported a stale completion in a transaction",
        ];
        println!("{seen:#?}");
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|event| !seen.contains_key(event))
            .collect();
        assert!(missing.is_empty(), "never happened: {missing:?}; seen: {seen:?}");
    }
}
