//! Cron schedules: wall-clock times in an IANA time zone, in backtick's cron dialect.

use backtick_cron::CronSchedule;

use crate::error::ConfigError;
use crate::job::Timestamp;
use crate::schedule::Scheduler;

/// Fires at the wall-clock times a cron spec names, in a time zone (UTC by default).
///
/// The dialect (six fields, seconds first, as the original backtick) is documented in the
/// `backtick-cron` crate and in `CRON.md`; `#[cron("...")]` checks the spec at compile time.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::schedule::{Cron, Scheduler};
/// let twice_in_the_afternoon = Cron::parse("0 0 14,16 * * *")?;
/// let t = "2026-01-01T14:30:00Z".parse().unwrap();
/// assert_eq!(twice_in_the_afternoon.next_after(t).unwrap().to_rfc3339(), "2026-01-01T16:00:00+00:00");
/// assert_eq!(twice_in_the_afternoon.spec_text(), "cron 0 0 14,16 * * * UTC");
///
/// let in_la = Cron::parse_in("0 0 9 * * MON-FRI", "America/Los_Angeles")?;
/// assert_eq!(in_la.spec_text(), "cron 0 0 9 * * MON-FRI America/Los_Angeles");
/// # Ok::<(), backtick_postgres::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    schedule: CronSchedule,
}

impl Cron {
    /// A schedule for `spec`, in UTC.
    ///
    /// # Errors
    /// [`ConfigError`] (option `cron`) naming the field and text that are wrong.
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        Self::parse_in(spec, "UTC")
    }

    /// A schedule for `spec` in the IANA time zone `tz` (`"America/Los_Angeles"`, say).
    ///
    /// # Errors
    /// [`ConfigError`] (option `cron`) when the spec or the zone is not valid.
    pub fn parse_in(spec: &str, tz: &str) -> Result<Self, ConfigError> {
        CronSchedule::parse_in(spec, tz)
            .map(|schedule| Cron { schedule })
            .map_err(|e| ConfigError::new("cron", format!("{spec:?} in {tz} is not valid: {e}")))
    }

    /// The parsed schedule.
    pub fn schedule(&self) -> &CronSchedule {
        &self.schedule
    }

    /// The canonical text of this schedule for [`crate::schedule::Periodic::spec`]:
    /// `cron <fields separated by one space> <zone>`.
    pub fn spec_text(&self) -> String {
        let fields: Vec<&str> = self.schedule.spec().split_whitespace().collect();
        format!("cron {} {}", fields.join(" "), self.schedule.timezone().name())
    }
}

impl Scheduler for Cron {
    fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.schedule.next_after(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_spec_is_a_config_error_naming_the_field() {
        let err = Cron::parse("0 0 25 * * *").unwrap_err();
        assert_eq!(err.option, "cron");
        assert!(err.problem.contains("hour"), "{err}");
    }

    #[test]
    fn an_unknown_zone_is_a_config_error() {
        let err = Cron::parse_in("@daily", "Mars/Olympus_Mons").unwrap_err();
        assert!(err.problem.contains("Mars/Olympus_Mons"), "{err}");
    }

    #[test]
    fn the_spec_text_collapses_whitespace_and_names_the_zone() {
        let cron = Cron::parse_in("  0 0  14,16 * * *  ", "Europe/London").unwrap();
        assert_eq!(cron.spec_text(), "cron 0 0 14,16 * * * Europe/London");
    }

    #[test]
    fn next_after_follows_the_zone() {
        let cron = Cron::parse_in("0 0 9 * * *", "America/New_York").unwrap();
        let t: Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        assert_eq!(cron.next_after(t), Some("2026-07-01T13:00:00Z".parse().unwrap()));
    }
}
