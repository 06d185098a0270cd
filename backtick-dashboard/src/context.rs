//! [`Layout`]: what every page's frame needs (the path prefix, the viewer's access, the
//! notice of the last action), taken from the request.

use axum::extract::{FromRef, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use backtick_core::Timestamp;

use crate::access::Access;
use crate::notice::Notice;
use crate::state::AppState;

/// The frame of every page, extracted from the request.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The path the dashboard is mounted at, without a trailing slash (`""` at the root,
    /// `/admin/jobs` when nested there). Every link starts with it.
    pub(crate) base: String,
    /// The dashboard's title.
    pub(crate) title: String,
    /// True when the viewer may take actions: pages show their buttons.
    pub(crate) can_act: bool,
    /// The message of the action that led here, if any.
    pub(crate) notice: Option<String>,
    /// Which navigation entry is current.
    pub(crate) section: &'static str,
    /// The asset version, to bust caches across releases.
    pub(crate) version: &'static str,
    /// The time the page describes.
    pub(crate) now: Timestamp,
}

impl Layout {
    /// The link to the overview.
    pub(crate) fn home(&self) -> String {
        if self.base.is_empty() {
            "/".to_owned()
        } else {
            self.base.clone()
        }
    }

    /// The same layout with `section` current.
    pub(crate) fn section(mut self, section: &'static str) -> Self {
        self.section = section;
        self
    }

    /// True when `section` is current: the template marks its link.
    pub(crate) fn is(&self, section: &str) -> bool {
        self.section == section
    }
}

impl<S> FromRequestParts<S> for Layout
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let original = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |uri| uri.path().to_owned());
        let access = parts.extensions.get::<Access>().cloned().unwrap_or(Access::ReadOnly);
        let notice = parts.uri.query().and_then(Notice::from_query).map(|n| n.text());
        Ok(Layout {
            base: mount_point(&original, parts.uri.path()),
            title: state.config().title.clone(),
            can_act: access.can_act(),
            notice,
            section: "",
            version: env!("CARGO_PKG_VERSION"),
            now: chrono::Utc::now(),
        })
    }
}

/// Where the dashboard is mounted: `original` (the path the client asked for) without
/// `inner` (the path the dashboard's router saw after nesting stripped the prefix).
fn mount_point(original: &str, inner: &str) -> String {
    let original = original.trim_end_matches('/');
    let inner = inner.trim_end_matches('/');
    original.strip_suffix(inner).unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::mount_point;

    #[test]
    fn the_mount_point_is_the_prefix_nesting_stripped() {
        assert_eq!(mount_point("/jobs/5", "/jobs/5"), "");
        assert_eq!(mount_point("/", "/"), "");
        assert_eq!(mount_point("/admin/jobs/jobs/5", "/jobs/5"), "/admin/jobs");
        assert_eq!(mount_point("/admin/jobs", "/"), "/admin/jobs");
        assert_eq!(mount_point("/admin/jobs/", "/"), "/admin/jobs");
    }
}
