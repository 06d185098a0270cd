//! Time zone names, and the walk from wall-clock matches to real instants across DST changes.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use croner::Cron;

use crate::error::CronError;

/// Looks up an IANA time zone name (`Europe/London`, `America/New_York`, `UTC`).
///
/// Names are case-sensitive, as in the tz database. Use this to check a zone once, up front,
/// for example in configuration or in `backtick-macros` at compile time.
///
/// # Errors
///
/// [`CronError::UnknownTimeZone`] naming the zone, with a hint: the correctly spelled name when
/// only case or spaces differ, otherwise an example of a valid name.
///
/// # Examples
///
/// ```
/// use backtick_cron::validate_timezone;
///
/// assert_eq!(validate_timezone("Europe/London").unwrap(), chrono_tz::Europe::London);
/// let err = validate_timezone("europe/london").unwrap_err();
/// assert!(err.to_string().contains("did you mean `Europe/London`?"));
/// ```
pub fn validate_timezone(name: &str) -> Result<Tz, CronError> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    let wanted = loose(name);
    let close = chrono_tz::TZ_VARIANTS.iter().find(|tz| {
        let known = loose(tz.name());
        known == wanted || known.rsplit('/').next() == Some(wanted.as_str())
    });
    let hint = match close {
        Some(tz) => format!("did you mean `{}`? zone names are case-sensitive IANA names", tz.name()),
        None => "use an IANA time zone name such as `UTC`, `Europe/London` or `America/New_York`".to_string(),
    };
    Err(CronError::UnknownTimeZone {
        name: name.to_string(),
        hint,
    })
}

/// A name folded for "did you mean": lowercase, with spaces as underscores.
fn loose(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(' ', "_")
}

/// How far apart offset probes are. Two changes of a zone's UTC offset are assumed never to fall
/// within one probe of each other (real ones are weeks or months apart).
const PROBE_SECONDS: i64 = 86_400;

/// Bounds the walk; each round passes at least one change of offset, so this covers far more
/// than croner's search horizon (year 5000) of any real zone.
const MAX_ROUNDS: usize = 50_000;

/// Finds fire instants for wall-clock patterns in one zone, with the dialect's DST rules.
///
/// Instants are Unix seconds. croner searches the wall clock alone (on `NaiveDateTime`, where it
/// applies no DST rules); this walk maps each match to real time one stretch of constant UTC
/// offset at a time.
pub(crate) struct Walk<'a> {
    pub(crate) patterns: &'a [Cron],
    pub(crate) tz: Tz,
    /// The hour field is not `*` or a step: a repeated wall time fires only the first time, and
    /// missing wall times fire at the jump. Otherwise real time is followed.
    pub(crate) wall_clock_hours: bool,
}

impl Walk<'_> {
    /// The first fire instant strictly after `after`.
    pub(crate) fn next_after(&self, after: i64) -> Option<i64> {
        let mut last = after;
        // A jump forward right at `after + 1` is not seen by the rounds below.
        if self.wall_clock_hours && self.gap_fires(last, last + 1)? {
            return Some(last + 1);
        }
        for _ in 0..MAX_ROUNDS {
            let first = last.checked_add(1)?;
            let offset = self.offset(first)?;
            let wall = self.next_wall(first.checked_add(offset)?)?;
            let instant = wall.and_utc().timestamp().checked_sub(offset)?;
            match self.change_between(first, instant) {
                None if self.wall_clock_hours => match self.end_of_repeat(wall, instant) {
                    Some(end) => last = end - 1,
                    None => return Some(instant),
                },
                None => return Some(instant),
                Some(change) => {
                    if self.wall_clock_hours && self.gap_fires(change - 1, change)? {
                        return Some(change);
                    }
                    last = change - 1;
                }
            }
        }
        None
    }

    /// The first wall time at or after `from` that any pattern matches.
    fn next_wall(&self, from: i64) -> Option<NaiveDateTime> {
        let from = DateTime::from_timestamp(from, 0)?.naive_utc();
        self.patterns
            .iter()
            .filter_map(|p| p.find_next_occurrence(&from, true).ok())
            .min()
    }

    /// The zone's UTC offset (local minus UTC) at an instant, in seconds.
    fn offset(&self, instant: i64) -> Option<i64> {
        let utc = DateTime::from_timestamp(instant, 0)?.naive_utc();
        Some(self.tz.offset_from_utc_datetime(&utc).fix().local_minus_utc().into())
    }

    /// The first instant in `(from, until]` whose offset differs from the offset at `from`.
    fn change_between(&self, from: i64, until: i64) -> Option<i64> {
        let offset = self.offset(from)?;
        let mut low = from;
        while low < until {
            let high = low.saturating_add(PROBE_SECONDS).min(until);
            if self.offset(high)? != offset {
                return self.bisect(low, high, offset);
            }
            low = high;
        }
        None
    }

    /// Given `offset` at `same` and another offset at `changed`, the first instant of the other.
    fn bisect(&self, mut same: i64, mut changed: i64, offset: i64) -> Option<i64> {
        while changed - same > 1 {
            let middle = same + (changed - same) / 2;
            if self.offset(middle)? == offset {
                same = middle;
            } else {
                changed = middle;
            }
        }
        Some(changed)
    }

    /// Whether the clocks jump forward between `before` and `at` (one second apart) over a wall
    /// time that matches: those missing times all fire once, at `at`.
    fn gap_fires(&self, before: i64, at: i64) -> Option<bool> {
        let (old, new) = (self.offset(before)?, self.offset(at)?);
        if new <= old {
            return Some(false);
        }
        let first_missing = self.next_wall(at.checked_add(old)?)?;
        Some(first_missing.and_utc().timestamp() < at.checked_add(new)?)
    }

    /// When `instant` is the second occurrence of a repeated `wall` time, the instant at which
    /// the repeated range ends (wall times from there on are new).
    fn end_of_repeat(&self, wall: NaiveDateTime, instant: i64) -> Option<i64> {
        let LocalResult::Ambiguous(earlier, later) = self.tz.from_local_datetime(&wall) else {
            return None;
        };
        let (earlier, later) = (earlier.timestamp(), later.timestamp());
        if later != instant {
            return None;
        }
        let change = self.change_between(earlier, later)?;
        // Wall times before `change + old offset` were already seen before the change.
        Some(change + self.offset(earlier)? - self.offset(later)?)
    }
}
