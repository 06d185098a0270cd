//! The runner: one claim loop, a bounded pool, batched completions, heartbeats, maintenance
//! and graceful shutdown. See [`Runner`].
//!
//! A job's way through it, one file per step:
//! - `claim_loop.rs` waits for free slots, claims (asking `claim_ahead.rs`'s controller how
//!   many extra to hold) and hands each job to
//! - `executor.rs`, which runs it, frees its slot, logs how it ended and decides its
//!   transition, for
//! - `completer.rs`, which writes the transitions in batches.
//!
//! Meanwhile `claims.rs` tracks every claim (held, running or completing), `heartbeat.rs`
//! extends their leases, `wakeups.rs` forwards the store's hints to the claim loop, and the
//! services of [`crate::maintenance`] run on their own loops. At shutdown the claim loop
//! releases its held jobs and `drain.rs` waits for the running ones.

mod builder;
mod cancels;
mod claim_ahead;
mod claim_loop;
mod claims;
mod completer;
mod config;
mod drain;
mod executor;
mod handle;
mod heartbeat;
mod stats;
mod wakeups;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use builder::RunnerBuilder;
pub use config::RunnerConfig;
pub use handle::RunnerHandle;
pub use stats::RunnerStats;

use crate::admin::RunnerInfo;
use crate::clock::Clock;
use crate::error::Error;
use crate::maintenance::{self, Pruner, Reviver, ScheduleFirer, UnservedWarner, Vacuumer};
use crate::registry::Registry;
use crate::runner::claims::Claims;
use crate::schedule::Periodic;
use crate::store::{QueueStore, WakeReceiver};

/// Pulls jobs from a [`QueueStore`] and runs them on its registered workers.
///
/// Any number of runners, in any number of processes, may share one store. Each claims only
/// jobs whose worker it has, so a job for a worker this runner lacks stays queued for one that
/// has it. Build one with [`Runner::builder`], then [`Runner::start`] it.
///
/// # Examples
/// ```no_run
/// # extern crate backtick_core as backtick_postgres;
/// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::Error> {
/// use backtick_postgres::{JobContext, Runner, worker_fn};
/// let handle = Runner::builder(store)
///     .worker(worker_fn("log_sum", |_: JobContext, (x, y): (i64, i64)| async move {
///         tracing::info!("sum {x} + {y} = {}", x + y);
///         Ok(())
///     }))
///     .concurrency(20)
///     .build()?
///     .start();
/// // ... later, on SIGTERM:
/// let report = handle.shutdown().await;
/// println!("{report:?}");
/// # Ok(())
/// # }
/// ```
pub struct Runner {
    shared: Arc<Shared>,
    /// The schedules to fire, handed to the schedule firer at start.
    periodics: Vec<Periodic>,
}

impl Runner {
    /// A builder over `store` with the default configuration and no workers.
    pub fn builder(store: Arc<dyn QueueStore>) -> RunnerBuilder {
        RunnerBuilder::new(store)
    }

    /// Start claiming and running jobs on the current tokio runtime.
    ///
    /// The schema is not checked first ([`Runner::try_start`] does); a claim that finds the
    /// database unmigrated stops the claim loop with an error in the log.
    pub fn start(self) -> RunnerHandle {
        self.launch(None)
    }

    /// [`Runner::start`]; `registered` is the registration [`Runner::try_start`] already wrote
    /// (the heartbeat then refreshes it from its first tick on), `None` to register at once.
    fn launch(self, registered: Option<RunnerInfo>) -> RunnerHandle {
        let Runner { shared, periodics } = self;
        tracing::info!(runner_id = %shared.config.runner_id, workers = ?shared.worker_names, "runner starting");
        let (stop_claiming, stop_background) = (CancellationToken::new(), CancellationToken::new());
        let (finishes, inbox) = mpsc::unbounded_channel();
        // Subscribe before the claim loop starts, so that every hint from its first claim on
        // is in this receiver (and the claim loop claims again once they are live).
        let hints = shared.store.subscribe();
        shared.slots_free.increment(shared.config.concurrency as f64);
        RunnerHandle {
            claim_loop: tokio::spawn(claim_loop::run(shared.clone(), finishes, stop_claiming.clone())),
            completer: tokio::spawn(completer::run(shared.clone(), inbox)),
            background: spawn_background(&shared, hints, periodics, registered, &stop_background),
            shared,
            stop_claiming,
            stop_background,
        }
    }

