//! Where the database is and how the pool behaves.

use std::str::FromStr;
use std::time::Duration;

use backtick_core::ConfigError;
use tokio_postgres::config::Host;

use crate::error::{DieselError, redact_url};

/// The environment variable read first by [`crate::DieselStore::from_env`].
pub const URL_VAR: &str = "BT_DATABASE_URL";

/// The environment variable read when [`URL_VAR`] is unset.
pub const FALLBACK_URL_VAR: &str = "DATABASE_URL";

/// Connection-pool settings of a [`crate::DieselStore`] (a deadpool pool of
/// `AsyncPgConnection`s).
///
/// | option | default | unit | meaning |
/// |---|---|---|---|
/// | `max_connections` | 10 | connections | pool size; the wake-up listener uses one more, outside the pool |
/// | `connect_timeout` | 5 s | | how long connecting waits for the server before [`DieselError::Unreachable`] |
/// | `acquire_timeout` | 10 s | | how long a call waits for a free connection before a transient error |
/// | `idle_timeout` | 10 min | | a connection idle this long is closed when next taken, and a new one opened; `None` keeps it |
/// | `max_lifetime` | 30 min | | a connection older than this is closed when next taken; `None` keeps it |
/// | `application_name` | `"backtick"` | | shown in `pg_stat_activity`, unless the url sets one |
///
/// Connections are opened on demand (the pool starts empty) and each one is checked with a
/// `SELECT 1` before use, so a connection the server dropped is replaced, not handed out.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_diesel::DieselStoreConfig;
/// let config = DieselStoreConfig { max_connections: 4, acquire_timeout: Duration::from_secs(2), ..Default::default() };
/// assert!(config.validate().is_ok());
/// assert!(DieselStoreConfig { max_connections: 0, ..Default::default() }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DieselStoreConfig {
    /// Pool size. Default 10.
    pub max_connections: u32,
    /// How long connecting waits for the server. Default 5 s.
    pub connect_timeout: Duration,
    /// How long a store call waits for a free connection. Default 10 s.
    pub acquire_timeout: Duration,
    /// Replace connections idle this long. Default 10 min; `None` never.
    pub idle_timeout: Option<Duration>,
    /// Replace connections older than this. Default 30 min; `None` never.
    pub max_lifetime: Option<Duration>,
    /// `application_name` of each connection unless the url sets one. Default `"backtick"`.
    pub application_name: String,
}

impl Default for DieselStoreConfig {
    fn default() -> Self {
        DieselStoreConfig {
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            application_name: "backtick".to_owned(),
        }
    }
}

impl DieselStoreConfig {
    /// Check every value.
    ///
    /// # Errors
    /// [`ConfigError`] naming the option: `max_connections` must be at least 1; the timeouts
    /// must be above zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::new("max_connections", "is 0; it must be at least 1"));
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

    /// `options` with this config's connect timeout, and its application name unless one is set.
    pub(crate) fn apply(&self, mut options: tokio_postgres::Config) -> tokio_postgres::Config {
        options.connect_timeout(self.connect_timeout);
        if options.get_application_name().is_none() {
            options.application_name(&self.application_name);
        }
        options
    }
}

/// The url from `BT_DATABASE_URL`, else `DATABASE_URL`, read through `lookup` (a variable's
/// value, `None` when unset). Empty values count as unset.
pub(crate) fn url_from(lookup: impl Fn(&str) -> Option<String>) -> Result<(&'static str, String), DieselError> {
    [URL_VAR, FALLBACK_URL_VAR]
        .into_iter()
        .find_map(|var| lookup(var).filter(|url| !url.trim().is_empty()).map(|url| (var, url)))
        .ok_or(DieselError::MissingUrl)
}

/// Parse a `postgres://` url into connect options. Without a host, `localhost` is used.
pub(crate) fn parse_url(url: &str, variable: Option<&'static str>) -> Result<tokio_postgres::Config, DieselError> {
    let invalid = |problem: String| DieselError::InvalidUrl {
        url: redact_url(url),
        variable,
        problem,
    };
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        return Err(invalid("the scheme must be postgres:// or postgresql://".to_owned()));
    }
    let mut options = tokio_postgres::Config::from_str(url).map_err(|e| invalid(describe_parse_error(&e)))?;
    if options.get_hosts().is_empty() && options.get_hostaddrs().is_empty() {
        options.host("localhost");
    }
    Ok(options)
}

/// tokio-postgres says "invalid configuration: invalid value for option `port`"; keep the part
/// after the prefix, which names the option.
fn describe_parse_error(error: &tokio_postgres::Error) -> String {
    let text = error.to_string();
    text.strip_prefix("invalid configuration: ")
        .map(str::to_owned)
        .unwrap_or(text)
}

/// The first host and port of `options`, for messages.
pub(crate) fn host_and_port(options: &tokio_postgres::Config) -> (String, u16) {
    let host = match options.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => options
            .get_hostaddrs()
            .first()
            .map_or_else(|| "localhost".to_owned(), ToString::to_string),
    };
    (host, options.get_ports().first().copied().unwrap_or(5432))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
    fn a_good_url_parses_and_config_sets_timeout_and_application_name() {
        let options = parse_url("postgres://bob:pw@db:6543/app", None).unwrap();
        assert_eq!(host_and_port(&options), ("db".to_owned(), 6543));
        assert_eq!(options.get_dbname(), Some("app"));
        let options = DieselStoreConfig::default().apply(options);
        assert_eq!(options.get_application_name(), Some("backtick"));
        assert_eq!(options.get_connect_timeout(), Some(&Duration::from_secs(5)));
        let bare = parse_url("postgres:///app", None).unwrap();
        assert_eq!(host_and_port(&bare), ("localhost".to_owned(), 5432));
    }

    #[test]
    fn validate_names_the_offending_option() {
        let bad = DieselStoreConfig {
            max_connections: 0,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().option, "max_connections");
        let bad = DieselStoreConfig {
            acquire_timeout: Duration::ZERO,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().option, "acquire_timeout");
    }
}
