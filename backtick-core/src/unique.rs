//! Unique jobs: at most one job per key, optionally per period of due time, optionally only
//! while the holder is in chosen states. The key is computed here; the store enforces it with a
//! database constraint (a unique partial index over the key, restricted to the rows whose state
//! is one of their own `unique_states`), so concurrent enqueuers cannot both insert.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::codec::{Codec, EncodeError};
use crate::job::{JobState, Timestamp};

/// What makes a job unique: its worker, plus its arguments, a chosen value, or a key of yours;
/// optionally within a period of its due time; optionally only while the job holding it is in
/// chosen states. Apply it with [`crate::NewJob::unique`] or [`crate::TypedJob::unique`], or
/// `#[worker(unique(args, period = "1h", states = [queued, running]))]`.
///
/// | option | default | meaning |
/// |---|---|---|
/// | by | the worker | [`Unique::by_worker`], [`Unique::by_args`] (worker + every argument), [`Unique::by_value`] (worker + a value you pick, e.g. some of the arguments), [`Unique::by_key`] (a key of yours) |
/// | [`period`](Unique::period) | none: for ever | one job per period of the job's due time (`run_at`), buckets aligned to the Unix epoch |
/// | [`states`](Unique::states) | every state | the key is held only while the holder is in one of these states; must include `queued` and `running` |
///
/// A duplicate is not inserted: the enqueue returns the holder's id, and
/// [`crate::QueueStore::enqueue_reporting`] says it was a duplicate.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::{JobState, NewJob, Unique};
/// let job = NewJob::new("send_digest", &(42_u64,))?.unique(
///     Unique::by_args()
///         .period(Duration::from_secs(3600))
///         .states([JobState::Queued, JobState::Running]),
/// );
/// assert!(job.unique_key.as_deref().unwrap().starts_with("send_digest:args:"));
/// assert_eq!(job.unique_period, Some(Duration::from_secs(3600)));
/// # Ok::<(), backtick_postgres::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unique {
    by: UniqueBy,
    period: Option<Duration>,
    states: Option<Vec<JobState>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum UniqueBy {
    Worker,
    Args,
    Value(String),
    Key(String),
}

impl Unique {
    /// One job per worker, whatever its arguments.
    pub fn by_worker() -> Self {
        Unique {
            by: UniqueBy::Worker,
            period: None,
            states: None,
        }
    }

    /// One job per worker and arguments (their encoding: the same values with the same codec).
    pub fn by_args() -> Self {
        Unique {
            by: UniqueBy::Args,
            ..Self::by_worker()
        }
    }

    /// One job per worker and `value`, typically some of the arguments: `&(user_id,)`.
    ///
    /// # Errors
    /// [`EncodeError`] when `value` cannot be serialized (as CBOR).
    pub fn by_value<T: Serialize + ?Sized>(value: &T) -> Result<Self, EncodeError> {
        let bytes = Codec::Cbor.encode(value)?;
        Ok(Unique {
            by: UniqueBy::Value(digest(b"value", &bytes)),
            ..Self::by_worker()
        })
    }

    /// One job per `key`, as [`crate::NewJob::unique_key`], with a period or states added.
    pub fn by_key(key: impl Into<String>) -> Self {
        Unique {
            by: UniqueBy::Key(key.into()),
            ..Self::by_worker()
        }
    }

    /// One job per `period` of the job's due time: buckets of this length from the Unix epoch
    /// (`"1h"` means one per clock hour, UTC). The store appends the bucket's start to the key.
    pub fn period(mut self, period: Duration) -> Self {
        self.period = Some(period);
        self
    }

    /// Hold the key only while the job holding it is in one of `states`; a job in any other
    /// state (finished, say) does not block a new one. Must include `queued` and `running`
    /// (a job moves between them by itself; see [`crate::InvalidJob::UniqueStates`]).
    pub fn states(mut self, states: impl IntoIterator<Item = JobState>) -> Self {
        let mut states: Vec<JobState> = states.into_iter().collect();
        states.sort();
        states.dedup();
        self.states = Some(states);
        self
    }

