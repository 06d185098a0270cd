//! [`DashboardConfig`]: what the dashboard allows, to whom, and how hard it works.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;

use crate::access::Access;

/// Decides, from a request's parts (headers, uri, extensions set by the application's own
/// middleware), what the request may do. See [`DashboardConfig::authorize`].
pub type Authorize = Arc<dyn Fn(&Parts) -> Access + Send + Sync>;

/// The dashboard's settings. Every field has a default ([`DashboardConfig::default`]):
///
/// | setting | default | unit | meaning |
/// |---|---|---|---|
/// | `read_only` | false | | hide every action and answer 403 to them, whatever `authorize` says |
/// | `authorize` | none (every request [`Access::Full`]) | | the per-request access decision |
/// | `bulk_cap` | 10 000 | jobs | a bulk action that would touch more jobs is refused |
/// | `count_cache_ttl` | 2 | seconds | job counts are reused this long (0: never cached) |
/// | `query_timeout` | 5 | seconds | a page whose admin calls take longer answers 503 |
/// | `title` | `backtick` | | shown in the header and the window title |
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use backtick_dashboard::{Access, DashboardConfig};
/// let config = DashboardConfig::default()
///     .read_only(true)
///     .bulk_cap(500)
///     .count_cache_ttl(Duration::from_secs(5))
///     .authorize(|parts| match parts.headers.get("x-role").and_then(|v| v.to_str().ok()) {
///         Some("operator") => Access::Full,
///         Some(_) => Access::ReadOnly,
///         None => Access::Forbidden,
///     });
/// assert!(config.is_read_only());
/// assert_eq!(config.bulk_cap_jobs(), 500);
/// ```
#[derive(Clone)]
pub struct DashboardConfig {
    pub(crate) read_only: bool,
    pub(crate) authorize: Option<Authorize>,
    pub(crate) bulk_cap: u64,
    pub(crate) count_cache_ttl: Duration,
    pub(crate) query_timeout: Duration,
    pub(crate) title: String,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            read_only: false,
            authorize: None,
            bulk_cap: 10_000,
            count_cache_ttl: Duration::from_secs(2),
            query_timeout: Duration::from_secs(5),
            title: "backtick".to_owned(),
        }
    }
}

impl fmt::Debug for DashboardConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardConfig")
            .field("read_only", &self.read_only)
            .field("authorize", &self.authorize.as_ref().map(|_| "<hook>"))
            .field("bulk_cap", &self.bulk_cap)
            .field("count_cache_ttl", &self.count_cache_ttl)
            .field("query_timeout", &self.query_timeout)
            .field("title", &self.title)
            .finish()
    }
}

impl DashboardConfig {
    /// Read-only mode: pages show no action, and every action answers 403.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The authorize hook: called once per request with its parts; its [`Access`] decides
    /// what the request may do (combined with [`DashboardConfig::read_only`], the stricter
    /// wins). [`crate::auth`] has ready-made hooks for HTTP basic and bearer authentication.
    pub fn authorize(mut self, authorize: impl Fn(&Parts) -> Access + Send + Sync + 'static) -> Self {
        self.authorize = Some(Arc::new(authorize));
        self
    }

    /// The largest bulk action allowed, in jobs: a bulk action whose preview counts more is
    /// refused with a message to narrow the filter.
    pub fn bulk_cap(mut self, jobs: u64) -> Self {
        self.bulk_cap = jobs;
        self
    }

    /// How long job counts are reused before they are asked for again.
    pub fn count_cache_ttl(mut self, ttl: Duration) -> Self {
        self.count_cache_ttl = ttl;
        self
    }

    /// How long a page may wait for the admin API before it answers 503.
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// The title shown in the header and the window title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// True in read-only mode.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The bulk cap, in jobs.
    pub fn bulk_cap_jobs(&self) -> u64 {
        self.bulk_cap
    }

    /// What the request may do: the hook's answer (or [`Access::Full`] without one), lowered
    /// to [`Access::ReadOnly`] in read-only mode.
    pub(crate) fn access(&self, parts: &Parts) -> Access {
        let granted = self.authorize.as_ref().map_or(Access::Full, |hook| hook(parts));
        match granted {
            Access::Full if self.read_only => Access::ReadOnly,
            other => other,
        }
    }
}
