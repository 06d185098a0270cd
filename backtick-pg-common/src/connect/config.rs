//! How a store's connection pool behaves.

use std::time::Duration;

use backtick_core::ConfigError;

/// Connection-pool settings of a Postgres store. `backtick_postgres::PgStoreConfig` and
/// `backtick_diesel::DieselStoreConfig` are this type.
///
/// | option | default | unit | meaning |
/// |---|---|---|---|
/// | `max_connections` | 10 | connections | pool size; the wake-up listener uses one more, outside the pool, and each store keeps up to two more for completions, heartbeats and registrations (its lifeline; `PgStore` keeps one open) |
/// | `min_connections` | 0 | connections | idle connections kept open (`PgStore`; `DieselStore` opens connections on demand and accepts only 0) |
/// | `connect_timeout` | 5 s | | how long connecting waits for the server before [`crate::ConnectError::Unreachable`] |
/// | `acquire_timeout` | 10 s | | how long a call waits for a free connection before a transient error |
/// | `idle_timeout` | 10 min | | a connection idle this long is closed (`DieselStore`: when next taken, and a new one opened); `None` keeps it |
/// | `max_lifetime` | 30 min | | a connection older than this is replaced (`DieselStore`: when next taken); `None` keeps it |
/// | `application_name` | `"backtick"` | | shown in `pg_stat_activity`, unless the url sets one |
/// | `admin_statement_timeout` | 5 s | | the server cancels an admin read (listings, counts, queues, schedules, runners, a job's page) running longer (`statement_timeout`); `None`: no bound |
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_pg_common::PoolConfig;
/// let config = PoolConfig { max_connections: 4, acquire_timeout: Duration::from_secs(2), ..Default::default() };
/// assert!(config.validate().is_ok());
/// assert!(PoolConfig { max_connections: 0, ..Default::default() }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
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
    /// How long the server lets each statement of an admin read run before it cancels it
    /// (`SET LOCAL statement_timeout` in the read's own read-only transaction): the database's
    /// bound under a dashboard's or a CLI's own timeout. Default 5 s; `None`: no bound.
    pub admin_statement_timeout: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 10,
            min_connections: 0,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            application_name: "backtick".to_owned(),
            admin_statement_timeout: Some(Duration::from_secs(5)),
        }
    }
}

impl PoolConfig {
    /// Check every value.
    ///
    /// # Errors
    /// [`ConfigError`] naming the option: `max_connections` must be at least 1 and at least
    /// `min_connections`; the timeouts must be above zero (`admin_statement_timeout` at least
    /// a millisecond, the server's unit).
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
        if self
            .admin_statement_timeout
            .is_some_and(|timeout| timeout < Duration::from_millis(1))
        {
            return Err(ConfigError::new(
                "admin_statement_timeout",
                "is under a millisecond; give admin reads some time, e.g. 5 s, or None for no bound",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_offending_option() {
        for (bad, option) in [
            (
                PoolConfig {
                    max_connections: 0,
                    ..Default::default()
                },
                "max_connections",
            ),
            (
                PoolConfig {
                    min_connections: 20,
                    ..Default::default()
                },
                "min_connections",
            ),
            (
                PoolConfig {
                    connect_timeout: Duration::ZERO,
                    ..Default::default()
                },
                "connect_timeout",
            ),
            (
                PoolConfig {
                    acquire_timeout: Duration::ZERO,
                    ..Default::default()
                },
                "acquire_timeout",
            ),
            (
                PoolConfig {
                    admin_statement_timeout: Some(Duration::ZERO),
                    ..Default::default()
                },
                "admin_statement_timeout",
            ),
        ] {
            assert_eq!(bad.validate().unwrap_err().option, option);
        }
        assert!(PoolConfig::default().validate().is_ok());
    }
}
