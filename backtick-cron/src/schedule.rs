//! [`CronSchedule`]: a parsed spec in a time zone, and its next fire time.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, Weekday};

use crate::error::CronError;
use crate::syntax::normalize;
use crate::zone::{Walk, validate_timezone};

/// A cron spec in backtick's dialect, bound to an IANA time zone (UTC by default).
///
/// Parse once, then ask for [`next_after`](Self::next_after) as often as needed. The dialect is
/// described in the crate docs; two schedules are equal when their spec text and zone are.
///
/// # Examples
///
/// ```
/// use backtick_cron::CronSchedule;
/// use chrono::{TimeZone, Utc};
///
/// // 09:30:00 London time on weekdays.
/// let schedule = CronSchedule::parse_in("0 30 9 * * MON-FRI", "Europe/London")?;
/// let friday_evening = Utc.with_ymd_and_hms(2024, 7, 5, 18, 0, 0).unwrap();
/// // Monday 8 July, 09:30 BST is 08:30 UTC.
/// assert_eq!(schedule.next_after(friday_evening), Some(Utc.with_ymd_and_hms(2024, 7, 8, 8, 30, 0).unwrap()));
/// assert_eq!(schedule.to_string(), "0 30 9 * * MON-FRI (Europe/London)");
/// # Ok::<(), backtick_cron::CronError>(())
/// ```
#[derive(Clone)]
pub struct CronSchedule {
    spec: String,
    tz: Tz,
    /// croner patterns; the schedule fires when any matches (usually there is one).
    patterns: Vec<Cron>,
    wall_clock_hours: bool,
    can_fire: bool,
}

impl CronSchedule {
    /// Parses a spec that runs in UTC.
    ///
    /// # Errors
    ///
    /// A [`CronError`] naming the field, the offending text and what the field allows, with the
    /// text's byte range in `spec`.
    ///
    /// # Examples
    ///
    /// ```
    /// use backtick_cron::CronSchedule;
    ///
    /// assert!(CronSchedule::parse("0 */15 * * * *").is_ok());
    /// assert!(CronSchedule::parse("*/15 * * * *").is_err()); // five fields: no seconds
    /// ```
    pub fn parse(spec: &str) -> Result<Self, CronError> {
        Self::parse_in_tz(spec, Tz::UTC)
    }

    /// Parses a spec that runs in the IANA time zone `tz` (`"America/New_York"`, say).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse), and [`CronError::UnknownTimeZone`] when `tz` is not a zone name.
    ///
    /// # Examples
    ///
    /// ```
    /// use backtick_cron::CronSchedule;
    ///
    /// let schedule = CronSchedule::parse_in("@daily", "Asia/Tokyo")?;
    /// assert_eq!(schedule.timezone(), chrono_tz::Asia::Tokyo);
    /// assert!(CronSchedule::parse_in("@daily", "Mars/Olympus_Mons").is_err());
    /// # Ok::<(), backtick_cron::CronError>(())
    /// ```
    pub fn parse_in(spec: &str, tz: &str) -> Result<Self, CronError> {
        Self::parse_in_tz(spec, validate_timezone(tz)?)
    }

