//! The registry: worker name -> worker.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::worker::Worker;

/// The workers a runner has, by name.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, Registry, worker_fn};
/// let mut registry = Registry::new();
/// registry.register(worker_fn("a", |_: JobContext, (): ()| async { Ok(()) }))?;
/// assert!(registry.get("a").is_some());
/// assert!(registry.register(worker_fn("a", |_: JobContext, (): ()| async { Ok(()) })).is_err());
/// # Ok::<(), backtick_postgres::RegistryError>(())
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    workers: BTreeMap<String, Arc<dyn Worker>>,
}

/// A worker could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two workers share a name.
    #[error("two workers are named {0:?}: worker names must be unique; give one a different `name`")]
    Duplicate(String),
    /// A worker's name is empty.
    #[error("a worker has an empty name: give it a `name`")]
    EmptyName,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry of every worker declared with `#[worker]`, `#[recurring]` or `#[cron]` in the
    /// program (collected at start-up through `inventory`).
    ///
    /// Workers in a library crate are found only if that crate is linked into the program: use
    /// something from it, or write `use my_jobs as _;`.
    ///
    /// # Errors
    /// [`RegistryError::Duplicate`] when two of them share a name.
    pub fn discovered() -> Result<Self, RegistryError> {
        let mut registry = Registry::new();
        registry.register_discovered()?;
        Ok(registry)
    }

    /// Add every discovered worker (see [`Registry::discovered`]).
    ///
    /// # Errors
    /// [`RegistryError::Duplicate`] when one's name is already taken; the error is also logged
    /// with where the clashing workers are declared.
    pub fn register_discovered(&mut self) -> Result<(), RegistryError> {
        let mut previous: Option<(&str, &str)> = None;
        for (name, location, worker) in crate::__private::discovered_workers() {
            if let Some((previous_name, previous_location)) = previous
                && previous_name == name
            {
                tracing::error!(
                    worker = name,
                    first = previous_location,
                    second = location,
                    "two workers share a name"
                );
            }
            previous = Some((name, location));
            self.register_arc(worker)?;
        }
        Ok(())
    }

    /// Add a worker.
    ///
    /// # Errors
    /// [`RegistryError::Duplicate`] when a worker with the same name is already registered.
    pub fn register(&mut self, worker: impl Worker) -> Result<(), RegistryError> {
        self.register_arc(Arc::new(worker))
    }

    /// Add a shared worker.
    ///
    /// # Errors
    /// [`RegistryError::Duplicate`] when a worker with the same name is already registered.
    pub fn register_arc(&mut self, worker: Arc<dyn Worker>) -> Result<(), RegistryError> {
        let name = worker.name().to_owned();
        if name.trim().is_empty() {
            return Err(RegistryError::EmptyName);
        }
        if self.workers.contains_key(&name) {
            return Err(RegistryError::Duplicate(name));
        }
        self.workers.insert(name, worker);
        Ok(())
    }

    /// The worker named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Worker>> {
        self.workers.get(name)
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.workers.keys().cloned().collect()
    }

    /// How many workers are registered.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// True when no worker is registered.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.workers.keys()).finish()
    }
}
