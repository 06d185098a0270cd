//! The backend conformance suite: one set of cases that pins the [`QueueStore`] contract, run
//! by every backend against fresh stores from its own factory.
//!
//! Each case is an async function that takes a fresh store, drives it with explicit times
//! (`now: Some(..)`, in whole seconds from a fixed base, so a database clock and microsecond
//! precision do not matter), and panics with a message naming the broken rule. [`run_all`]
//! runs every case, a few at a time, catching each case's panic so one failure does not hide
//! the others, and returns a [`ConformanceReport`].
//!
//! The cases are grouped by area, one module each: enqueue, claim, fencing (finish and
//! heartbeat), revive, operator (cancel and retry), query (get, list, count), prune,
//! concurrency, timestamps, schedule (recurring and cron fire times) and flow (queue limits,
//! job dependencies).
//!
//! A store that also implements the operators' contract, [`QueueAdmin`], runs
//! [`run_all_admin`] instead: every case above plus the [`admin_cases`] (listing, attempt
//! history, counts, actions, bulk actions, queues, schedules, runners), from one factory of
//! `Arc<dyn QueueAdmin>`.
//!
//! # Examples
//! ```
//! # extern crate backtick_core as backtick_postgres;
//! use std::sync::Arc;
//! use backtick_postgres::QueueStore;
//! use backtick_testkit::{MemoryStore, conformance};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let report = conformance::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn QueueStore> }).await;
//! report.assert_all_passed();
//! assert_eq!(report.results.len(), conformance::cases().len());
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backtick_core::QueueStore;
use backtick_core::admin::QueueAdmin;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::panic_message;

/// Builds a [`Case`] from an async fn in the current module, named after the fn.
macro_rules! case {
    ($area:literal, $f:ident) => {
        $crate::conformance::Case {
            area: $area,
            name: stringify!($f),
            run: |store| Box::pin($f(store)),
        }
    };
}

/// Builds an [`AdminCase`] from an async fn in the current module, named after the fn.
macro_rules! admin_case {
    ($area:literal, $f:ident) => {
        $crate::conformance::AdminCase {
            area: $area,
            name: stringify!($f),
            run: |store| Box::pin($f(store)),
        }
    };
}

mod admin;
mod claim;
mod concurrency;
mod enqueue;
mod fencing;
mod flow;
mod next_due;
mod operator;
mod prune;
mod query;
mod revive;
mod schedule;
mod support;
mod timestamps;
mod unique;

/// How many cases [`run_all`] runs at once.
pub const CONCURRENCY: usize = 4;

/// How long one case may take before it counts as failed (a hung store must not hang the
/// suite).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// The future a case runs: it completes when the case passed and panics when it failed.
pub type CaseFuture = BoxFuture<'static, ()>;

/// One conformance case: a named async check of one rule, run against a fresh store.
///
/// # Examples
/// ```
/// use backtick_testkit::conformance;
/// let cases = conformance::cases();
/// assert!(cases.iter().any(|case| case.name == "claim_skips_future_jobs"));
/// ```
#[derive(Clone, Copy)]
pub struct Case {
    /// The area of the contract it checks (`claim`, `fencing`, ...).
    pub area: &'static str,
    /// The case's name, a sentence such as `claim_skips_future_jobs`.
    pub name: &'static str,
    /// The check: completes on success, panics with the reason on failure.
    pub run: fn(Arc<dyn QueueStore>) -> CaseFuture,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.area, self.name)
    }
}

impl Case {
    /// Run this case against `store`, catching its panic.
    ///
    /// # Errors
    /// The failure message when the case failed, panicked or took longer than
    /// [`CASE_TIMEOUT`].
    pub async fn check(&self, store: Arc<dyn QueueStore>) -> Result<(), String> {
        check((self.run)(store)).await
    }
}