    /// Parses a spec that runs in an already looked-up time zone.
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub fn parse_in_tz(spec: &str, tz: Tz) -> Result<Self, CronError> {
        let normalized = normalize(spec)?;
        let parser = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .build();
        let patterns = normalized
            .patterns
            .iter()
            .map(|pattern| parser.parse(pattern))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CronError::Engine {
                message: e.to_string(),
                span: 0..spec.len(),
            })?;
        let can_fire = can_ever_fire(&patterns);
        Ok(CronSchedule {
            spec: spec.trim().to_string(),
            tz,
            patterns,
            wall_clock_hours: !normalized.hour_follows_real_time,
            can_fire,
        })
    }

    /// The next fire time strictly after `after`, or `None` if the spec can never fire (such as
    /// `0 0 0 30 2 *`) or the next one lies past the year 5000.
    ///
    /// Fire times are whole seconds. Across DST changes:
    /// - a wall time the clocks skip fires once, at the instant of the jump; but when the hour
    ///   field is `*` or a step, skipped times do not fire at all;
    /// - a wall time that happens twice fires at its first occurrence; but when the hour field is
    ///   `*` or a step, it fires at both.
    ///
    /// # Examples
    ///
    /// ```
    /// use backtick_cron::CronSchedule;
    /// use chrono::{TimeZone, Utc};
    ///
    /// let at_half_two = CronSchedule::parse_in("0 30 2 * * *", "America/New_York")?;
    /// // 2024-03-10 02:30 does not exist in New York: it fires as the clocks jump, 03:00 EDT.
    /// let before = Utc.with_ymd_and_hms(2024, 3, 10, 0, 0, 0).unwrap();
    /// assert_eq!(at_half_two.next_after(before), Some(Utc.with_ymd_and_hms(2024, 3, 10, 7, 0, 0).unwrap()));
    /// # Ok::<(), backtick_cron::CronError>(())
    /// ```
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.can_fire {
            return None;
        }
        let walk = Walk {
            patterns: &self.patterns,
            tz: self.tz,
            wall_clock_hours: self.wall_clock_hours,
        };
        // croner's calendar starts at the year 1; an earlier start would only be walked up to it.
        let next = walk.next_after(after.timestamp().max(YEAR_ONE - 1))?;
        DateTime::from_timestamp(next, 0)
    }

    /// The spec as written, without surrounding whitespace.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The time zone the spec's wall times are in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }
}

/// 0001-01-01T00:00:00Z as a Unix timestamp.
const YEAR_ONE: i64 = -62_135_596_800;

/// Whether any day matches: the calendar repeats every 400 years, so one cycle decides. This
/// spares croner a search to its year-5000 limit on every call for specs like `0 0 0 30 2 *`.
fn can_ever_fire(patterns: &[Cron]) -> bool {
    (2000..2400).any(|year| {
        (1..=12u32).any(|month| {
            let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
                return false;
            };
            patterns
                .iter()
                .filter(|p| p.pattern.month_match(month).unwrap_or(false))
                .any(|p| {
                    first.iter_days().take_while(|date| date.month() == month).any(|date| {
                        let weekday = Weekday::from_days_from_sunday(date.weekday().num_days_from_sunday());
                        p.pattern.day_match(year, month, date.day(), weekday).unwrap_or(false)
                    })
                })
        })
    })
}

impl fmt::Display for CronSchedule {
    /// The spec, followed by the zone in parentheses unless it is UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tz == Tz::UTC {
            f.write_str(&self.spec)
        } else {
            write!(f, "{} ({})", self.spec, self.tz.name())
        }
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSchedule")
            .field("spec", &self.spec)
            .field("timezone", &self.tz.name())
            .finish()
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec && self.tz == other.tz
    }
}

impl Eq for CronSchedule {}

// Schedules are shared between the runner's tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CronSchedule>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_compare_by_spec_and_zone() {
        let a = CronSchedule::parse(" @daily ").expect("valid");
        assert_eq!(a, CronSchedule::parse("@daily").expect("valid"));
        assert_ne!(a, CronSchedule::parse_in("@daily", "Europe/London").expect("valid"));
        assert_eq!(a.spec(), "@daily");
        assert_eq!(format!("{a:?}"), r#"CronSchedule { spec: "@daily", timezone: "UTC" }"#);
    }

    #[test]
    fn the_ends_of_time_give_none_rather_than_a_panic() {
        let every_second = CronSchedule::parse_in("* * * * * *", "America/New_York").expect("valid");
        assert_eq!(every_second.next_after(DateTime::<Utc>::MAX_UTC), None);
        // croner searches no further than the end of the year 5000.
        let late = DateTime::from_timestamp(95_649_206_400, 0).expect("5001-01-02 exists");
        assert_eq!(every_second.next_after(late), None);
        let first = every_second
            .next_after(DateTime::<Utc>::MIN_UTC)
            .expect("fires in the year 1");
        assert_eq!(first.year(), 1);
    }

    #[test]
    fn a_spec_for_a_day_that_never_exists_cannot_fire() {
        let never = CronSchedule::parse("0 0 0 31 4,6,9,11 *").expect("valid");
        assert!(!never.can_fire);
        let leap = CronSchedule::parse("0 0 0 29 2 *").expect("valid");
        assert!(leap.can_fire);
    }
}
