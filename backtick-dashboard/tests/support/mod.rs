//! The dashboard over a seeded in-memory store, and requests sent to it with `oneshot`.

// Each test binary uses part of the support code.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use backtick_core::{JobId, JobState, QueueAdmin, QueueStore};
use backtick_dashboard::{DashboardConfig, router};
use backtick_testkit::MemoryStore;
use backtick_testkit::scene::{OperatorScene, seed_operator_scene};
use tower::ServiceExt;

/// The host every request is sent to.
pub(crate) const HOST: &str = "dash.test:8080";

/// A seeded store and a dashboard over it.
pub(crate) struct Dash {
    pub(crate) store: Arc<MemoryStore>,
    pub(crate) scene: OperatorScene,
    pub(crate) app: Router,
}

/// What came back.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    /// The `Location` of a redirect.
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no location: {} {}", self.status, self.body))
    }
}

impl Dash {
    pub(crate) async fn new(config: DashboardConfig) -> Dash {
        Self::nested("", config).await
    }

    /// The dashboard nested at `prefix` (`""`: at the root).
    pub(crate) async fn nested(prefix: &str, config: DashboardConfig) -> Dash {
        let store = Arc::new(MemoryStore::new());
        let scene = seed_operator_scene(store.as_ref()).await.expect("seed");
        let admin: Arc<dyn QueueAdmin> = store.clone();
        let dashboard = router(admin, config);
        let app = if prefix.is_empty() {
            dashboard
        } else {
            Router::new().nest(prefix, dashboard)
        };
        Dash { store, scene, app }
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(get(path).body(Body::empty()).expect("request")).await
    }

    /// A GET that must answer 200; its body.
    pub(crate) async fn page(&self, path: &str) -> String {
        let reply = self.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
        reply.body
    }

    /// A same-origin form POST.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_from(path, form, Some(&format!("http://{HOST}"))).await
    }

    /// A form POST with `origin` as its Origin header (none when `None`).
    pub(crate) async fn post_from(&self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Reply {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form {
            body.append_pair(key, value);
        }
        let mut request = Request::post(path)
            .header("host", HOST)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        self.send(request.body(Body::from(body.finish())).expect("request"))
            .await
    }

    pub(crate) async fn state_of(&self, id: JobId) -> Option<JobState> {
        self.store.get(id).await.expect("get").map(|job| job.state)
    }
}

/// A GET request builder to the test host.
pub(crate) fn get(path: &str) -> axum::http::request::Builder {
    Request::get(path).header("host", HOST)
}
