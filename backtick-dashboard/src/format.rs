//! How times, durations and errors are written on the pages.

use std::time::Duration;

use backtick_core::Timestamp;

/// A point in time as the pages show it: relative to now, with the exact UTC time beside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct When {
    /// `3m ago`, `in 2h`, `now`.
    pub(crate) relative: String,
    /// RFC 3339, UTC, to the second.
    pub(crate) exact: String,
}

impl When {
    pub(crate) fn new(at: Timestamp, now: Timestamp) -> Self {
        let delta = at - now;
        let relative = match delta.to_std() {
            Ok(ahead) if ahead >= Duration::from_secs(1) => format!("in {}", short(ahead)),
            Ok(_) => "now".to_owned(),
            Err(_) => match (now - at).to_std() {
                Ok(ago) if ago >= Duration::from_secs(1) => format!("{} ago", short(ago)),
                _ => "now".to_owned(),
            },
        };
        When {
            relative,
            exact: at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }
    }

    pub(crate) fn maybe(at: Option<Timestamp>, now: Timestamp) -> Option<Self> {
        at.map(|at| When::new(at, now))
    }
}

/// A duration in its largest unit and the next: `45s`, `3m 20s`, `2h 5m`, `4d 1h`.
pub(crate) fn short(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (days, hours, mins, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) if s == 0 => format!("{m}m"),
        (0, 0, m) => format!("{m}m {s}s"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The first line of `error`, cut to `limit` characters (with `…` when cut).
pub(crate) fn first_line(error: &str, limit: usize) -> String {
    let line = error.lines().next().unwrap_or("").trim();
    if line.chars().count() <= limit {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(limit).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_their_two_largest_units() {
        assert_eq!(short(Duration::from_secs(45)), "45s");
        assert_eq!(short(Duration::from_secs(200)), "3m 20s");
        assert_eq!(short(Duration::from_secs(7_500)), "2h 5m");
        assert_eq!(short(Duration::from_secs(90_000)), "1d 1h");
    }

    #[test]
    fn times_are_relative_to_now() {
        let now = chrono::Utc::now();
        assert_eq!(
            When::new(now - chrono::Duration::seconds(90), now).relative,
            "1m 30s ago"
        );
        assert_eq!(When::new(now + chrono::Duration::hours(2), now).relative, "in 2h");
        assert_eq!(When::new(now, now).relative, "now");
    }

    #[test]
    fn first_line_cuts_long_errors() {
        assert_eq!(first_line("boom\nat line 3", 80), "boom");
        assert_eq!(first_line("abcdef", 3), "abc…");
    }
}
