//! The server a store's first connection goes to, for the errors of that connection.

use std::time::Duration;

use backtick_core::BoxError;

use crate::connect::ConnectError;

/// Where a store connects: each backend reads it from its driver's connect options and
/// reports a probe connection's failure through it, so both say the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host (or socket path).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The user name.
    pub user: String,
    /// The database (the user name when none is given).
    pub database: String,
}

impl Target {
    /// [`ConnectError::Unreachable`]: the server did not answer within `timeout`.
    pub fn no_answer(&self, timeout: Duration) -> ConnectError {
        self.unreachable(format!("no answer within {timeout:?}").into())
    }

    /// [`ConnectError::Unreachable`] with the driver's error.
    pub fn unreachable(&self, source: BoxError) -> ConnectError {
        ConnectError::Unreachable {
            host: self.host.clone(),
            port: self.port,
            source,
        }
    }

    /// [`ConnectError::Rejected`] with the server's message (bad password, unknown database).
    pub fn rejected(&self, message: &str) -> ConnectError {
        ConnectError::Rejected {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            database: self.database.clone(),
            message: message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_errors_name_the_server() {
        let target = Target {
            host: "db".into(),
            port: 6543,
            user: "bob".into(),
            database: "app".into(),
        };
        let text = target.no_answer(Duration::from_secs(5)).to_string();
        assert!(
            text.contains("db:6543") && text.contains("no answer within 5s"),
            "{text}"
        );
        let text = target.rejected("password authentication failed").to_string();
        assert!(text.contains("\"bob\"") && text.contains("\"app\""), "{text}");
    }
}
