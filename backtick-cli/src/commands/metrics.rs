//! `/metrics` of `backtick serve`: a Prometheus recorder installed for the process, its text
//! rendered on each scrape, and the one [`Collector`] of the deployment's database gauges.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use backtick_core::QueueAdmin;
use backtick_core::telemetry::Collector;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::CliError;

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Install a Prometheus recorder as the process's global recorder and return its handle.
///
/// # Errors
/// [`CliError::BadInput`] when a recorder is already installed.
pub fn install() -> Result<PrometheusHandle, CliError> {
    PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| CliError::bad_input(format!("cannot install the metrics recorder: {e}")))
}

/// `GET /metrics`: everything `handle`'s recorder holds, in Prometheus text format. No
/// credentials, like `/healthz`: it shows counts and queue and worker names, never a job.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                // The recorder leaves its upkeep (draining histograms) to its owner.
                handle.run_upkeep();
                ([(header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response()
            }
        }),
    )
}

/// Run the database-level gauges' [`Collector`] on `admin` every `interval` until `stop`.
pub fn collect(admin: Arc<dyn QueueAdmin>, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
    Collector::new(admin).spawn(interval, stop)
}
