//! Queue limits held by every runner together: a global concurrency and a rate limit per
//! queue, and the pure rule ([`allowance`]) that decides how many jobs a claim may start.
//! Stores apply the rule under a lock of the queue's settings (on Postgres, a row lock of its
//! `backtick_queues` row), so that concurrent claimers see each other's claims.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::job::Timestamp;

/// The limits of one queue, held by all runners together. Both default to none: a queue
/// without limits is claimed by the plain claim, as fast as before limits existed.
///
/// - `concurrency`: at most this many of the queue's jobs are `running` at once, across every
///   runner. A running job's slot comes back when it finishes, or when it is revived after its
///   runner died (the count is of jobs in `running`, never of runners' bookkeeping).
/// - `rate`: at most [`RateLimit::jobs`] of the queue's jobs start (are claimed) per
///   [`RateLimit::period`], in a **fixed window** that opens at the first claim after the
///   previous window ended. Jobs beyond it stay queued until the window after.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::flow::{QueueLimits, RateLimit};
/// let limits = QueueLimits::new().concurrency(5).rate("100/m".parse::<RateLimit>()?);
/// assert!(limits.is_limited());
/// assert_eq!(limits.to_string(), "concurrency 5, rate 100/1m");
/// assert!(!QueueLimits::new().is_limited());
/// # Ok::<(), backtick_postgres::flow::LimitError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueLimits {
    /// At most this many running jobs across the cluster; `None`: no limit.
    pub concurrency: Option<u32>,
    /// At most this many job starts per period; `None`: no limit.
    pub rate: Option<RateLimit>,
}

impl QueueLimits {
    /// No limits.
    pub fn new() -> Self {
        QueueLimits::default()
    }

    /// At most `jobs` running jobs at once across the cluster.
    pub fn concurrency(mut self, jobs: u32) -> Self {
        self.concurrency = Some(jobs);
        self
    }

    /// At most `rate.jobs` starts per `rate.period`.
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// True when either limit is set: the queue is claimed by the limited claim.
    pub fn is_limited(&self) -> bool {
        self.concurrency.is_some() || self.rate.is_some()
    }

    /// Check the limits.
    ///
    /// # Errors
    /// [`LimitError::ZeroConcurrency`] for a concurrency of 0 (pause the queue instead), and
    /// the errors of [`RateLimit::validate`].
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.concurrency == Some(0) {
            return Err(LimitError::ZeroConcurrency);
        }
        self.rate.map_or(Ok(()), |rate| rate.validate())
    }
}

impl fmt::Display for QueueLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.concurrency, self.rate) {
            (None, None) => f.write_str("none"),
            (Some(c), None) => write!(f, "concurrency {c}"),
            (None, Some(r)) => write!(f, "rate {r}"),
            (Some(c), Some(r)) => write!(f, "concurrency {c}, rate {r}"),
        }
    }
}

/// At most `jobs` job starts per `period` (a fixed window; see [`QueueLimits`]). Parsed from
/// `JOBS/PERIOD`, the period a unit (`s`, `m`, `h`) optionally preceded by a count: `100/m`,
/// `10/s`, `5/30s`, `1000/2h`.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::flow::RateLimit;
/// let rate: RateLimit = "5/30s".parse()?;
/// assert_eq!(rate, RateLimit::new(5, Duration::from_secs(30)));
/// assert_eq!(RateLimit::per_minute(100).to_string(), "100/1m");
/// assert!("100 per minute".parse::<RateLimit>().is_err());
/// # Ok::<(), backtick_postgres::flow::LimitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Job starts per window; at least 1.
    pub jobs: u32,
    /// The window's length; at least a millisecond.
    pub period: Duration,
}

impl RateLimit {
    /// `jobs` starts per `period`.
    pub fn new(jobs: u32, period: Duration) -> Self {
        RateLimit { jobs, period }
    }

    /// `jobs` starts per second.
    pub fn per_second(jobs: u32) -> Self {
        RateLimit::new(jobs, Duration::from_secs(1))
    }

    /// `jobs` starts per minute.
    pub fn per_minute(jobs: u32) -> Self {
        RateLimit::new(jobs, Duration::from_secs(60))
    }

