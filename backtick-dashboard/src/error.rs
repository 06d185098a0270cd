//! [`DashboardError`]: why a page or an action failed, and the response each failure gets.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use backtick_core::StoreError;
use backtick_core::admin::AdminError;

/// Why a dashboard request failed. Each variant maps to one status code; the body is a short
/// HTML page with the message (every message is escaped).
///
/// # Examples
/// ```
/// use axum::response::IntoResponse;
/// use backtick_dashboard::DashboardError;
/// let response = DashboardError::bad_request("args must be JSON").into_response();
/// assert_eq!(response.status(), 400);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// The admin API refused the request (bad input: 400 or 404) or failed (500).
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The admin API did not answer within the configured query timeout (503).
    #[error("the queue did not answer within {seconds} s; try again, or narrow the filter")]
    Timeout {
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// The request is malformed: a bad filter or form value (400).
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
    },
    /// The request may not do this (403).
    #[error("{message}")]
    Forbidden {
        /// Why.
        message: String,
    },
    /// A template failed to render (500).
    #[error("cannot render the page: {0}")]
    Render(#[from] askama::Error),
}

impl DashboardError {
    /// A [`DashboardError::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> Self {
        DashboardError::BadRequest {
            message: message.into(),
        }
    }

    /// A [`DashboardError::Forbidden`].
    pub fn forbidden(message: impl Into<String>) -> Self {
        DashboardError::Forbidden {
            message: message.into(),
        }
    }

    /// The status code the error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            DashboardError::Admin(AdminError::UnknownJob { .. } | AdminError::UnknownSchedule { .. }) => {
                StatusCode::NOT_FOUND
            }
            DashboardError::Admin(AdminError::Store(StoreError::UniqueKeyHeld { .. })) => StatusCode::CONFLICT,
            DashboardError::Admin(AdminError::Store(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            DashboardError::Admin(_) | DashboardError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            DashboardError::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            DashboardError::Forbidden { .. } => StatusCode::FORBIDDEN,
            DashboardError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "dashboard request failed");
        }
        (status, Html(plain_page(status, &self.to_string()))).into_response()
    }
}

/// A minimal page for an error: no template (a template error must still answer), no asset.
pub(crate) fn plain_page(status: StatusCode, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code}</title></head>\
         <body><h1>{code}</h1><p>{message}</p></body></html>",
        code = status,
        message = escape(message)
    )
}

/// `text` with the five HTML-significant characters escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_key_held_by_another_job_is_a_conflict_and_other_store_errors_are_internal() {
        let held = DashboardError::Admin(AdminError::Store(StoreError::UniqueKeyHeld {
            message: "job 1 cannot be retried: job 2 took its unique key".to_owned(),
        }));
        assert_eq!(held.status(), StatusCode::CONFLICT);
        let lost = DashboardError::Admin(AdminError::Store(StoreError::PoolClosed));
        assert_eq!(lost.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
