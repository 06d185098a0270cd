//! # backtick-dashboard
//!
//! The backtick web dashboard: an [`axum::Router`] over the admin API
//! ([`backtick_core::QueueAdmin`]) that an application nests under any path, or that
//! `backtick serve` runs on its own.
//!
//! | page | path | shows | actions |
//! |---|---|---|---|
//! | Overview | `/` | jobs per state, runners alive, throughput over the last hour, queue depth and lag | |
//! | Jobs | `/jobs` | state tabs; filters (queue, worker, id, args JSON containment, error text) in the URL; keyset pages | retry, cancel, run now, delete: on the selection or on the whole filter, with a count preview and a confirmation |
//! | Job | `/jobs/{id}` | arguments as JSON, timeline, every attempt with its error, runner and lease | the ones its state allows |
//! | Queues | `/queues` | depth per state, age of the oldest due job | pause, resume |
//! | Cron | `/cron` | spec, time zone, next and last fire, declared by | pause, resume, run now, remove (stale) |
//! | Runners | `/runners` | host, pid, version, workers, last heartbeat, stale flag, jobs held | |
//! | Errors | `/errors` | dead and retrying jobs grouped by worker and error | retry or discard a group |
//!
//! Plus `/healthz` (200 `ok` while the store answers, 503 otherwise; no auth) and
//! `/assets/app.css`, `/assets/app.js`.
//!
//! # Safety
//! - Every action is a POST whose `Origin` (else `Referer`) must name the request's `Host`:
//!   a cross-origin POST answers 403.
//! - Every response carries a strict Content-Security-Policy
//!   ([`CONTENT_SECURITY_POLICY_VALUE`]): no inline script or style, nothing from elsewhere.
//! - [`DashboardConfig::read_only`] hides every action and answers 403 to them;
//!   [`DashboardConfig::authorize`] decides per request ([`Access`]): full, read-only,
//!   forbidden (403), or unauthenticated (401). [`auth`] has basic and bearer hooks.
//! - Each action writes one audit line (`tracing`, target `backtick_dashboard::audit`).
//! - Counts are capped by the admin API and cached for [`DashboardConfig::count_cache_ttl`];
//!   each page's admin calls time out after [`DashboardConfig::query_timeout`] (503).
//!
//! Links are absolute paths under the mount point, which each request derives from the
//! difference between the path the client asked for and the path the router saw, so the same
//! router works at `/` and nested at any prefix.
//!
//! # Examples
//! ```
//! use std::sync::Arc;
//! use backtick_core::QueueAdmin;
//! use backtick_dashboard::{DashboardConfig, router};
//! use backtick_testkit::MemoryStore;
//!
//! let admin: Arc<dyn QueueAdmin> = Arc::new(MemoryStore::new()); // a PgStore in production
//! let app: axum::Router = axum::Router::new()
//!     .nest("/admin/jobs", router(admin, DashboardConfig::default().read_only(true)));
//! // axum::serve(listener, app).await
//! # let _ = app;
//! ```

mod access;
mod actions;
mod assets;
pub mod auth;
mod chart;
mod config;
mod context;
mod error;
mod filter;
mod format;
mod grouping;
mod guard;
mod notice;
mod pages;
mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use backtick_core::QueueAdmin;

pub use access::Access;
pub use assets::{SCRIPT, STYLESHEET};
pub use config::{Authorize, DashboardConfig};
pub use error::DashboardError;
pub use guard::CONTENT_SECURITY_POLICY_VALUE;

use crate::state::AppState;

/// The dashboard as a router to serve or nest: every page, action, asset and `/healthz`.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use backtick_dashboard::{Access, DashboardConfig, auth, router};
/// # let admin: Arc<dyn backtick_core::QueueAdmin> = Arc::new(backtick_testkit::MemoryStore::new());
/// let config = DashboardConfig::default().authorize(auth::bearer("a-long-random-token", Access::Full));
/// let app = router(admin, config);
/// # let _ = app;
/// ```
pub fn router(admin: Arc<dyn QueueAdmin>, config: DashboardConfig) -> Router {
    let state = AppState::new(admin, config);
    let guarded = Router::new()
        .route("/", get(pages::overview::page))
        .route("/jobs", get(pages::jobs::page))
        .route("/jobs/bulk", post(actions::bulk::submit))
        .route("/jobs/{id}", get(pages::job::page))
        .route("/jobs/{id}/action", post(actions::job::submit))
        .route("/queues", get(pages::queues::page))
        .route("/queues/action", post(actions::schedules::queue))
        .route("/cron", get(pages::cron::page))
        .route("/cron/action", post(actions::schedules::schedule))
        .route("/runners", get(pages::runners::page))
        .route("/errors", get(pages::errors::page))
        .route("/errors/action", post(actions::errors::submit))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard::guard));
    guarded
        .route("/assets/app.css", get(assets::css))
        .route("/assets/app.js", get(assets::js))
        .route("/healthz", get(health))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(state)
}

/// `GET /healthz`: 200 `ok` when the store answers, 503 otherwise.
async fn health(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.now().await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the queue's store does not answer"),
    }
}
