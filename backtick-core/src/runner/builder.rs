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
use crate::shared::{MissingState, StateMap};
use crate::store::QueueStore;
use crate::worker::Worker;

/// Builds a [`Runner`]: workers, schedules, configuration and clock.
///
/// Every method chains; a registration that fails (a duplicate or empty worker name, a
/// schedule that cannot be built) is kept and reported by [`RunnerBuilder::build`], the first
/// one first.
pub struct RunnerBuilder {
    store: Arc<dyn QueueStore>,
    registry: Registry,
    periodics: Vec<Periodic>,
    config: RunnerConfig,
    clock: Arc<dyn Clock>,
    states: StateMap,
    /// The first registration that failed, reported by `build`.
    error: Option<Error>,
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
            states: StateMap::new(),
            error: None,
        }
    }

    /// Keeps the first failed registration for `build`.
    fn keep<E: Into<Error>>(mut self, result: Result<(), E>) -> Self {
        if let Err(error) = result
            && self.error.is_none()
        {
            self.error = Some(error.into());
        }
        self
    }

    /// Register a worker. A worker whose name is already registered (or empty) makes
    /// [`RunnerBuilder::build`] fail with [`Error::Registry`].
    pub fn worker(mut self, worker: impl Worker) -> Self {
        let result = self.registry.register(worker);
        self.keep(result)
    }

    /// Register a shared worker, as [`RunnerBuilder::worker`].
    pub fn worker_arc(mut self, worker: Arc<dyn Worker>) -> Self {
        let result = self.registry.register_arc(worker);
        self.keep(result)
    }

    /// Fire a recurring or cron schedule. Its worker must be registered too.
    pub fn periodic(mut self, periodic: Periodic) -> Self {
        self.periodics.push(periodic);
        self
    }

    /// Register every worker declared with `#[worker]`, `#[recurring]` or `#[cron]` in the
    /// program (see [`Registry::discovered`]). Two workers sharing a name make
    /// [`RunnerBuilder::build`] fail with [`Error::Registry`].
    pub fn discovered_workers(mut self) -> Self {
        let result = self.registry.register_discovered();
        self.keep(result)
    }

    /// Fire every schedule declared with `#[recurring]` or `#[cron]` in the program (see
    /// [`Periodic::discovered`]). A schedule that cannot be built makes
    /// [`RunnerBuilder::build`] fail with [`Error::Config`].
    pub fn discovered_periodics(mut self) -> Self {
        let result = Periodic::discovered().map(|found| self.periodics.extend(found));
        self.keep(result)
    }

    /// Everything the attribute macros declared: [`RunnerBuilder::discovered_workers`] and
    /// [`RunnerBuilder::discovered_periodics`] in one call.
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::Error> {
    /// let handle = backtick_postgres::Runner::builder(store).discovered().concurrency(20).build()?.start();
    /// # Ok(())
    /// # }
    /// ```
    pub fn discovered(self) -> Self {
        self.discovered_workers().discovered_periodics()
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

    /// Set `queue`'s limits when the runner starts, held by every runner together (see
    /// [`crate::flow::QueueLimits`] and [`RunnerConfig::queue_limits`]).
    ///
    /// # Examples
    /// ```no_run
    /// # extern crate backtick_core as backtick_postgres;
    /// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::Error> {
    /// use backtick_postgres::flow::{QueueLimits, RateLimit};
    /// let handle = backtick_postgres::Runner::builder(store)
    ///     .discovered()
    ///     .queue_limits("payments", QueueLimits::new().concurrency(5))
    ///     .queue_limits("mail", QueueLimits::new().rate(RateLimit::per_minute(100)))
    ///     .build()?
    ///     .start();
    /// # Ok(())
    /// # }
    /// ```
    pub fn queue_limits(mut self, queue: impl Into<String>, limits: crate::flow::QueueLimits) -> Self {
        self.config.queue_limits.push((queue.into(), limits));
        self
    }

    /// Use `clock` for every store call (tests inject a [`crate::ManualClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Give every job `value` as its state of type `T`: a `#[worker]` function takes it as a
    /// `State<T>` argument, a hand-written worker calls [`crate::JobContext::state`]. One value
    /// per type; a later call for the same type replaces it.
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use backtick_postgres::{JobContext, Runner, State, StateRequirement, Worker, async_trait, JobError};
    /// use backtick_testkit::MemoryStore;
    ///
    /// struct Greeter;
    ///
    /// #[async_trait]
    /// impl Worker for Greeter {
    ///     fn name(&self) -> &str {
    ///         "greet"
    ///     }
    ///     fn required_states(&self) -> Vec<StateRequirement> {
    ///         vec![StateRequirement::of::<String>()]
    ///     }
    ///     async fn perform(&self, ctx: JobContext) -> Result<(), JobError> {
    ///         let greeting: State<String> = ctx.state()?;
    ///         println!("{}", *greeting);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let store = std::sync::Arc::new(MemoryStore::new());
    /// let missing = Runner::builder(store.clone()).worker(Greeter).build();
    /// assert!(missing.err().unwrap().to_string().contains("alloc::string::String"));
    /// assert!(Runner::builder(store).worker(Greeter).state(String::from("hello")).build().is_ok());
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.states.insert(value);
        self
    }

    /// [`RunnerBuilder::state`] with a value already shared.
    pub fn state_arc<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> Self {
        self.states.insert_arc(value);
        self
    }

    /// Every worker's [`crate::Worker::required_states`] is among the states given.
    fn check_states(&self) -> Result<(), MissingState> {
        for name in self.registry.names() {
            let Some(worker) = self.registry.get(&name) else {
                continue;
            };
            if let Some(missing) = worker
                .required_states()
                .into_iter()
                .find(|requirement| !self.states.contains(requirement))
            {
                return Err(MissingState {
                    worker: name,
                    type_name: missing.type_name(),
                });
            }
        }
        Ok(())
    }

    /// Validate and build.
    ///
    /// # Errors
    /// The first failed registration ([`Error::Registry`] for a duplicate or empty worker
    /// name, [`Error::Config`] for a schedule), else [`Error::Config`] naming the invalid
    /// option, else [`Error::MissingState`] naming a worker and a state type it needs that
    /// [`RunnerBuilder::state`] did not give.
    pub fn build(self) -> Result<Runner, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        self.config.validate()?;
        check_periodics(&self.periodics, &self.registry)?;
        self.check_states()?;
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
                limited_active: std::sync::atomic::AtomicBool::new(false),
                hard_stop: CancellationToken::new(),
                job_metrics: crate::telemetry::JobMetrics::default(),
                slots_free: metrics::gauge!(crate::telemetry::RUNNER_SLOTS_FREE),
                states: self.states,
            }),
            periodics: self.periodics,
        })
    }
}
