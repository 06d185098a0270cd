//! `backtick serve`: the web dashboard ([`backtick_dashboard`]) on its own HTTP server.
//!
//! ```text
//! backtick serve [--listen 127.0.0.1:8080] [--read-only] [--auth basic|bearer] [--prefix /admin/jobs]
//!                [--metrics-interval 15s]
//! ```
//!
//! Beside the dashboard it serves `/metrics` (Prometheus text format, at the root whatever
//! the prefix, no credentials) and runs the deployment's one metrics collector
//! ([`backtick_core::telemetry::Collector`]), which reads queue depths, queue lag and live
//! runners every `--metrics-interval`.
//!
//! It listens on loopback unless told otherwise, and refuses a non-loopback address without
//! `--auth`. Credentials come from the environment, never from the command line (where `ps`
//! would show them):
//!
//! | `--auth` | variables |
//! |---|---|
//! | `basic` | `BT_DASHBOARD_USER`, `BT_DASHBOARD_PASSWORD` |
//! | `bearer` | `BT_DASHBOARD_TOKEN` (send `Authorization: Bearer <token>`) |
//!
//! Once listening it prints `backtick dashboard listening on http://ADDR/PREFIX` (with the
//! real port when `--listen` asked for port 0) and serves until interrupted. Every action
//! writes an audit line to stderr (`RUST_LOG` filters; default `info`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::Redirect;
use backtick_core::QueueAdmin;
use backtick_dashboard::{Access, DashboardConfig, auth};
use clap::{Args, ValueEnum};

use tokio_util::sync::CancellationToken;

use crate::commands::metrics;
use crate::error::CliError;
use crate::output::Output;

/// `backtick serve`
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on: an IP address and port (port 0: any free port). A
    /// non-loopback address needs --auth.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Hide every action; pages only.
    #[arg(long)]
    pub read_only: bool,
    /// Ask for credentials: basic (BT_DASHBOARD_USER, BT_DASHBOARD_PASSWORD) or bearer
    /// (BT_DASHBOARD_TOKEN).
    #[arg(long, value_enum, value_name = "SCHEME")]
    pub auth: Option<AuthScheme>,
    /// Serve the dashboard under this path (e.g. /admin/jobs) instead of at the root.
    #[arg(long, value_name = "PATH")]
    pub prefix: Option<String>,
    /// How often the metrics collector reads queue depths, lag and live runners for /metrics.
    #[arg(long, default_value = "15s", value_name = "DURATION", value_parser = metrics_interval)]
    pub metrics_interval: Duration,
}

fn metrics_interval(text: &str) -> Result<Duration, String> {
    crate::commands::parse_duration("--metrics-interval", text)
        .map_err(|e| e.one_line())
        .and_then(|d| {
            if d.is_zero() {
                Err("--metrics-interval must be above zero".to_owned())
            } else {
                Ok(d)
            }
        })
}

/// How `serve` authenticates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthScheme {
    /// HTTP basic authentication.
    Basic,
    /// A bearer token in the Authorization header.
    Bearer,
}

/// Serve the dashboard on `admin` until the process is interrupted.
///
/// # Errors
/// [`CliError::BadInput`] for a non-loopback address without auth, missing credentials, a
/// bad prefix, or an address that cannot be bound.
pub async fn serve(admin: Arc<dyn QueueAdmin>, args: &ServeArgs, out: &mut Output<'_>) -> Result<(), CliError> {
    let recorder = metrics::install()?;
    let app = app(admin.clone(), args, |name| std::env::var(name).ok())?.merge(metrics::router(recorder));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::bad_input(format!("cannot listen on {}: {e}", args.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::bad_input(format!("cannot listen on {}: {e}", args.listen)))?;
    init_audit_log();
    out.line(format!(
        "backtick dashboard listening on http://{bound}{}",
        args.prefix.as_deref().unwrap_or("/")
    ))?;
    out.out.flush()?;
    let stop_collecting = CancellationToken::new();
    let collector = metrics::collect(admin, args.metrics_interval, stop_collecting.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // Without a signal handler (it failed to install) the server runs until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .map_err(|e| CliError::bad_input(format!("the dashboard server stopped: {e}")));
    stop_collecting.cancel();
    let _ = collector.await;
    served
}

/// The application `serve` runs: the dashboard with the access `args` ask for (credentials
/// read through `env`), at its prefix.
///
/// # Errors
/// As [`serve`], but for binding.
pub fn app(
    admin: Arc<dyn QueueAdmin>,
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Router, CliError> {
    check(args)?;
    let mut config = DashboardConfig::default().read_only(args.read_only);
    match args.auth {
        Some(AuthScheme::Basic) => {
            let user = required(&env, "BT_DASHBOARD_USER", "--auth basic")?;
            let password = required(&env, "BT_DASHBOARD_PASSWORD", "--auth basic")?;
            config = config.authorize(auth::basic(user, password, Access::Full));
        }
        Some(AuthScheme::Bearer) => {
            let token = required(&env, "BT_DASHBOARD_TOKEN", "--auth bearer")?;
            config = config.authorize(auth::bearer(token, Access::Full));
        }
        None => {}
    }
    let dashboard = backtick_dashboard::router(admin, config);
    match args.prefix.as_deref() {
        None | Some("/") => Ok(dashboard),
        Some(prefix) => {
            let home = prefix.to_owned();
            Ok(Router::new()
                .nest(prefix, dashboard)
                .route("/", axum::routing::get(move || async move { Redirect::to(&home) })))
        }
    }
}

/// Check what can be checked before connecting: a non-loopback address needs `--auth`, and
/// the prefix must be a plain path.
///
/// # Errors
/// [`CliError::BadInput`] saying what to change.
pub fn check(args: &ServeArgs) -> Result<(), CliError> {
    if !args.listen.ip().is_loopback() && args.auth.is_none() {
        return Err(CliError::bad_input(format!(
            "refusing to serve the dashboard on {} without --auth: anyone who reaches it could act on the queue; \
             pass --auth basic or --auth bearer, or listen on 127.0.0.1",
            args.listen
        )));
    }
    match args.prefix.as_deref() {
        None | Some("/") => Ok(()),
        Some(prefix) => check_prefix(prefix),
    }
}

fn required(env: &impl Fn(&str) -> Option<String>, name: &str, flag: &str) -> Result<String, CliError> {
    env(name)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| CliError::bad_input(format!("{flag} needs {name} set in the environment")))
}

fn check_prefix(prefix: &str) -> Result<(), CliError> {
    let valid = prefix.starts_with('/')
        && !prefix.ends_with('/')
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(CliError::bad_input(format!(
            "--prefix {prefix:?} must be a path such as /admin/jobs: a leading /, no trailing /, letters, digits, - _ ."
        )))
    }
}

/// Audit lines and errors to stderr, filtered by `RUST_LOG` (default `info`). A subscriber
/// already installed (by a test) is kept.
fn init_audit_log() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
