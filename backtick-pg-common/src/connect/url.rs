//! Where the database url comes from, and the driver-neutral checks of it.

use crate::connect::{ConnectError, redact_url};

/// The environment variable a store's `from_env` reads first.
pub const URL_VAR: &str = "BT_DATABASE_URL";

/// The environment variable read when [`URL_VAR`] is unset.
pub const FALLBACK_URL_VAR: &str = "DATABASE_URL";

/// The url from [`URL_VAR`], else [`FALLBACK_URL_VAR`], and the variable it came from: what a
/// store's `from_env` connects to.
///
/// # Errors
/// [`ConnectError::MissingUrl`], naming both variables, when neither is set.
pub fn url_from_env() -> Result<(&'static str, String), ConnectError> {
    url_from(|name| std::env::var(name).ok())
}

/// [`url_from_env`] with the variables read through `lookup` (a variable's value, `None`
/// when unset). Empty values count as unset.
///
/// # Errors
/// [`ConnectError::MissingUrl`] when neither variable has a value.
///
/// # Examples
/// ```
/// use backtick_pg_common::{FALLBACK_URL_VAR, url_from};
/// let env = |name: &str| (name == FALLBACK_URL_VAR).then(|| "postgres://db/app".to_owned());
/// assert_eq!(url_from(env).unwrap(), (FALLBACK_URL_VAR, "postgres://db/app".to_owned()));
/// ```
pub fn url_from(lookup: impl Fn(&str) -> Option<String>) -> Result<(&'static str, String), ConnectError> {
    [URL_VAR, FALLBACK_URL_VAR]
        .into_iter()
        .find_map(|var| lookup(var).filter(|url| !url.trim().is_empty()).map(|url| (var, url)))
        .ok_or(ConnectError::MissingUrl)
}

/// Check that `url` is a `postgres://` or `postgresql://` url, before a driver parses the rest.
///
/// # Errors
/// [`invalid_url`] saying so.
pub fn check_scheme(url: &str, variable: Option<&'static str>) -> Result<(), ConnectError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if matches!(scheme, Some("postgres" | "postgresql")) {
        Ok(())
    } else {
        Err(invalid_url(
            url,
            variable,
            "the scheme must be postgres:// or postgresql://",
        ))
    }
}

/// [`ConnectError::InvalidUrl`] for `url` (shown without its password), read from `variable`
/// if any, with what is wrong with it.
pub fn invalid_url(url: &str, variable: Option<&'static str>, problem: impl Into<String>) -> ConnectError {
    ConnectError::InvalidUrl {
        url: redact_url(url),
        variable,
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn bt_database_url_wins_over_database_url() {
        let vars = [(FALLBACK_URL_VAR, "postgres://b/b"), (URL_VAR, "postgres://a/a")];
        assert_eq!(url_from(env(&vars)).unwrap(), (URL_VAR, "postgres://a/a".to_owned()));
        let vars = [(FALLBACK_URL_VAR, "postgres://b/b"), (URL_VAR, " ")];
        assert_eq!(
            url_from(env(&vars)).unwrap(),
            (FALLBACK_URL_VAR, "postgres://b/b".to_owned())
        );
    }

    #[test]
    fn a_missing_url_names_both_variables() {
        let text = url_from(env(&[])).unwrap_err().to_string();
        assert!(
            text.contains("BT_DATABASE_URL") && text.contains("DATABASE_URL"),
            "{text}"
        );
    }

    #[test]
    fn only_postgres_schemes_pass() {
        assert!(check_scheme("postgres://db/app", None).is_ok());
        assert!(check_scheme("postgresql://db/app", None).is_ok());
        for url in ["mysql://bob:hunter2@db/app", "bob:hunter2@db/app"] {
            let text = check_scheme(url, Some(URL_VAR)).unwrap_err().to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("scheme") && text.contains(URL_VAR), "{text}");
        }
    }
}
