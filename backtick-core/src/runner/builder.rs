//! The runner's builder: workers, schedules, configuration and clock.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, StoreClock};
use crate::error::Error;
use crate::maintenance::check_periodics;
use crate::registry::Registry;
use crate::runner::claims::Claims;
use crate::runner::{Runner, RunnerConfig, Shared, stats};
use crate::schedule::Periodic;
use crate::store::QueueStore;
use crate::worker::Worker;

/// Builds a [`Runner`]: workers, schedules, configuration and clock.
pub struct RunnerBuilder {
    store: Arc<dyn QueueStore>,
    registry: Registry,
    periodics: Vec<Periodic>,
    config: RunnerConfig,
    clock: Arc<dyn Clock>,
}

impl RunnerBuilder {
    /// A builder over `store` with the default configuration and no workers.
    pub(super) fn new(store: Arc<dyn QueueStore>) -> Self {
        RunnerBuilder {
            store,
            registry: Registry::new(),
            periodics: Vec::new(),
            config: RunnerConfig::default(),
            clock: Arc::new(StoreClock),
        }
    }

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
        check_periodics(&self.periodics, &self.registry)?;
        let worker_names = self.registry.names();
        if worker_names.is_empty() {
            tracing::warn!("runner built with no workers: it will claim nothing");
        }
        Ok(Runner {
            shared: Arc::new(Shared {
                store: self.store,
                worker_names,
                registry: self.registry,
                contact: Arc::new(crate::maintenance::Contact::new(
                    self.config.heartbeat_interval,
                    self.config.lease_ttl,
                )),
                config: self.config,
                clock: self.clock,
                claims: Claims::default(),
                stats: stats::Stats::default(),
                wake: Notify::new(),
                hints_live: std::sync::atomic::AtomicBool::new(false),
                hard_stop: CancellationToken::new(),
                job_metrics: crate::telemetry::JobMetrics::default(),
                slots_free: metrics::gauge!(crate::telemetry::RUNNER_SLOTS_FREE),
            }),
            periodics: self.periodics,
        })
    }
}
