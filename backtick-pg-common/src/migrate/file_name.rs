//! Migration file names: `NNNN_name.up.sql` and `NNNN_name.down.sql`.
//!
//! Shared with `build.rs` (through `#[path]`), so it uses nothing but `std`.

use std::fmt;

/// Which way a migration script goes.
///
/// # Examples
/// ```
/// use backtick_pg_common::Direction;
/// assert_eq!(Direction::Up.to_string(), "up");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Applies the migration (`*.up.sql`).
    Up,
    /// Reverts the migration (`*.down.sql`).
    Down,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Up => "up",
            Direction::Down => "down",
        })
    }
}

/// A parsed migration file name; see [`parse_file_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileName<'a> {
    /// The number before the first underscore.
    pub version: i64,
    /// The part between the version and the direction.
    pub name: &'a str,
    /// `up` or `down`.
    pub direction: Direction,
}

/// A file in `migrations/` is not named `NNNN_name.{up,down}.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFileName(pub String);

impl fmt::Display for InvalidFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid migration file name: {}", self.0)
    }
}

impl std::error::Error for InvalidFileName {}

/// Parse `NNNN_name.up.sql` / `NNNN_name.down.sql`, as `build.rs` does for every file in
/// `migrations/` (tools that create migration files use it too). The version is one or more
/// ASCII digits (zero-padded to four by convention) and at least 1; the name is lowercase
/// ASCII letters, digits and underscores, so it can be written into bookkeeping SQL as a
/// literal.
///
/// # Errors
/// [`InvalidFileName`] saying what is wrong, with the file named.
///
/// # Examples
/// ```
/// use backtick_pg_common::{Direction, parse_file_name};
/// let parsed = parse_file_name("0003_add_tags.down.sql")?;
/// assert_eq!((parsed.version, parsed.name, parsed.direction), (3, "add_tags", Direction::Down));
/// assert!(parse_file_name("3-add-tags.sql").is_err());
/// # Ok::<(), backtick_pg_common::InvalidFileName>(())
/// ```
pub fn parse_file_name(file: &str) -> Result<FileName<'_>, InvalidFileName> {
    let (stem, direction) = if let Some(stem) = file.strip_suffix(".up.sql") {
        (stem, Direction::Up)
    } else if let Some(stem) = file.strip_suffix(".down.sql") {
        (stem, Direction::Down)
    } else {
        return Err(InvalidFileName(format!(
            "{file:?} does not end in .up.sql or .down.sql"
        )));
    };
    let Some((digits, name)) = stem.split_once('_') else {
        return Err(InvalidFileName(format!(
            "{file:?} is not named NNNN_name.{direction}.sql (no underscore after the version)"
        )));
    };
    let version = parse_version(file, digits)?;
    check_name(file, name)?;
    Ok(FileName {
        version,
        name,
        direction,
    })
}

fn parse_version(file: &str, digits: &str) -> Result<i64, InvalidFileName> {
    let invalid = |problem: &str| Err(InvalidFileName(format!("{file:?} {problem}")));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("must start with a version number such as 0001");
    }
    match digits.parse::<i64>() {
        Ok(version) if version >= 1 => Ok(version),
        Ok(_) => invalid("has version 0; versions start at 1"),
        Err(_) => invalid("has a version that does not fit in 64 bits"),
    }
}

/// True when `name` is a valid migration name: `[a-z0-9_]+`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_name(file: &str, name: &str) -> Result<(), InvalidFileName> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(InvalidFileName(format!(
            "{file:?} has name {name:?}; use only lowercase letters, digits and underscores"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_and_down_file_names_parse_into_version_name_and_direction() {
        assert_eq!(
            parse_file_name("0001_jobs.up.sql"),
            Ok(FileName {
                version: 1,
                name: "jobs",
                direction: Direction::Up
            })
        );
        assert_eq!(
            parse_file_name("0012_add_widget_2.down.sql"),
            Ok(FileName {
                version: 12,
                name: "add_widget_2",
                direction: Direction::Down
            })
        );
    }

    #[test]
    fn malformed_file_names_are_rejected_with_the_file_named() {
        for bad in [
            "0001_jobs.sql",
            "0001jobs.up.sql",
            "_jobs.up.sql",
            "00a1_jobs.up.sql",
            "0000_jobs.up.sql",
            "0001_.up.sql",
            "0001_Jobs.up.sql",
            "0001_jobs-x.up.sql",
            "99999999999999999999_jobs.up.sql",
        ] {
            let err = parse_file_name(bad).expect_err(bad);
            assert!(err.0.contains(bad), "{err}");
        }
    }

    #[test]
    fn only_lowercase_letters_digits_and_underscores_are_valid_names() {
        assert!(is_valid_name("jobs_2"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("jobs'; DROP"));
    }
}
