//! Where the database is and how the pool behaves, in tokio-postgres' terms.

use std::str::FromStr;

use backtick_core::ConfigError;
use backtick_pg_common::{ConnectError, Target, check_scheme, invalid_url};
use tokio_postgres::config::Host;

/// Connection-pool settings of a [`crate::DieselStore`] (a deadpool pool of
/// `AsyncPgConnection`s): [`backtick_pg_common::PoolConfig`], the settings both backends share
/// (every option, its default and unit are listed there).
///
/// Connections are opened on demand (the pool starts empty, so `min_connections` must stay
/// 0) and each one is checked with a `SELECT 1` before use, so a connection the server
/// dropped is replaced, not handed out; `idle_timeout` and `max_lifetime` retire a
/// connection when it is next taken.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_diesel::DieselStoreConfig;
/// let config = DieselStoreConfig { max_connections: 4, acquire_timeout: Duration::from_secs(2), ..Default::default() };
/// assert!(config.validate().is_ok());
/// assert!(DieselStoreConfig { max_connections: 0, ..Default::default() }.validate().is_err());
/// ```
pub type DieselStoreConfig = backtick_pg_common::PoolConfig;

/// [`DieselStoreConfig::validate`], and `min_connections` 0: deadpool keeps no idle
/// connections open for their own sake.
pub(crate) fn validate(config: &DieselStoreConfig) -> Result<(), ConfigError> {
    config.validate()?;
    if config.min_connections != 0 {
        return Err(ConfigError::new(
            "min_connections",
            format!(
                "is {}; DieselStore opens connections on demand and keeps none open in advance, leave it at 0",
                config.min_connections
            ),
        ));
    }
    Ok(())
}

/// `options` with `config`'s connect timeout, and its application name unless one is set.
pub(crate) fn with_config(config: &DieselStoreConfig, mut options: tokio_postgres::Config) -> tokio_postgres::Config {
    options.connect_timeout(config.connect_timeout);
    if options.get_application_name().is_none() {
        options.application_name(&config.application_name);
    }
    options
}

/// Parse a `postgres://` url into connect options. Without a host, `localhost` is used.
pub(crate) fn parse_url(url: &str, variable: Option<&'static str>) -> Result<tokio_postgres::Config, ConnectError> {
    check_scheme(url, variable)?;
    let mut options =
        tokio_postgres::Config::from_str(url).map_err(|e| invalid_url(url, variable, describe_parse_error(&e)))?;
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

/// The server `options` connect to (the first host and port), for messages.
pub(crate) fn target(options: &tokio_postgres::Config) -> Target {
    let host = match options.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => options
            .get_hostaddrs()
            .first()
            .map_or_else(|| "localhost".to_owned(), ToString::to_string),
    };
    let user = options.get_user().unwrap_or_default();
    Target {
        host,
        port: options.get_ports().first().copied().unwrap_or(5432),
        user: user.to_owned(),
        database: options.get_dbname().unwrap_or(user).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use backtick_pg_common::testing::assert_malformed_urls_are_explained_without_the_password;

    use super::*;

    #[test]
    fn a_malformed_url_says_what_is_wrong_without_the_password() {
        assert_malformed_urls_are_explained_without_the_password(parse_url);
    }

    #[test]
    fn a_good_url_parses_and_config_sets_timeout_and_application_name() {
        let options = parse_url("postgres://bob:pw@db:6543/app", None).unwrap();
        let server = target(&options);
        assert_eq!((server.host.as_str(), server.port), ("db", 6543));
        assert_eq!(options.get_dbname(), Some("app"));
        let options = with_config(&DieselStoreConfig::default(), options);
        assert_eq!(options.get_application_name(), Some("backtick"));
        assert_eq!(options.get_connect_timeout(), Some(&Duration::from_secs(5)));
        let bare = target(&parse_url("postgres:///app", None).unwrap());
        assert_eq!((bare.host.as_str(), bare.port), ("localhost", 5432));
    }

    #[test]
    fn validate_names_the_offending_option() {
        let bad = DieselStoreConfig {
            max_connections: 0,
            ..Default::default()
        };
        assert_eq!(validate(&bad).unwrap_err().option, "max_connections");
        let bad = DieselStoreConfig {
            min_connections: 1,
            ..Default::default()
        };
        assert_eq!(validate(&bad).unwrap_err().option, "min_connections");
    }
}
