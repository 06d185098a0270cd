//! Time. In production the store's clock (the database's) decides; tests inject a clock.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::job::Timestamp;

/// Where "now" comes from for every store call a runner makes.
///
/// [`Clock::now`] returns `None` to let the store use its own clock (Postgres `now()`), which
/// is what production wants: runners on many machines disagree about time, the database does
/// not. A [`ManualClock`] returns `Some` so that tests control time exactly.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The time to pass to the store, or `None` for the store's own clock.
    fn now(&self) -> Option<Timestamp>;
}

/// The store's own clock: always `None`.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{Clock, StoreClock};
/// assert_eq!(StoreClock.now(), None);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreClock;

impl Clock for StoreClock {
    fn now(&self) -> Option<Timestamp> {
        None
    }
}

/// A clock that only moves when told to. Cloning shares the time.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::{Clock, ManualClock};
/// let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().unwrap().to_rfc3339(), "2026-01-01T00:01:30+00:00");
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// The current time of this clock.
    pub fn get(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Move the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }

    /// Set the clock to `to` (it may go backwards).
    pub fn set(&self, to: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Option<Timestamp> {
        Some(self.get())
    }
}
