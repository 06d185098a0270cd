//! Application state for workers: values (a pool, a client, configuration) given to the runner
//! once, when it is built, and handed to every job that asks for them by type, as axum's and
//! actix's `State`/`Data` extractors do.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A shared value of type `T` from the runner's states: a `#[worker]` function takes it as an
/// argument (`pool: State<PgPool>`), a hand-written [`crate::Worker`] gets it with
/// [`crate::JobContext::state`]. Derefs to `T`; cloning it clones an `Arc`.
///
/// Give the value to the runner with [`crate::RunnerBuilder::state`]. A worker that needs a state
/// the runner was not given makes [`crate::RunnerBuilder::build`] fail, naming the worker and the
/// type ([`crate::Error::MissingState`]), before any job runs.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{State, StateMap};
/// #[derive(Debug)]
/// struct Mailer { from: String }
///
/// let mut states = StateMap::new();
/// states.insert(Mailer { from: "noreply@example.com".into() });
/// let mailer: State<Mailer> = states.get().expect("inserted");
/// assert_eq!(mailer.from, "noreply@example.com");
/// ```
pub struct State<T: ?Sized>(Arc<T>);

impl<T: ?Sized> State<T> {
    /// A state holding `value`.
    pub fn from_arc(value: Arc<T>) -> Self {
        State(value)
    }

    /// The shared value.
    pub fn into_arc(self) -> Arc<T> {
        self.0
    }
}

impl<T> State<T> {
    /// A state holding `value`.
    pub fn new(value: T) -> Self {
        State(Arc::new(value))
    }
}

impl<T: ?Sized> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T: ?Sized> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&&*self.0).finish()
    }
}

/// That a worker needs a state of some type: what [`crate::Worker::required_states`] lists and
/// [`crate::RunnerBuilder::build`] checks.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::StateRequirement;
/// assert!(StateRequirement::of::<String>().type_name().ends_with("String"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateRequirement {
    type_id: TypeId,
    type_name: &'static str,
}

impl StateRequirement {
    /// A state of type `T`.
    pub fn of<T: ?Sized + 'static>() -> Self {
        StateRequirement {
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
        }
    }

    /// The type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

/// The states of a runner, by type: at most one value per type. Cheap to clone (one `Arc`).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{StateMap, StateRequirement};
/// let mut states = StateMap::new();
/// states.insert(42_u32);
/// assert!(states.contains(&StateRequirement::of::<u32>()));
/// assert!(states.get::<u64>().is_none());
/// ```
#[derive(Clone, Default)]
pub struct StateMap {
    values: Arc<HashMap<TypeId, Entry>>,
}

#[derive(Clone)]
struct Entry {
    name: &'static str,
    value: Arc<dyn Any + Send + Sync>,
}

impl StateMap {
    /// No states.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `value` as the state of type `T`, replacing any earlier one.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.insert_arc(Arc::new(value));
    }

    /// Add a shared `value` as the state of type `T`, replacing any earlier one.
    pub fn insert_arc<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        let entry = Entry {
            name: std::any::type_name::<T>(),
            value,
        };
        Arc::make_mut(&mut self.values).insert(TypeId::of::<T>(), entry);
    }

    /// The state of type `T`, if there is one.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        let entry = self.values.get(&TypeId::of::<T>())?;
        entry.value.clone().downcast::<T>().ok().map(State)
    }

    /// Whether there is a state for `requirement`.
    pub fn contains(&self, requirement: &StateRequirement) -> bool {
        self.values.contains_key(&requirement.type_id)
    }

    /// The names of the types held, sorted.
    pub fn type_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.values.values().map(|entry| entry.name).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.type_names()).finish()
    }
}

/// A state a worker needs that the runner was not given. See [`crate::Error::MissingState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "worker {worker:?} needs a state of type `{type_name}`, but the runner was not given one; add \
     `.state(value)` with a `{type_name}` to the runner builder"
)]
pub struct MissingState {
    /// The worker that needs it.
    pub worker: String,
    /// The state's type.
    pub type_name: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_found_by_its_exact_type_and_replaced_by_a_later_insert() {
        let mut states = StateMap::new();
        states.insert(String::from("first"));
        states.insert(String::from("second"));
        states.insert(7_u8);
        assert_eq!(&*states.get::<String>().unwrap(), "second");
        assert_eq!(*states.get::<u8>().unwrap(), 7);
        assert!(states.get::<u16>().is_none());
        assert_eq!(states.type_names(), vec!["alloc::string::String", "u8"]);
    }

    #[test]
    fn clones_share_the_value() {
        let mut states = StateMap::new();
        states.insert_arc(Arc::new(vec![1, 2]));
        let a = states.get::<Vec<i32>>().unwrap();
        let b = states.clone().get::<Vec<i32>>().unwrap();
        assert!(Arc::ptr_eq(&a.into_arc(), &b.into_arc()));
    }
}