    /// `jobs` starts per hour.
    pub fn per_hour(jobs: u32) -> Self {
        RateLimit::new(jobs, Duration::from_secs(3600))
    }

    /// Check the rate.
    ///
    /// # Errors
    /// [`LimitError::ZeroRate`] when `jobs` is 0, [`LimitError::Period`] when `period` is
    /// under a millisecond.
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.jobs == 0 {
            return Err(LimitError::ZeroRate);
        }
        if self.period < Duration::from_millis(1) {
            return Err(LimitError::Period {
                given: format!("{:?}", self.period),
            });
        }
        Ok(())
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        if self.period.subsec_nanos() != 0 {
            write!(f, "{}/{}ms", self.jobs, self.period.as_millis())
        } else if secs.is_multiple_of(3600) {
            write!(f, "{}/{}h", self.jobs, secs / 3600)
        } else if secs.is_multiple_of(60) {
            write!(f, "{}/{}m", self.jobs, secs / 60)
        } else {
            write!(f, "{}/{}s", self.jobs, secs)
        }
    }
}

impl FromStr for RateLimit {
    type Err = LimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || LimitError::Syntax { given: s.to_owned() };
        let (jobs, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let jobs: u32 = jobs.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (count, unit) = period.split_at(split);
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().map_err(|_| bad())?
        };
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        let rate = RateLimit::new(jobs, Duration::from_millis(count.saturating_mul(unit_ms)));
        rate.validate()?;
        Ok(rate)
    }
}

/// A queue's limits were invalid, or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A concurrency of 0.
    #[error("invalid queue limits: a concurrency of 0 would never run a job; pause the queue instead")]
    ZeroConcurrency,
    /// A rate of 0 jobs.
    #[error("invalid queue limits: a rate of 0 jobs would never run a job; pause the queue instead")]
    ZeroRate,
    /// A period under a millisecond.
    #[error("invalid queue limits: the rate period {given} is under a millisecond")]
    Period {
        /// The period given.
        given: String,
    },
    /// A rate that does not parse.
    #[error("invalid rate {given:?}: expected JOBS/PERIOD, such as 100/m, 10/s, 5/30s or 1000/2h")]
    Syntax {
        /// The text given.
        given: String,
    },
}

/// A queue's current rate window: when it opened and how many jobs started in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// When the window opened (the first claim after the previous window ended).
    pub start: Timestamp,
    /// Jobs started in it so far.
    pub count: u32,
}

/// How many jobs a claim may start on a limited queue, and the rate window to store if it
/// starts them. See [`allowance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// At most this many jobs.
    pub jobs: u32,
    /// The window the claim counts its jobs in (a fresh one when the stored one ended); `None`
    /// without a rate limit.
    pub window: Option<RateWindow>,
}

impl Allowance {
    /// The window to store after the claim started `taken` jobs.
    pub fn after(&self, taken: u32) -> Option<RateWindow> {
        self.window.map(|w| RateWindow {
            start: w.start,
            count: w.count.saturating_add(taken),
        })
    }
}

/// The rule of a limited claim: how many of the queue's jobs a claim wanting `want` may start
/// at `now`, given `running` jobs of the queue and its stored rate `window`. The stores apply
/// it while holding the queue's lock, then store [`Allowance::after`] the jobs they took.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::flow::{QueueLimits, RateLimit, RateWindow, allowance};
/// let now = chrono::Utc::now();
/// let limits = QueueLimits::new().concurrency(3).rate(RateLimit::per_minute(10));
/// assert_eq!(allowance(&limits, 1, None, now, 50).jobs, 2);
/// let full = RateWindow { start: now, count: 10 };
/// assert_eq!(allowance(&limits, 0, Some(full), now, 50).jobs, 0);
/// let later = now + chrono::Duration::minutes(1);
/// assert_eq!(allowance(&limits, 0, Some(full), later, 50).jobs, 3, "a fresh window");
/// ```
pub fn allowance(
    limits: &QueueLimits,
    running: u64,
    window: Option<RateWindow>,
    now: Timestamp,
    want: u32,
) -> Allowance {
    let mut jobs = want;
    if let Some(concurrency) = limits.concurrency {
        let free = u64::from(concurrency).saturating_sub(running);
        jobs = jobs.min(u32::try_from(free).unwrap_or(u32::MAX));
    }
    let window = limits.rate.map(|rate| {
        let current = window.filter(|w| now < window_end(w.start, rate.period));
        let current = current.unwrap_or(RateWindow { start: now, count: 0 });
        jobs = jobs.min(rate.jobs.saturating_sub(current.count));
        current
    });
    Allowance { jobs, window }
}

