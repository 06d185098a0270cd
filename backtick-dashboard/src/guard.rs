//! The two layers every request passes: [`guard`] (who may do what, and the same-origin
//! check of mutations) and [`security_headers`] (CSP and friends on every response).

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HOST, ORIGIN, REFERER, REFERRER_POLICY, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::access::Access;
use crate::error::plain_page;
use crate::state::AppState;

/// The Content-Security-Policy of every response: scripts, styles and images only from the
/// dashboard itself (no inline script or style, no `eval`), forms only to it, no framing.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Decide the request's [`Access`] (stored in its extensions for the pages), answer 401/403
/// to requests that may not read, and to mutations (anything but GET and HEAD) that may not
/// act or do not come from the dashboard's own origin.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let access = state.config().access(&parts);
    match &access {
        Access::Unauthenticated { challenge } => return unauthenticated(challenge),
        Access::Forbidden => return refuse("you may not see this dashboard"),
        Access::Full | Access::ReadOnly => {}
    }
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        if !access.can_act() {
            return refuse("this dashboard is read-only for you: actions are not allowed");
        }
        if !same_origin(&parts.headers) {
            tracing::warn!(method = %parts.method, uri = %parts.uri, "dashboard: refused a cross-origin request");
            return refuse("cross-origin request refused: actions must come from the dashboard's own pages");
        }
    }
    parts.extensions.insert(access);
    next.run(Request::from_parts(parts, body)).await
}

/// True when the request's `Origin` (else `Referer`) names the host it was sent to (`Host`).
/// A request with neither is refused: every browser sends `Origin` with a form POST.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(ORIGIN)
        .or_else(|| headers.get(REFERER))
        .and_then(|value| value.to_str().ok());
    source
        .and_then(authority)
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// The `host[:port]` of an absolute `http(s)` url.
fn authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|authority| !authority.is_empty())
}

fn refuse(message: &str) -> Response {
    (StatusCode::FORBIDDEN, Html(plain_page(StatusCode::FORBIDDEN, message))).into_response()
}

fn unauthenticated(challenge: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Html(plain_page(StatusCode::UNAUTHORIZED, "sign in to see this dashboard")),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// Add the security headers to every response; pages (not the fingerprinted assets) are
/// never cached, since they show live data.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().contains("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn same_origin_compares_origin_or_referer_with_host() {
        let ok = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]);
        assert!(same_origin(&ok));
        let referer = headers(&[("host", "h:1"), ("referer", "https://h:1/jobs?state=dead")]);
        assert!(same_origin(&referer));
        let other = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")]);
        assert!(!same_origin(&other));
        let other_port = headers(&[("host", "h:1"), ("origin", "http://h:2")]);
        assert!(!same_origin(&other_port));
        assert!(!same_origin(&headers(&[("host", "h:1")])), "neither origin nor referer");
        assert!(!same_origin(&headers(&[("host", "h:1"), ("origin", "null")])));
    }
}