    /// Check the store's schema ([`QueueStore::check_schema`]) and, beside it, wait for the
    /// store's wake-up listener to be listening ([`QueueStore::wait_for_hints`], at most 2 s),
    /// register the runner ([`QueueStore::register_runner`]; the heartbeat retries if that
    /// fails), then [`Runner::start`]: the runner's first claim goes out with the listener up
    /// and its registration committed (not competing with the first jobs), so a job
    /// enqueued once this returns is hinted, and the listener's connect does not compete with
    /// the first jobs. ([`Runner::start`], which cannot wait, claims at once and again when the
    /// listener is up.)
    ///
    /// # Errors
    /// [`Error::Store`] with [`StoreError::NotMigrated`](crate::StoreError::NotMigrated) when
    /// the database is not migrated (nothing is started), or the store's error when it cannot
    /// be asked.
    pub async fn try_start(self) -> Result<RunnerHandle, Error> {
        let store = &self.shared.store;
        let (schema, _live) = tokio::join!(store.check_schema(), store.wait_for_hints(wakeups::HINTS_TIMEOUT));
        schema?;
        // Registered before the first claim, so that the registration's commit does not
        // compete with the first jobs (and their enqueue) for the WAL flush.
        let registration = registration(&self.shared, &self.periodics);
        let registered = heartbeat::register_now(&self.shared, &registration).await;
        Ok(self.launch(registered.then_some(registration)))
    }

    /// Check the schema and start ([`Runner::try_start`]), run until `signal` completes, then
    /// shut down gracefully and return the final counters.
    ///
    /// # Errors
    /// As [`Runner::try_start`]: the runner never started.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<RunnerStats, Error> {
        let handle = self.try_start().await?;
        signal.await;
        Ok(handle.shutdown().await)
    }
}

/// Start the tasks beside the claim loop and the completer, all stopped by `stop`: the
/// heartbeat, the wake-ups and the maintenance services.
fn spawn_background(
    shared: &Arc<Shared>,
    hints: Option<WakeReceiver>,
    periodics: Vec<Periodic>,
    registered: Option<RunnerInfo>,
    stop: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let already = registered.is_some();
    let registration = registered.unwrap_or_else(|| registration(shared, &periodics));
    let mut tasks = vec![
        tokio::spawn(heartbeat::run(shared.clone(), registration, already, stop.clone())),
        tokio::spawn(wakeups::forward(shared.clone(), hints, stop.clone())),
        tokio::spawn(wakeups::wake_when_live(shared.clone(), stop.clone())),
        tokio::spawn(cancels::listen(shared.clone(), stop.clone())),
    ];
    tasks.extend(spawn_maintenance(shared, periodics, stop));
    tasks
}

/// Start the maintenance services, each on its own loop: the reviver, the pruner, the
/// vacuumer (unless `vacuum_interval` is `None`) and the schedule firer (if there are
/// schedules).
/// What the runner registers itself as (see [`QueueStore::register_runner`]).
fn registration(shared: &Shared, periodics: &[Periodic]) -> RunnerInfo {
    let config = &shared.config;
    let started_at = shared.clock.now().unwrap_or_else(chrono::Utc::now);
    RunnerInfo {
        queues: config.queues.clone(),
        workers: shared.worker_names.clone(),
        schedules: periodics.iter().map(|p| p.name.clone()).collect(),
        concurrency: u32::try_from(config.concurrency).unwrap_or(u32::MAX),
        ..RunnerInfo::this_process(config.runner_id.clone(), started_at)
    }
}

fn spawn_maintenance(shared: &Shared, periodics: Vec<Periodic>, stop: &CancellationToken) -> Vec<JoinHandle<()>> {
    let (store, clock, config) = (&shared.store, &shared.clock, &shared.config);
    let reviver = Reviver::new(store.clone(), clock.clone()).contact(shared.contact.clone());
    let pruner = Pruner::new(store.clone(), clock.clone()).retention(config.retention);
    let mut loops = vec![
        spawn_settled(reviver, config.revive_interval, stop),
        spawn_settled(pruner, config.prune_interval, stop),
    ];
    if let Some(interval) = config.vacuum_interval {
        let vacuumer = Vacuumer::new(store.clone(), clock.clone());
        loops.push(spawn_settled(vacuumer, interval, stop));
    }
    if let Some(waited) = config.unserved_warning {
        let warner = UnservedWarner::new(store.clone(), clock.clone(), waited);
        loops.push(spawn_settled(warner, waited, stop));
    }
    if !periodics.is_empty() {
        let firer = ScheduleFirer::new(store.clone(), clock.clone(), periodics)
            .workers(shared.worker_names.clone())
            .grace(config.schedule_grace);
        loops.push(maintenance::spawn(firer, config.schedule_interval, stop));
    }
    loops
}

