//! Where the database is and how the pool behaves, in sqlx's terms.

use std::str::FromStr;

use backtick_pg_common::{ConnectError, check_scheme, invalid_url};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Connection-pool settings of a [`crate::PgStore`]: [`backtick_pg_common::PoolConfig`], the
/// settings both backends share (every option, its default and unit are listed there).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_postgres::PgStoreConfig;
/// let config = PgStoreConfig { max_connections: 4, acquire_timeout: Duration::from_secs(2), ..Default::default() };
/// assert!(config.validate().is_ok());
/// assert!(PgStoreConfig { max_connections: 0, ..Default::default() }.validate().is_err());
/// ```
pub type PgStoreConfig = backtick_pg_common::PoolConfig;

/// The pool `config` describes.
pub(crate) fn pool_options(config: &PgStoreConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(config.idle_timeout)
        .max_lifetime(config.max_lifetime)
}

/// The lifeline pool of a store that opens its own pools: completions, heartbeats and
/// registrations on up to [`LIFELINE_CONNECTIONS`] connections of their own, one kept open.
pub(crate) fn lifeline_options(config: &PgStoreConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(LIFELINE_CONNECTIONS)
        .min_connections(1)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(None)
        .max_lifetime(config.max_lifetime)
}

/// The size of the lifeline pool: two, so that a completion batch and a heartbeat never wait
/// for each other.
pub(crate) const LIFELINE_CONNECTIONS: u32 = 2;

/// `options` with `config`'s application name, unless they set one.
pub(crate) fn with_application_name(config: &PgStoreConfig, options: PgConnectOptions) -> PgConnectOptions {
    if options.get_application_name().is_some() {
        options
    } else {
        options.application_name(&config.application_name)
    }
}

/// Parse a `postgres://` url into connect options.
pub(crate) fn parse_url(url: &str, variable: Option<&'static str>) -> Result<PgConnectOptions, ConnectError> {
    check_scheme(url, variable)?;
    PgConnectOptions::from_str(url).map_err(|e| invalid_url(url, variable, describe_parse_error(e)))
}

fn describe_parse_error(error: sqlx::Error) -> String {
    match error {
        sqlx::Error::Configuration(source) => source.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use backtick_pg_common::testing::assert_malformed_urls_are_explained_without_the_password;

    use super::*;

    #[test]
    fn a_malformed_url_says_what_is_wrong_without_the_password() {
        assert_malformed_urls_are_explained_without_the_password(parse_url);
    }

    #[test]
    fn a_good_url_parses_and_config_sets_the_application_name() {
        let options = parse_url("postgres://bob:pw@db:6543/app", None).unwrap();
        assert_eq!(
            (options.get_host(), options.get_port(), options.get_database()),
            ("db", 6543, Some("app"))
        );
        let options = with_application_name(&PgStoreConfig::default(), options);
        assert_eq!(options.get_application_name(), Some("backtick"));
    }
}
