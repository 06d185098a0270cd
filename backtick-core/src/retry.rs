//! Retry backoff: how long a failed job waits before its next attempt.

use std::time::Duration;

/// Exponential backoff with jitter and a cap.
///
/// The delay before attempt `n + 1`, after attempt `n` failed, is
/// `min(cap, base * 2^(n-1))`, then spread by up to `±jitter` of itself (never above `cap`).
///
/// | option | default | unit |
/// |---|---|---|
/// | `base` | 1 | second |
/// | `cap` | 3600 | seconds |
/// | `jitter` | 0.25 | fraction of the delay, 0.0..=1.0 |
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::RetryPolicy;
/// let policy = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
/// assert_eq!(policy.backoff(1, 0.5), Duration::from_secs(1));
/// assert_eq!(policy.backoff(4, 0.5), Duration::from_secs(8));
/// assert_eq!(policy.backoff(40, 0.5), Duration::from_secs(3600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The delay after the first failed attempt.
    pub base: Duration,
    /// The longest delay, jitter included.
    pub cap: Duration,
    /// How far the delay is spread at random, as a fraction of it (0.0 = none).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(3600),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// The delay after attempt `attempt` (1-based) failed. `sample` is a uniform random number
    /// in `0.0..1.0` that picks the jitter; passing it in keeps this function pure.
    pub fn backoff(&self, attempt: i32, sample: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).clamp(0, 62) as u32;
        let cap = self.cap.as_secs_f64();
        let raw = (self.base.as_secs_f64() * 2f64.powi(exponent as i32)).min(cap);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = 1.0 - jitter + 2.0 * jitter * sample.clamp(0.0, 1.0);
        Duration::from_secs_f64((raw * spread).clamp(0.0, cap))
    }

    /// [`RetryPolicy::backoff`] with a fresh random sample.
    pub fn backoff_random(&self, attempt: i32) -> Duration {
        self.backoff(attempt, rand::random::<f64>())
    }

    /// Check the policy.
    ///
    /// # Errors
    /// A message naming the bad option.
    pub fn validate(&self) -> Result<(), String> {
        if self.base.is_zero() {
            return Err("retry policy: base must be greater than zero".into());
        }
        if self.cap < self.base {
            return Err(format!(
                "retry policy: cap ({:?}) must be at least base ({:?})",
                self.cap, self.base
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!(
                "retry policy: jitter is {}, it must be within 0.0..=1.0",
                self.jitter
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let policy = RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
            jitter: 0.0,
        };
        let delays: Vec<u64> = (1..=7).map(|a| policy.backoff(a, 0.3).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn jitter_stays_within_its_band_and_under_the_cap() {
        let policy = RetryPolicy::default();
        for attempt in 1..30 {
            for sample in [0.0, 0.25, 0.5, 0.999] {
                let d = policy.backoff(attempt, sample);
                let raw = policy.backoff(attempt, 0.5).as_secs_f64();
                assert!(d <= policy.cap);
                assert!(d.as_secs_f64() >= raw * 0.75 - 1e-9);
                assert!(d.as_secs_f64() <= (raw * 1.25).min(3600.0) + 1e-9);
            }
        }
    }

    #[test]
    fn odd_attempt_numbers_do_not_overflow() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0, 0.5), policy.base);
        assert_eq!(policy.backoff(i32::MAX, 0.5), policy.cap);
        assert!(RetryPolicy { jitter: 2.0, ..policy }.validate().is_err());
        assert!(
            RetryPolicy {
                base: Duration::ZERO,
                ..policy
            }
            .validate()
            .is_err()
        );
    }
}
