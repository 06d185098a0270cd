//! Recurring schedules: a fixed interval.

use std::time::Duration;

use crate::error::ConfigError;
use crate::job::Timestamp;
use crate::schedule::Scheduler;

/// Fires every `interval`, counted from the previous fire time.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::schedule::{Every, Scheduler};
/// let every = Every::new(Duration::from_secs(300))?;
/// let t = "2026-01-01T00:00:00Z".parse().unwrap();
/// assert_eq!(every.next_after(t).unwrap().to_rfc3339(), "2026-01-01T00:05:00+00:00");
/// # Ok::<(), backtick_postgres::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every {
    interval: Duration,
}

impl Every {
    /// A schedule firing every `interval`.
    ///
    /// # Errors
    /// [`ConfigError`] when `interval` is shorter than one millisecond.
    pub fn new(interval: Duration) -> Result<Self, ConfigError> {
        if interval < Duration::from_millis(1) {
            return Err(ConfigError::new(
                "every",
                format!("is {interval:?}; a recurring interval must be at least 1ms"),
            ));
        }
        Ok(Every { interval })
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Scheduler for Every {
    fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let step = chrono::Duration::from_std(self.interval).ok()?;
        after.checked_add_signed(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_interval_is_rejected() {
        assert!(Every::new(Duration::ZERO).is_err());
        assert!(Every::new(Duration::from_millis(1)).is_ok());
    }
}