/// One conformance case of the admin contract: like [`Case`], against a store that also
/// implements [`QueueAdmin`].
///
/// # Examples
/// ```
/// use backtick_testkit::conformance;
/// let cases = conformance::admin_cases();
/// assert!(cases.iter().any(|case| case.name == "claim_skips_jobs_on_a_paused_queue_until_it_is_resumed"));
/// ```
#[derive(Clone, Copy)]
pub struct AdminCase {
    /// The area of the contract it checks (`admin_jobs`, `admin_queues`, ...).
    pub area: &'static str,
    /// The case's name, a sentence.
    pub name: &'static str,
    /// The check: completes on success, panics with the reason on failure.
    pub run: fn(Arc<dyn QueueAdmin>) -> CaseFuture,
}

impl fmt::Debug for AdminCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.area, self.name)
    }
}

impl AdminCase {
    /// Run this case against `store`, catching its panic.
    ///
    /// # Errors
    /// As [`Case::check`].
    pub async fn check(&self, store: Arc<dyn QueueAdmin>) -> Result<(), String> {
        check((self.run)(store)).await
    }
}

/// Run one case's future, catching its panic and bounding its time.
///
/// # Errors
/// The failure message when the case failed, panicked or took longer than [`CASE_TIMEOUT`].
pub(crate) async fn check(case: CaseFuture) -> Result<(), String> {
    // Spawned so that a multi-threaded runtime runs the case (and the tasks it spawns) in
    // parallel with the others. A failed assertion is a panic: caught, it becomes the
    // case's failure message instead of ending the whole suite.
    let mut task = tokio::spawn(AssertUnwindSafe(case).catch_unwind());
    match tokio::time::timeout(CASE_TIMEOUT, &mut task).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(panic))) => Err(panic_message(panic.as_ref())),
        Ok(Err(error)) => Err(format!("the case's task did not finish: {error}")),
        Err(_) => {
            task.abort();
            Err(format!("timed out after {CASE_TIMEOUT:?}: the store may be stuck"))
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's area.
    pub area: &'static str,
    /// The case's name.
    pub name: &'static str,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
    /// How long it took, the store factory included.
    pub elapsed: Duration,
}

impl CaseResult {
    /// True when the case passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// What [`run_all`] found: one [`CaseResult`] per case, in [`cases`] order.
///
/// # Examples
/// ```
/// use backtick_testkit::conformance::ConformanceReport;
/// let report = ConformanceReport { results: vec![] };
/// assert!(report.is_success());
/// assert_eq!(report.to_string(), "backend conformance: 0 passed, 0 failed");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConformanceReport {
    /// Every case's result.
    pub results: Vec<CaseResult>,
}

impl ConformanceReport {
    /// True when every case passed.
    pub fn is_success(&self) -> bool {
        self.results.iter().all(CaseResult::passed)
    }

    /// The cases that failed.
    pub fn failures(&self) -> Vec<&CaseResult> {
        self.results.iter().filter(|result| !result.passed()).collect()
    }

    /// True when the case named `name` ran and failed.
    pub fn failed(&self, name: &str) -> bool {
        self.results
            .iter()
            .any(|result| result.name == name && !result.passed())
    }

    /// Panic with a readable list of every failed case and its reason, unless all passed.
    ///
    /// # Panics
    /// When any case failed.
    pub fn assert_all_passed(&self) {
        assert!(self.is_success(), "{self}");
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failures = self.failures();
        write!(
            f,
            "backend conformance: {} passed, {} failed",
            self.results.len() - failures.len(),
            failures.len()
        )?;
        for failure in failures {
            let reason = failure.failure.as_deref().unwrap_or_default().replace('\n', "\n      ");
            write!(f, "\n  - {}::{}: {reason}", failure.area, failure.name)?;
        }
        Ok(())
    }
}

/// Every conformance case, grouped by area.
pub fn cases() -> Vec<Case> {
    [
        enqueue::cases(),
        claim::cases(),
        fencing::cases(),
        revive::cases(),
        operator::cases(),
        query::cases(),
        prune::cases(),
        concurrency::cases(),
        timestamps::cases(),
        schedule::cases(),
        next_due::cases(),
        flow::cases(),
        unique::cases(),
    ]
    .concat()
}

/// Run every case in [`cases`], each against a fresh store from `factory`, [`CONCURRENCY`] at
/// a time. Never panics because of a failing case: look at the report, or call
/// [`ConformanceReport::assert_all_passed`].
///
/// Needs a tokio runtime with time enabled (as `#[tokio::test]` provides); on a multi-threaded
/// one the cases and their concurrent claimers really run in parallel.
pub async fn run_all<F, Fut>(factory: F) -> ConformanceReport
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn QueueStore>>,
{
    run_cases(factory, cases()).await
}

