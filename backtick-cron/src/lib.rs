//! Backtick's cron dialect: parse a spec, check a time zone, compute the next fire time.
//!
//! Both `backtick-core` (at run time) and `backtick-macros` (at compile time, to reject a bad
//! spec with an error pointing into the string literal) use this crate, so it depends on neither.
//!
//! # The dialect
//!
//! Exactly six fields, `SEC MIN HOUR DOM MONTH DOW`, separated by whitespace, or one macro.
//!
//! | field        | values                                   | extra forms                 |
//! |--------------|------------------------------------------|-----------------------------|
//! | second       | 0-59                                     |                             |
//! | minute       | 0-59                                     |                             |
//! | hour         | 0-23                                     |                             |
//! | day-of-month | 1-31                                     | `L`, `W`, `nW`, `LW`        |
//! | month        | 1-12, `JAN`-`DEC`                        |                             |
//! | day-of-week  | 0-7, `SUN`-`SAT` (0 and 7 are Sunday)    | `W`, `nL`, `n#k` (k 1-5)    |
//!
//! Every field takes `*`, `a`, `a-b`, `*/s`, `a-b/s`, `a/s` (a, a+s, ... up to the field's end,
//! 6 in day-of-week) and comma lists of these. Names (three letters), `L`, `W` and macros are
//! case-insensitive; names are only valid in their own field. A Sunday *name* ending a range is 7,
//! so `SAT-SUN` is the weekend. Day-of-month `W` and day-of-week `W` mean Monday-Friday; `nW` is
//! the weekday nearest day n without leaving the month (a month without day n has no match);
//! `LW` is the last weekday; `nL` is the last weekday-n of the month (`5L`: last Friday).
//! Macros: `@yearly`/`@annually`, `@monthly`, `@weekly` (Sunday), `@daily`/`@midnight`, `@hourly`.
//!
//! When day-of-month and day-of-week are both restricted (neither is literally `*`), a day
//! matches if either does. Steps must be 1 up to the field's largest value.
//!
//! # Time zones and DST
//!
//! Wall times are read in an IANA zone, UTC by default. A wall time the clocks skip fires once,
//! at the instant of the jump (several skipped matches fire once); a wall time that happens twice
//! fires at its first occurrence. When the *hour* field is `*` or contains a step, the spec
//! follows real time instead: skipped times never fire and repeated times fire twice (an hourly
//! job runs at 01:00 EDT and at 01:00 EST). An hour list containing `*` or a step counts as such.
//!
//! # Implementation
//!
//! Matching is croner's (`croner` 4, with `Seconds::Required`, `Year::Disallowed` and
//! `sloppy_ranges(true)` for `a/s`); around it sit a validation pass and a normaliser
//! (`syntax.rs`), and a DST walk (`zone.rs`). Where croner disagrees with the dialect:
//!
//! - **Errors**: croner's messages name no field and no position, and it accepts things the
//!   dialect rejects (names in any field, as it substitutes them in the whole string; empty list
//!   elements; `?`; a `+` prefix; bare `L` in day-of-week, which it silently ignores). Every
//!   element is therefore validated first, and croner is given canonical numbers only.
//! - **`@midnight` and bare `W`** are unknown to croner: macros are expanded here, a bare
//!   day-of-week `W` becomes `1-5`, and a bare day-of-month `W` moves to day-of-week as `1-5`
//!   (the either-field rule makes this the same set of days; an emptied day-of-month becomes `*`).
//! - **`a/s` in day-of-week** runs to 7 in croner, so `1/2` would include Sunday: it is written
//!   out as `a-6/s`.
//! - **`L` with `LW`** in one day-of-month list reads as `LW` alone in croner: such a spec
//!   becomes two croner patterns whose fire times are merged.
//! - **DST**: croner's "fixed-time job" (second, minute and hour all single values) is not the
//!   dialect's rule (only the hour field decides), and its gap handling re-checks the date after
//!   the gap. So croner only ever searches the wall clock (on `NaiveDateTime`, where it applies
//!   no DST logic), and `zone.rs` maps matches to instants one stretch of constant UTC offset at a
//!   time, with `chrono-tz` telling the offsets.
//! - **Specs that never fire**: croner searches to the year 5000 before giving up; the 400-year
//!   calendar cycle is checked once at parse time instead, so `next_after` returns `None` at once.
//!
//! # Examples
//!
//! ```
//! use backtick_cron::{CronSchedule, Field};
//! use chrono::{TimeZone, Utc};
//!
//! let last_friday = CronSchedule::parse("0 0 18 * * 5L")?;
//! let start = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
//! assert_eq!(last_friday.next_after(start), Some(Utc.with_ymd_and_hms(2024, 5, 31, 18, 0, 0).unwrap()));
//!
//! let err = CronSchedule::parse("0 0 18 * * 8L").unwrap_err();
//! assert_eq!(err.field(), Some(Field::DayOfWeek));
//! assert_eq!(err.span(), Some(11..13));
//! # Ok::<(), backtick_cron::CronError>(())
//! ```

mod error;
mod schedule;
mod syntax;
mod zone;

pub use chrono_tz::Tz;
pub use error::{CronError, Field};
pub use schedule::CronSchedule;
pub use zone::validate_timezone;
