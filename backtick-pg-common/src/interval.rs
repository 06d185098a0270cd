//! Durations as the statements bind them.

use std::time::Duration;

/// `d` in whole microseconds, the unit of every interval the statements of [`crate::sql`]
/// take (`$n::int8 * interval '1 microsecond'`). Saturates at `i64::MAX`: Postgres then
/// rejects the out-of-range interval with a clear error.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// assert_eq!(backtick_pg_common::micros(Duration::from_millis(3)), 3_000);
/// assert_eq!(backtick_pg_common::micros(Duration::MAX), i64::MAX);
/// ```
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