/// Run `cases` like [`run_all`] does: to run a subset, filter [`cases`] first.
pub async fn run_cases<F, Fut>(factory: F, cases: Vec<Case>) -> ConformanceReport
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn QueueStore>>,
{
    let runs = cases.into_iter().map(|case| Runnable {
        area: case.area,
        name: case.name,
        run: Box::new(move |store| (case.run)(store)),
    });
    run_runnables(factory, runs.collect()).await
}

/// Every admin conformance case, grouped by area.
pub fn admin_cases() -> Vec<AdminCase> {
    admin::cases()
}

/// Run every case of [`cases`] and every case of [`admin_cases`], each against a fresh store
/// from `factory`, like [`run_all`]. The report lists the [`cases`] first.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::sync::Arc;
/// use backtick_postgres::admin::QueueAdmin;
/// use backtick_testkit::{MemoryStore, conformance};
///
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let report = conformance::run_all_admin(|| async { Arc::new(MemoryStore::new()) as Arc<dyn QueueAdmin> }).await;
/// report.assert_all_passed();
/// assert_eq!(report.results.len(), conformance::cases().len() + conformance::admin_cases().len());
/// # });
/// ```
pub async fn run_all_admin<F, Fut>(factory: F) -> ConformanceReport
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn QueueAdmin>>,
{
    run_admin_cases(factory, cases(), admin_cases()).await
}

/// Run `cases` and `admin_cases` like [`run_all_admin`] does: to run a subset, filter
/// [`cases`] and [`admin_cases`] first.
pub async fn run_admin_cases<F, Fut>(factory: F, cases: Vec<Case>, admin_cases: Vec<AdminCase>) -> ConformanceReport
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn QueueAdmin>>,
{
    let store_runs = cases.into_iter().map(|case| Runnable {
        area: case.area,
        name: case.name,
        run: Box::new(move |store: Arc<dyn QueueAdmin>| (case.run)(store)),
    });
    let admin_runs = admin_cases.into_iter().map(|case| Runnable {
        area: case.area,
        name: case.name,
        run: Box::new(move |store| (case.run)(store)),
    });
    run_runnables(factory, store_runs.chain(admin_runs).collect()).await
}

/// A case of either kind, ready to run against a store of type `S`.
struct Runnable<S> {
    area: &'static str,
    name: &'static str,
    run: Box<dyn Fn(S) -> CaseFuture + Send + Sync>,
}

/// Run each case against a fresh store from `factory`, [`CONCURRENCY`] at a time.
async fn run_runnables<S, F, Fut>(factory: F, cases: Vec<Runnable<S>>) -> ConformanceReport
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let factory = &factory;
    let runs = cases.into_iter().map(|case| async move {
        let started = Instant::now();
        let failure = match AssertUnwindSafe(factory()).catch_unwind().await {
            Ok(store) => check((case.run)(store)).await.err(),
            Err(panic) => Some(format!("the store factory panicked: {}", panic_message(panic.as_ref()))),
        };
        CaseResult {
            area: case.area,
            name: case.name,
            failure,
            elapsed: started.elapsed(),
        }
    });
    report(runs).await
}

/// Await `runs`, [`CONCURRENCY`] at a time, and report their results in the order given.
pub(crate) async fn report<R>(runs: impl IntoIterator<Item = R>) -> ConformanceReport
where
    R: Future<Output = CaseResult>,
{
    let runs = runs.into_iter().enumerate().map(|(index, run)| async move {
        let result = run.await;
        match &result.failure {
            None => tracing::debug!(case = result.name, "conformance case passed"),
            Some(reason) => tracing::warn!(case = result.name, %reason, "conformance case failed"),
        }
        (index, result)
    });
    let mut results: Vec<(usize, CaseResult)> = futures::stream::iter(runs)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.sort_by_key(|(index, _)| *index);
    ConformanceReport {
        results: results.into_iter().map(|(_, result)| result).collect(),
    }
}