/// When a queue whose rate window is used up may start jobs again: the end of `window`, when
/// it is still open at `now` and full; `None` otherwise (it may start jobs now, or has no rate
/// limit). An idle runner sleeps until then.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::flow::{QueueLimits, RateLimit, RateWindow, window_reopens};
/// let now = chrono::Utc::now();
/// let limits = QueueLimits::new().rate(RateLimit::per_second(2));
/// let full = RateWindow { start: now, count: 2 };
/// assert_eq!(window_reopens(&limits, Some(full), now), Some(now + chrono::Duration::seconds(1)));
/// assert_eq!(window_reopens(&limits, Some(RateWindow { count: 1, ..full }), now), None);
/// ```
pub fn window_reopens(limits: &QueueLimits, window: Option<RateWindow>, now: Timestamp) -> Option<Timestamp> {
    let rate = limits.rate?;
    let window = window?;
    let end = window_end(window.start, rate.period);
    (now < end && window.count >= rate.jobs).then_some(end)
}

fn window_end(start: Timestamp, period: Duration) -> Timestamp {
    start + chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_and_without_a_count() {
        assert_eq!("100/m".parse(), Ok(RateLimit::per_minute(100)));
        assert_eq!("10/s".parse(), Ok(RateLimit::per_second(10)));
        assert_eq!("7/2h".parse(), Ok(RateLimit::new(7, Duration::from_secs(7200))));
        assert_eq!("3/250ms".parse(), Ok(RateLimit::new(3, Duration::from_millis(250))));
        for bad in ["", "100", "/m", "x/m", "10/", "10/3", "10/d", "0/m", "10/0s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rates_print_as_they_parse() {
        for text in ["100/1m", "10/1s", "7/2h", "3/250ms", "5/90s"] {
            assert_eq!(text.parse::<RateLimit>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn the_allowance_is_the_tightest_of_want_free_slots_and_the_window() {
        let now = chrono::Utc::now();
        let limits = QueueLimits::new().concurrency(5).rate(RateLimit::per_second(4));
        let open = RateWindow { start: now, count: 1 };
        assert_eq!(allowance(&limits, 0, Some(open), now, 10).jobs, 3);
        assert_eq!(allowance(&limits, 4, Some(open), now, 10).jobs, 1);
        assert_eq!(allowance(&limits, 9, Some(open), now, 10).jobs, 0, "over the limit");
        assert_eq!(allowance(&limits, 0, Some(open), now, 2).jobs, 2);
        let unlimited = allowance(&QueueLimits::new(), 100, None, now, 7);
        assert_eq!((unlimited.jobs, unlimited.window), (7, None));
    }

    #[test]
    fn a_window_counts_its_starts_and_a_new_one_opens_after_the_period() {
        let now = chrono::Utc::now();
        let limits = QueueLimits::new().rate(RateLimit::per_second(4));
        let first = allowance(&limits, 0, None, now, 3);
        assert_eq!(first.after(3), Some(RateWindow { start: now, count: 3 }));
        let second = allowance(&limits, 0, first.after(3), now + chrono::Duration::milliseconds(999), 3);
        assert_eq!(second.jobs, 1);
        let third = allowance(&limits, 0, second.after(1), now + chrono::Duration::seconds(1), 3);
        assert_eq!(third.jobs, 3);
        assert_eq!(third.window.map(|w| w.count), Some(0));
    }

    #[test]
    fn zero_limits_are_rejected() {
        assert_eq!(
            QueueLimits::new().concurrency(0).validate(),
            Err(LimitError::ZeroConcurrency)
        );
        assert_eq!(
            QueueLimits::new().rate(RateLimit::per_minute(0)).validate(),
            Err(LimitError::ZeroRate)
        );
        assert!(QueueLimits::new().concurrency(1).validate().is_ok());
    }
}
