//! Exponential backoff between retries of a failing store call (not a job's retry: that is
//! [`crate::RetryPolicy`]).

use std::time::Duration;

/// The waits between retries of a failing call: `first`, then doubling up to `max`, back to
/// `first` after a [`Backoff::reset`]. No jitter: the callers are a handful of loops per
/// process, not a crowd.
///
/// The runner's claim loop (50 ms to 5 s) and completer (50 ms to 5 s) use it; so can a
/// backend's reconnect loop.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::Backoff;
/// let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
/// assert_eq!(backoff.next_delay(), Duration::from_millis(100));
/// assert_eq!(backoff.next_delay(), Duration::from_millis(200));
/// assert_eq!(backoff.next_delay(), Duration::from_millis(300));
/// backoff.reset();
/// assert_eq!(backoff.next_delay(), Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits of `first`, doubling up to `max` (a `first` above `max` is lowered to it).
    pub const fn new(first: Duration, max: Duration) -> Self {
        let first = if first.as_nanos() > max.as_nanos() { max } else { first };
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next retry; the one after it will be twice as long, up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// The call succeeded: the next failure waits `first` again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn waits_double_from_the_first_up_to_the_max() {
        let mut backoff = Backoff::new(50 * MS, 5000 * MS);
        let waits: Vec<_> = (0..10).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }

    #[test]
    fn a_reset_starts_over_from_the_first_wait() {
        let mut backoff = Backoff::new(50 * MS, 5000 * MS);
        backoff.next_delay();
        backoff.next_delay();
        backoff.reset();
        assert_eq!(backoff.next_delay(), 50 * MS);
        assert_eq!(backoff.next_delay(), 100 * MS);
    }

    #[test]
    fn a_first_wait_above_the_max_is_lowered_to_it() {
        let mut backoff = Backoff::new(10 * MS, 3 * MS);
        assert_eq!((backoff.next_delay(), backoff.next_delay()), (3 * MS, 3 * MS));
    }

    #[test]
    fn huge_waits_saturate_instead_of_overflowing() {
        let mut backoff = Backoff::new(Duration::MAX / 2 + MS, Duration::MAX);
        backoff.next_delay();
        assert_eq!(backoff.next_delay(), Duration::MAX);
        assert_eq!(backoff.next_delay(), Duration::MAX);
    }
}