/// Run the housekeeping `service` every `interval` like [`maintenance::spawn`], but with its
/// first pass after a random part of the interval (between a quarter and a half of it, at
/// most [`MAX_SETTLE`]) instead of at once. A starting runner's first claims and its wake-up
/// listener then get the store's connections, rather than queueing behind the reviver, the
/// pruner and the vacuum asking for theirs at the same instant (on a newly connected pool
/// each of those is a new connection, milliseconds apiece); and runners started together do
/// not all revive, prune and vacuum at the same moments.
fn spawn_settled(service: impl maintenance::Service, interval: Duration, stop: &CancellationToken) -> JoinHandle<()> {
    let settle = settle_delay(interval, random_fraction());
    let stop = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(settle) => maintenance::every(service, interval, stop).await,
        }
    })
}

/// The longest [`spawn_settled`] waits before a service's first pass.
const MAX_SETTLE: Duration = Duration::from_secs(5);

/// A quarter of `interval`, plus `fraction` (in `[0, 1)`) of another quarter, at most
/// [`MAX_SETTLE`].
fn settle_delay(interval: Duration, fraction: f64) -> Duration {
    (interval / 4 + (interval / 4).mul_f64(fraction.clamp(0.0, 1.0))).min(MAX_SETTLE)
}

/// A number in `[0, 1)` that differs between calls and processes (from the standard
/// library's randomly seeded hasher; no cryptographic use).
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// What the runner's tasks share.
pub(crate) struct Shared {
    store: Arc<dyn QueueStore>,
    registry: Registry,
    worker_names: Vec<String>,
    config: RunnerConfig,
    clock: Arc<dyn Clock>,
    /// Every claim this runner holds, in its phase.
    claims: Claims,
    /// Whether the heartbeat and the reviver have been hearing the database: the reviver's
    /// grace after an outage.
    contact: Arc<maintenance::Contact>,
    stats: stats::Stats,
    wake: Notify,
    /// Set once the store's hints are live (or given up on): until then an idle claim loop
    /// polls every [`claim_loop::STARTUP_POLL`] rather than at the poll interval.
    hints_live: std::sync::atomic::AtomicBool,
    /// Set once a limited claim ([`QueueStore::claim_limited`]) took a job: from then on the
    /// completer wakes an idle claim loop after each batch it writes, since a finish frees a
    /// slot of a limited queue that this runner (or another) may take at once.
    limited_active: std::sync::atomic::AtomicBool,
    /// Cancelled when shutdown stops waiting: every job's context is a child of it.
    hard_stop: CancellationToken,
    /// The per-queue-and-worker metric handles.
    job_metrics: crate::telemetry::JobMetrics,
    /// `backtick_runner_slots_free`, taken once.
    slots_free: metrics::Gauge,
    /// The states every job's context hands out ([`RunnerBuilder::state`]).
    states: crate::shared::StateMap,
}

impl Shared {
    fn serves(&self, queue: &str) -> bool {
        self.config
            .queues
            .as_ref()
            .is_none_or(|queues| queues.iter().any(|q| q == queue))
    }
}

#[cfg(test)]
mod settle_tests {
    use super::*;

    #[test]
    fn the_first_housekeeping_pass_waits_between_a_quarter_and_a_half_of_its_interval() {
        let interval = Duration::from_secs(8);
        assert_eq!(settle_delay(interval, 0.0), Duration::from_secs(2));
        assert_eq!(settle_delay(interval, 0.5), Duration::from_secs(3));
        assert_eq!(settle_delay(Duration::from_secs(60), 0.9), MAX_SETTLE, "capped");
        for _ in 0..100 {
            let fraction = random_fraction();
            assert!((0.0..1.0).contains(&fraction), "{fraction}");
        }
    }
}
