//! [`Access`]: what one request may do.

/// What one request may do, as decided by [`crate::DashboardConfig::authorize`].
///
/// # Examples
/// ```
/// use backtick_dashboard::Access;
/// assert!(Access::Full.can_act());
/// assert!(!Access::ReadOnly.can_act());
/// assert!(Access::ReadOnly.can_read());
/// assert!(!Access::Forbidden.can_read());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// See every page and take every action.
    Full,
    /// See every page; actions are hidden and answer 403.
    ReadOnly,
    /// Nothing: every request answers 403.
    Forbidden,
    /// Not authenticated: every request answers 401 with this `WWW-Authenticate` challenge
    /// (e.g. `Basic realm="backtick"`), so a browser asks for credentials.
    Unauthenticated {
        /// The `WWW-Authenticate` header's value.
        challenge: String,
    },
}

impl Access {
    /// True when the request may take actions.
    pub fn can_act(&self) -> bool {
        matches!(self, Access::Full)
    }

    /// True when the request may see the pages.
    pub fn can_read(&self) -> bool {
        matches!(self, Access::Full | Access::ReadOnly)
    }
}
