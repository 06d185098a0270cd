//! The runner: one claim loop, a bounded pool, batched completions, heartbeats, maintenance
//! and graceful shutdown. See [`Runner`].

mod completer;
mod config;
mod executor;
mod heartbeat;
mod producer;
mod schedules;
mod stats;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::RunnerConfig;
pub use stats::RunnerStats;

use crate::clock::{Clock, StoreClock};
use crate::error::Error;
use crate::job::{ClaimToken, JobId};
use crate::maintenance::{self, Pruner, Reviver};
use crate::registry::Registry;
use crate::schedule::Periodic;
use crate::store::QueueStore;
use crate::worker::Worker;

/// Pulls jobs from a [`QueueStore`] and runs them on its registered workers.
///
/// Any number of runners, in any number of processes, may share one store. Each claims only
/// jobs whose worker it has, so a job for a worker this runner lacks stays queued for one that
/// has it. Build one with [`Runner::builder`], then [`Runner::start`] it.
///
/// # Examples
/// ```no_run
/// # async fn example(store: std::sync::Arc<dyn backtick_core::QueueStore>) -> Result<(), backtick_core::Error> {
/// use backtick_core::{JobContext, Runner, worker_fn};
/// let handle = Runner::builder(store)
///     .worker(worker_fn("log_sum", |_: JobContext, (x, y): (i64, i64)| async move {
///         tracing::info!("sum {x} + {y} = {}", x + y);
///         Ok(())
///     }))?
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
}

/// Builds a [`Runner`]: workers, configuration and clock.
pub struct RunnerBuilder {
    store: Arc<dyn QueueStore>,
    registry: Registry,
    periodics: Vec<Periodic>,
    config: RunnerConfig,
    clock: Arc<dyn Clock>,
}

impl RunnerBuilder {
    /// Register a worker.
    ///
    /// # Errors
    /// [`Error::Registry`] when a worker with the same name is already registered.
    pub fn worker(mut self, worker: impl Worker) -> Result<Self, Error> {
        self.registry.register(worker)?;
        Ok(self)
    }

    /// Register a shared worker.
    ///
    /// # Errors
    /// [`Error::Registry`] when a worker with the same name is already registered.
    pub fn worker_arc(mut self, worker: Arc<dyn Worker>) -> Result<Self, Error> {
        self.registry.register_arc(worker)?;
        Ok(self)
    }

    /// Fire a recurring or cron schedule. Its worker must be registered too.
    pub fn periodic(mut self, periodic: Periodic) -> Self {
        self.periodics.push(periodic);
        self
    }

    /// Register every worker declared with `#[worker]`, `#[recurring]` or `#[cron]` in the
    /// program (see [`Registry::discovered`]).
    ///
    /// # Errors
    /// [`Error::Registry`] when two workers share a name.
    pub fn discovered_workers(mut self) -> Result<Self, Error> {
        self.registry.register_discovered()?;
        Ok(self)
    }

    /// Fire every schedule declared with `#[recurring]` or `#[cron]` in the program (see
    /// [`Periodic::discovered`]).
    ///
    /// # Errors
    /// [`Error::Config`] when a schedule cannot be built.
    pub fn discovered_periodics(mut self) -> Result<Self, Error> {
        self.periodics.extend(Periodic::discovered()?);
        Ok(self)
    }

    /// Everything the attribute macros declared: [`RunnerBuilder::discovered_workers`] and
    /// [`RunnerBuilder::discovered_periodics`] in one call.
    ///
    /// # Errors
    /// As those two.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn example(store: std::sync::Arc<dyn backtick_core::QueueStore>) -> Result<(), backtick_core::Error> {
    /// let handle = backtick_core::Runner::builder(store).discovered()?.build()?.start();
    /// # Ok(())
    /// # }
    /// ```
    pub fn discovered(self) -> Result<Self, Error> {
        self.discovered_workers()?.discovered_periodics()
    }

    /// Use every worker of `registry` (replacing those registered so far).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Replace the whole configuration.
    pub fn config(mut self, config: RunnerConfig) -> Self {
        self.config = config;
        self
    }