    /// The key for a job of `worker` with encoded `args`, before any period bucket.
    pub(crate) fn key(&self, worker: &str, codec: Codec, args: &[u8]) -> String {
        match &self.by {
            UniqueBy::Worker => worker.to_owned(),
            UniqueBy::Args => format!("{worker}:args:{}", digest(codec.as_str().as_bytes(), args)),
            UniqueBy::Value(hash) => format!("{worker}:value:{hash}"),
            UniqueBy::Key(key) => key.clone(),
        }
    }

    /// The period, if any.
    pub(crate) fn period_value(&self) -> Option<Duration> {
        self.period
    }

    /// The states, if any.
    pub(crate) fn states_value(&self) -> Option<Vec<JobState>> {
        self.states.clone()
    }
}

/// SHA-256 of `tag` and `bytes`, as lowercase hex.
fn digest(tag: &[u8], bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update((tag.len() as u64).to_be_bytes());
    hasher.update(tag);
    hasher.update(bytes);
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The key a job with base key `key`, due at `run_at`, holds when unique per `period`: the key,
/// `@`, and the bucket's start in microseconds since the Unix epoch. What the stores compute (in
/// SQL for the Postgres ones, from the due time they resolve).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::unique_period_key;
/// let at = "2030-01-01T10:59:59Z".parse().unwrap();
/// assert_eq!(unique_period_key("k", at, Duration::from_secs(3600)), "k@1893492000000000");
/// ```
pub fn unique_period_key(key: &str, run_at: Timestamp, period: Duration) -> String {
    let period_us = period_micros(period);
    let bucket = run_at.timestamp_micros().div_euclid(period_us) * period_us;
    format!("{key}@{bucket}")
}

/// `period` in whole microseconds, at least 1 and at most `i64::MAX`.
pub fn period_micros(period: Duration) -> i64 {
    i64::try_from(period.as_micros()).unwrap_or(i64::MAX).max(1)
}

/// Whether a job in `state` holds its key under `states` (`None`: every state).
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobState, unique_holds};
/// let scoped = [JobState::Queued, JobState::Running];
/// assert!(unique_holds(Some(&scoped[..]), JobState::Running));
/// assert!(!unique_holds(Some(&scoped[..]), JobState::Done));
/// assert!(unique_holds(None, JobState::Done));
/// ```
pub fn unique_holds(states: Option<&[JobState]>, state: JobState) -> bool {
    states.is_none_or(|states| states.contains(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_what_was_chosen() {
        let args = Codec::Cbor.encode(&(1, "a")).unwrap();
        let other = Codec::Cbor.encode(&(2, "a")).unwrap();
        assert_eq!(Unique::by_worker().key("w", Codec::Cbor, &args), "w");
        let by_args = Unique::by_args();
        assert_ne!(
            by_args.key("w", Codec::Cbor, &args),
            by_args.key("w", Codec::Cbor, &other)
        );
        assert_ne!(
            by_args.key("w", Codec::Cbor, &args),
            by_args.key("v", Codec::Cbor, &args)
        );
        let first = Unique::by_value(&("a",)).unwrap();
        assert_eq!(first.key("w", Codec::Cbor, &args), first.key("w", Codec::Cbor, &other));
        assert_eq!(Unique::by_key("mine").key("w", Codec::Cbor, &args), "mine");
    }

    #[test]
    fn period_buckets_start_on_multiples_of_the_period() {
        let hour = Duration::from_secs(3600);
        let a: Timestamp = "2030-01-01T10:00:00Z".parse().unwrap();
        let b: Timestamp = "2030-01-01T10:59:59.999999Z".parse().unwrap();
        let c: Timestamp = "2030-01-01T11:00:00Z".parse().unwrap();
        assert_eq!(unique_period_key("k", a, hour), unique_period_key("k", b, hour));
        assert_ne!(unique_period_key("k", b, hour), unique_period_key("k", c, hour));
        let before_epoch: Timestamp = "1969-12-31T23:59:59Z".parse().unwrap();
        assert_eq!(unique_period_key("k", before_epoch, hour), "k@-3600000000");
    }

    #[test]
    fn states_are_sorted_and_deduplicated() {
        let unique = Unique::by_worker().states([JobState::Running, JobState::Queued, JobState::Running]);
        assert_eq!(unique.states_value(), Some(vec![JobState::Queued, JobState::Running]));
    }
}
