//! Maintenance services: the [`Reviver`] and the [`Pruner`]. Each has `run_once`, which
//! tests call directly, and the runner wraps it in [`every`]. Every runner runs them; they
//! are safe to run on many runners at once because each write is guarded in the store.

mod pruner;
mod reviver;

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use pruner::{PruneReport, Pruner};
pub use reviver::{ReviveReport, Reviver};

/// Run `tick` every `interval` until `stop` fires. A failed tick is logged and the loop goes
/// on: maintenance errors never stop a runner.
pub(crate) async fn every<F, Fut, R, E>(interval: Duration, stop: CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: Display,
    E: Display,
{
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match tick().await {
            Ok(report) => tracing::debug!(%report, "maintenance tick"),
            Err(error) => tracing::warn!(%error, "maintenance tick failed; will retry next interval"),
        }
    }
}