    /// How many jobs run at once.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.config.concurrency = concurrency;
        self
    }

    /// Serve only these queues.
    pub fn queues<I: IntoIterator<Item = S>, S: Into<String>>(mut self, queues: I) -> Self {
        self.config.queues = Some(queues.into_iter().map(Into::into).collect());
        self
    }

    /// Use `clock` for every store call (tests inject a [`crate::ManualClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validate and build.
    ///
    /// # Errors
    /// [`Error::Config`] naming the invalid option.
    pub fn build(self) -> Result<Runner, Error> {
        self.config.validate()?;
        schedules::check(&self.periodics, &self.registry)?;
        let worker_names = self.registry.names();
        if worker_names.is_empty() {
            tracing::warn!("runner built with no workers: it will claim nothing");
        }
        Ok(Runner {
            shared: Arc::new(Shared {
                store: self.store,
                worker_names,
                registry: self.registry,
                periodics: self.periodics,
                config: self.config,
                clock: self.clock,
                running: Mutex::new(HashMap::new()),
                stats: stats::Stats::default(),
                wake: Notify::new(),
                hard_stop: CancellationToken::new(),
            }),
        })
    }
}

impl Runner {
    /// A builder over `store` with the default configuration and no workers.
    pub fn builder(store: Arc<dyn QueueStore>) -> RunnerBuilder {
        RunnerBuilder {
            store,
            registry: Registry::new(),
            periodics: Vec::new(),
            config: RunnerConfig::default(),
            clock: Arc::new(StoreClock),
        }
    }

    /// Start claiming and running jobs on the current tokio runtime.
    pub fn start(self) -> RunnerHandle {
        let shared = self.shared;
        let stop_claiming = CancellationToken::new();
        let stop_background = CancellationToken::new();
        let (finishes, inbox) = mpsc::unbounded_channel();
        tracing::info!(runner_id = %shared.config.runner_id, workers = ?shared.worker_names, "runner starting");
        let claim_loop = tokio::spawn(producer::run(shared.clone(), finishes, stop_claiming.clone()));
        let completer = tokio::spawn(completer::run(shared.clone(), inbox));
        let reviver = Reviver::new(shared.store.clone(), shared.clock.clone());
        let pruner = Pruner::new(shared.store.clone(), shared.config.retention);
        let mut background = vec![
            tokio::spawn(heartbeat::run(shared.clone(), stop_background.clone())),
            tokio::spawn(maintenance::every(
                shared.config.revive_interval,
                stop_background.clone(),
                move || {
                    let reviver = reviver.clone();
                    async move { reviver.run_once().await.map(|report| report.to_string()) }
                },
            )),
            tokio::spawn(maintenance::every(
                shared.config.prune_interval,
                stop_background.clone(),
                move || {
                    let pruner = pruner.clone();
                    async move { pruner.run_once(None).await.map(|report| report.to_string()) }
                },
            )),
            tokio::spawn(forward_wakeups(shared.clone(), stop_background.clone())),
            tokio::spawn(schedules::run(shared.clone(), stop_background.clone())),
        ];
        if let Some(interval) = shared.config.vacuum_interval {
            let store = shared.store.clone();
            background.push(tokio::spawn(maintenance::every(
                interval,
                stop_background.clone(),
                move || {
                    let store = store.clone();
                    async move {
                        let vacuumed = store.vacuum().await?;
                        Ok::<_, crate::StoreError>(if vacuumed {
                            "vacuumed the jobs table"
                        } else {
                            "no vacuum due"
                        })
                    }
                },
            )));
        }
        RunnerHandle {
            shared,
            stop_claiming,
            stop_background,
            claim_loop,
            completer,
            background,
        }
    }

    /// Start, run until `signal` completes, then shut down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> RunnerStats {
        let handle = self.start();
        signal.await;
        handle.shutdown().await
    }
}

