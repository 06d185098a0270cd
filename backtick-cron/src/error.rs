//! Errors for a cron spec or a time zone that backtick does not accept.

use std::fmt;
use std::ops::Range;

/// One of the six fields of a cron spec, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The first field, 0-59.
    Second,
    /// The second field, 0-59.
    Minute,
    /// The third field, 0-23.
    Hour,
    /// The fourth field, 1-31, with `L`, `W`, `nW` and `LW`.
    DayOfMonth,
    /// The fifth field, 1-12 or `JAN`-`DEC`.
    Month,
    /// The sixth field, 0-7 or `SUN`-`SAT`, with `W`, `nL` and `n#k`.
    DayOfWeek,
}

impl Field {
    /// The six fields in the order a spec lists them.
    pub const ALL: [Field; 6] = [
        Field::Second,
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    /// The field's name as error messages spell it (`day-of-month`, say).
    pub fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// What the field accepts, in words, for error messages.
    pub fn allowed(self) -> &'static str {
        match self {
            Field::Second => "0-59",
            Field::Minute => "0-59",
            Field::Hour => "0-23",
            Field::DayOfMonth => "1-31, `L` (last day), `W` (Monday-Friday), `nW` (weekday nearest day n), `LW`",
            Field::Month => "1-12 or JAN-DEC",
            Field::DayOfWeek => {
                "0-7 or SUN-SAT (0 and 7 are Sunday), `W` (Monday-Friday), `nL` (last weekday n of the month), \
                 `n#k` (k-th weekday n, k 1-5)"
            }
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a cron spec or a time zone name was rejected.
///
/// Spec errors carry `span`, the byte range of the offending text within the spec string as it
/// was passed in, so that `backtick-macros` can point at it inside the string literal.
///
/// # Examples
///
/// ```
/// use backtick_cron::{CronError, CronSchedule, Field};
///
/// let err = CronSchedule::parse("0 0 12 * FOO *").unwrap_err();
/// assert_eq!(err.field(), Some(Field::Month));
/// assert_eq!(err.span(), Some(9..12));
/// assert!(err.to_string().contains("month"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    /// The spec does not have exactly six fields and is not a lone macro.
    #[error(
        "cron spec has {found} field(s); expected exactly six (second minute hour day-of-month month \
         day-of-week) or one macro such as `@daily`{}",
        field_count_hint(*.found)
    )]
    FieldCount {
        /// How many whitespace-separated fields the spec has.
        found: usize,
        /// The whole spec, or the first field too many.
        span: Range<usize>,
    },
    /// A word starting with `@` that is not a known macro.
    #[error(
        "unknown cron macro `{text}`; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
    )]
    UnknownMacro {
        /// The macro as written.
        text: String,
        /// Where it is in the spec.
        span: Range<usize>,
    },
    /// One field, or one element of a field's list, is not valid.
    #[error("invalid {field} `{text}` in cron spec: {reason}; the {field} field takes {}, `*`, `a-b`, `*/s`, `a-b/s`, `a/s` and comma lists of these", .field.allowed())]
    InvalidField {
        /// The field the text is in.
        field: Field,
        /// The offending text: a list element, or the whole field.
        text: String,
        /// What is wrong with it.
        reason: String,
        /// Where the text is in the spec.
        span: Range<usize>,
    },
    /// The spec passed backtick's checks but croner, the matching engine, rejected it. This is a
    /// bug in backtick-cron: please report it with the spec.
    #[error(
        "cron spec was rejected by the matching engine: {message}; this is a bug in backtick-cron, please report it"
    )]
    Engine {
        /// croner's message.
        message: String,
        /// The whole spec.
        span: Range<usize>,
    },
    /// The time zone is not an IANA time zone name known to `chrono-tz`.
    #[error("unknown time zone `{name}`: {hint}")]
    UnknownTimeZone {
        /// The name as given.
        name: String,
        /// A suggestion for what to write instead.
        hint: String,
    },
}

impl CronError {
    /// The byte range of the offending text within the spec, or `None` for a time zone error.
    pub fn span(&self) -> Option<Range<usize>> {
        match self {
            CronError::FieldCount { span, .. }
            | CronError::UnknownMacro { span, .. }
            | CronError::InvalidField { span, .. }
            | CronError::Engine { span, .. } => Some(span.clone()),
            CronError::UnknownTimeZone { .. } => None,
        }
    }

    /// The field the error is in, when it is in one field.
    pub fn field(&self) -> Option<Field> {
        match self {
            CronError::InvalidField { field, .. } => Some(*field),
            _ => None,
        }
    }
}

fn field_count_hint(found: usize) -> &'static str {
    match found {
        5 => "; backtick needs a seconds field first: write `0 ` in front of a five-field crontab spec",
        7 => "; a year field is not supported",
        _ => "",
    }
}
