//! Ready-made authorize hooks ([`crate::DashboardConfig::authorize`]): HTTP basic and bearer
//! authentication against one set of credentials, compared in constant time.
//!
//! A request without (or with wrong) credentials gets [`Access::Unauthenticated`], so it is
//! answered 401 with a challenge and a browser asks for a user name and password.

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use crate::access::Access;

/// A hook that grants `granted` to requests carrying HTTP basic credentials `user` and
/// `password`, and asks every other request to authenticate.
///
/// # Examples
/// ```
/// use backtick_dashboard::{Access, DashboardConfig, auth};
/// let config = DashboardConfig::default().authorize(auth::basic("ops", "s3cret", Access::Full));
/// # let _ = config;
/// ```
pub fn basic(
    user: impl Into<String>,
    password: impl Into<String>,
    granted: Access,
) -> impl Fn(&Parts) -> Access + Send + Sync + 'static {
    let expected = format!("{}:{}", user.into(), password.into());
    move |parts: &Parts| {
        let given = credentials(parts, "Basic ").and_then(|encoded| STANDARD.decode(encoded).ok());
        match given {
            Some(given) if bool::from(given.ct_eq(expected.as_bytes())) => granted.clone(),
            _ => Access::Unauthenticated {
                challenge: "Basic realm=\"backtick\", charset=\"UTF-8\"".to_owned(),
            },
        }
    }
}

/// A hook that grants `granted` to requests carrying `Authorization: Bearer <token>`, and
/// asks every other request to authenticate.
///
/// # Examples
/// ```
/// use backtick_dashboard::{Access, DashboardConfig, auth};
/// let config = DashboardConfig::default().authorize(auth::bearer("a-long-random-token", Access::ReadOnly));
/// # let _ = config;
/// ```
pub fn bearer(token: impl Into<String>, granted: Access) -> impl Fn(&Parts) -> Access + Send + Sync + 'static {
    let expected = token.into();
    move |parts: &Parts| match credentials(parts, "Bearer ") {
        Some(given) if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) => granted.clone(),
        _ => Access::Unauthenticated {
            challenge: "Bearer realm=\"backtick\"".to_owned(),
        },
    }
}

/// The credentials after `scheme` (case-insensitive) in the `Authorization` header.
fn credentials<'a>(parts: &'a Parts, scheme: &str) -> Option<&'a str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (given_scheme, rest) = value.split_at_checked(scheme.len())?;
    given_scheme.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(authorization: Option<&str>) -> Parts {
        let mut request = Request::builder().uri("/");
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request.body(()).expect("a request").into_parts().0
    }

    #[test]
    fn basic_grants_only_the_right_credentials() {
        let hook = basic("ops", "pw", Access::Full);
        let good = format!("Basic {}", STANDARD.encode("ops:pw"));
        assert_eq!(hook(&parts(Some(&good))), Access::Full);
        let bad = format!("Basic {}", STANDARD.encode("ops:nope"));
        assert!(matches!(hook(&parts(Some(&bad))), Access::Unauthenticated { .. }));
        assert!(matches!(hook(&parts(None)), Access::Unauthenticated { .. }));
    }

    #[test]
    fn bearer_grants_only_the_right_token() {
        let hook = bearer("t0ken", Access::ReadOnly);
        assert_eq!(hook(&parts(Some("bearer t0ken"))), Access::ReadOnly);
        assert!(matches!(
            hook(&parts(Some("Bearer t0ke"))),
            Access::Unauthenticated { .. }
        ));
        assert!(matches!(
            hook(&parts(Some("Basic t0ken"))),
            Access::Unauthenticated { .. }
        ));
    }
}