/// Controls a started [`Runner`].
pub struct RunnerHandle {
    shared: Arc<Shared>,
    stop_claiming: CancellationToken,
    stop_background: CancellationToken,
    claim_loop: JoinHandle<()>,
    completer: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl RunnerHandle {
    /// Counters of what this runner has done so far.
    pub fn stats(&self) -> RunnerStats {
        self.shared.stats.snapshot()
    }

    /// Ask the claim loop to look for jobs now instead of at its next poll.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Graceful shutdown: stop claiming, wait for running jobs up to `shutdown_timeout`, then
    /// stop and release the rest (they are due again at once, the attempt refunded), write
    /// every completion, and stop the background loops. Returns the final counters.
    pub async fn shutdown(self) -> RunnerStats {
        self.stop_claiming.cancel();
        if let Err(error) = self.claim_loop.await {
            tracing::error!(%error, "the claim loop ended abnormally");
        }
        // The claim loop and every job task have dropped their senders: the completer
        // writes what is left and ends.
        if let Err(error) = self.completer.await {
            tracing::error!(%error, "the completer ended abnormally");
        }
        self.stop_background.cancel();
        for task in self.background {
            let _ = task.await;
        }
        tracing::info!(runner_id = %self.shared.config.runner_id, "runner stopped");
        self.shared.stats.snapshot()
    }
}

async fn forward_wakeups(shared: Arc<Shared>, stop: CancellationToken) {
    let Some(mut hints) = shared.store.subscribe() else {
        return;
    };
    loop {
        let hint = tokio::select! {
            _ = stop.cancelled() => return,
            hint = hints.recv() => hint,
        };
        match hint {
            Ok(queue) if shared.serves(&queue) => shared.wake.notify_one(),
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => shared.wake.notify_one(),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// What the runner's tasks share.
pub(crate) struct Shared {
    store: Arc<dyn QueueStore>,
    registry: Registry,
    periodics: Vec<Periodic>,
    worker_names: Vec<String>,
    config: RunnerConfig,
    clock: Arc<dyn Clock>,
    /// Claims this runner holds, by job and attempt (after a revive one runner may briefly
    /// hold a stale and a live claim of the same job). A std mutex: held for a few map operations, never
    /// across an await.
    running: Mutex<HashMap<(JobId, i32), Running>>,
    stats: stats::Stats,
    wake: Notify,
    /// Cancelled when shutdown stops waiting: every job's context is a child of it.
    hard_stop: CancellationToken,
}

struct Running {
    token: ClaimToken,
    cancel: CancellationToken,
    /// False once the job's run is over and only its completion remains to be written.
    executing: bool,
}

impl Shared {
    fn running(&self) -> MutexGuard<'_, HashMap<(JobId, i32), Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serves(&self, queue: &str) -> bool {
        self.config
            .queues
            .as_ref()
            .is_none_or(|queues| queues.iter().any(|q| q == queue))
    }

    fn track(&self, token: ClaimToken, cancel: CancellationToken) {
        self.running().insert(
            (token.job_id, token.attempt),
            Running {
                token,
                cancel,
                executing: true,
            },
        );
    }

    fn stop_executing(&self, token: &ClaimToken) {
        if let Some(running) = self.running().get_mut(&(token.job_id, token.attempt)) {
            running.executing = false;
        }
    }

    fn forget<'a>(&self, tokens: impl Iterator<Item = &'a ClaimToken>) {
        let mut running = self.running();
        for token in tokens {
            running.remove(&(token.job_id, token.attempt));
        }
    }

    fn live_tokens(&self) -> Vec<ClaimToken> {
        self.running().values().map(|r| r.token.clone()).collect()
    }

    /// The heartbeat found `token`'s lease gone: stop and forget the job if it is still
    /// executing (or held, not yet started), and say so. A job whose run is over is left
    /// alone: its own completion, written meanwhile, is what ended the lease (or else the
    /// completer reports that completion stale).
    fn lose(&self, token: &ClaimToken) -> bool {
        let mut running = self.running();
        let key = (token.job_id, token.attempt);
        if !running.get(&key).is_some_and(|r| r.executing) {
            return false;
        }
        if let Some(lost) = running.remove(&key) {
            lost.cancel.cancel();
        }
        true
    }

    fn still_executing(&self) -> Vec<ClaimToken> {
        self.running()
            .values()
            .filter(|r| r.executing)
            .map(|r| r.token.clone())
            .collect()
    }
}
