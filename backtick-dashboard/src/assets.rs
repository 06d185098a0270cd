//! The stylesheet and the one script, compiled into the binary (no build step, no CDN).
//! Links carry the crate version (`?v=`), so they may be cached for a day.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

/// The stylesheet: light and dark (prefers-color-scheme), no external font.
pub const STYLESHEET: &str = include_str!("../assets/app.css");

/// The script: live polling, keyboard navigation, selection, confirmations.
pub const SCRIPT: &str = include_str!("../assets/app.js");

/// `GET /assets/app.css`
pub(crate) async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
}

/// `GET /assets/app.js`
pub(crate) async fn js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        SCRIPT,
    )
}
