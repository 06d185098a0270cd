//! Where the database is and how the pool behaves.

use std::str::FromStr;
use std::time::Duration;

use backtick_core::ConfigError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::{PgError, redact_url};

/// The environment variable read first by [`crate::PgStore::from_env`].
pub const URL_VAR: &str = "BT_DATABASE_URL";

/// The environment variable read when [`URL_VAR`] is unset.
pub const FALLBACK_URL_VAR: &str = "DATABASE_URL";

/// Connection-pool settings of a [`crate::PgStore`].
///
/// | option | default | unit | meaning |
/// |---|---|---|---|
/// | `max_connections` | 10 | connections | pool size; the wake-up listener uses one more, outside the pool |
/// | `min_connections` | 0 | connections | idle connections kept open |
/// | `connect_timeout` | 5 s | | how long connecting waits for the server before [`PgError::Unreachable`] |
/// | `acquire_timeout` | 10 s | | how long a call waits for a free connection before a transient error |
/// | `idle_timeout` | 10 min | | an idle connection is closed after this; `None` keeps it |
/// | `max_lifetime` | 30 min | | a connection is replaced after this; `None` keeps it |
/// | `application_name` | `"backtick"` | | shown in `pg_stat_activity`, unless the url sets one |
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_postgres::PgStoreConfig;
/// let config = PgStoreConfig { max_connections: 4, acquire_timeout: Duration::from_secs(2), ..Default::default() };
/// assert!(config.validate().is_ok());
/// assert!(PgStoreConfig { max_connections: 0, ..Default::default() }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgStoreConfig {
    /// Pool size. Default 10.
    pub max_connections: u32,
    /// Idle connections kept open. Default 0.
    pub min_connections: u32,
    /// How long connecting waits for the server. Default 5 s.
    pub connect_timeout: Duration,
    /// How long a store call waits for a free connection. Default 10 s.
    pub acquire_timeout: Duration,
    /// Close connections idle this long. Default 10 min; `None` never.
    pub idle_timeout: Option<Duration>,
    /// Replace connections older than this. Default 30 min; `None` never.
    pub max_lifetime: Option<Duration>,
    /// `application_name` of each connection unless the url sets one. Default `"backtick"`.
    pub application_name: String,
}

impl Default for PgStoreConfig {
    fn default() -> Self {
        PgStoreConfig {
            max_connections: 10,
            min_connections: 0,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            application_name: "backtick".to_owned(),
        }
    }
}

impl PgStoreConfig {
    /// Check every value.
    ///
    /// # Errors
    /// [`ConfigError`] naming the option: `max_connections` must be at least 1 and at least
    /// `min_connections`; the timeouts must be above zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::new("max_connections", "is 0; it must be at least 1"));
        }
        if self.min_connections > self.max_connections {
            return Err(ConfigError::new(
                "min_connections",
                format!(
                    "is {} but max_connections is {}; it must not exceed it",
                    self.min_connections, self.max_connections
                ),
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::new(
                "connect_timeout",
                "is zero; give the server some time, e.g. 5 s",
            ));
        }
        if self.acquire_timeout.is_zero() {
            return Err(ConfigError::new(
                "acquire_timeout",
                "is zero; give calls some time, e.g. 10 s",
            ));
        }
        Ok(())
    }

    pub(crate) fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .min_connections(self.min_connections)
            .acquire_timeout(self.acquire_timeout)
            .idle_timeout(self.idle_timeout)
            .max_lifetime(self.max_lifetime)
    }

    pub(crate) fn apply(&self, options: PgConnectOptions) -> PgConnectOptions {
        if options.get_application_name().is_some() {
            options
        } else {
            options.application_name(&self.application_name)
        }
    }
}

/// The url from `BT_DATABASE_URL`, else `DATABASE_URL`, read through `lookup` (a variable's
/// value, `None` when unset). Empty values count as unset.
pub(crate) fn url_from(lookup: impl Fn(&str) -> Option<String>) -> Result<(&'static str, String), PgError> {
    [URL_VAR, FALLBACK_URL_VAR]
        .into_iter()
        .find_map(|var| lookup(var).filter(|url| !url.trim().is_empty()).map(|url| (var, url)))
        .ok_or(PgError::MissingUrl)
}

/// Parse a `postgres://` url into connect options.
pub(crate) fn parse_url(url: &str, variable: Option<&'static str>) -> Result<PgConnectOptions, PgError> {
    let invalid = |problem: String| PgError::InvalidUrl {
        url: redact_url(url),
        variable,
        problem,
    };
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        return Err(invalid("the scheme must be postgres:// or postgresql://".to_owned()));
    }
    PgConnectOptions::from_str(url).map_err(|e| invalid(describe_parse_error(e)))
}

fn describe_parse_error(error: sqlx::Error) -> String {
    match error {
        sqlx::Error::Configuration(source) => source.to_string(),
        other => other.to_string(),
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
        let err = url_from(env(&[])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("BT_DATABASE_URL") && text.contains("DATABASE_URL"),
            "{text}"
        );
    }

    #[test]
    fn a_malformed_url_says_what_is_wrong_without_the_password() {
        for (url, problem) in [
            ("postgres://bob:hunter2@db:notaport/app", "port"),
            ("mysql://bob:hunter2@db/app", "scheme"),
            ("bob:hunter2@db/app", "scheme"),
        ] {
            let text = parse_url(url, Some(URL_VAR)).unwrap_err().to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains(problem) && text.contains(URL_VAR), "{text}");
        }
    }

    #[test]
    fn a_good_url_parses_and_config_sets_the_application_name() {
        let options = parse_url("postgres://bob:pw@db:6543/app", None).unwrap();
        assert_eq!(
            (options.get_host(), options.get_port(), options.get_database()),
            ("db", 6543, Some("app"))
        );
        let options = PgStoreConfig::default().apply(options);
        assert_eq!(options.get_application_name(), Some("backtick"));
    }

    #[test]
    fn validate_names_the_offending_option() {
        let bad = PgStoreConfig {
            min_connections: 20,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().option, "min_connections");
        let bad = PgStoreConfig {
            acquire_timeout: Duration::ZERO,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().option, "acquire_timeout");
    }
}
