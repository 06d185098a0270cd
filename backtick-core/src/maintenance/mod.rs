//! Maintenance services: the [`Reviver`], the [`Pruner`], the [`Vacuumer`] and the
//! [`ScheduleFirer`]. Each is one file of the same shape: built with a store and a clock,
//! and `run_once(now)` does one pass and returns a report. Tests call `run_once` directly;
//! a runner drives each in the one loop helper, [`every`]. Every runner runs them; they are
//! safe to run on many runners at once because each write is guarded in the store.

mod pruner;
mod reviver;
mod scheduler;
mod vacuum;

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use pruner::{PruneReport, Pruner};
pub use reviver::{ReviveReport, Reviver};
pub(crate) use scheduler::check_periodics;
pub use scheduler::{ScheduleFirer, ScheduleReport};
pub use vacuum::{VacuumReport, Vacuumer};

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::Timestamp;
use crate::store::QueueStore;

/// What [`every`] drives: a service's pass, at the time its clock gives.
pub(crate) trait Service: Send + Sync + 'static {
    /// The service's name in logs.
    const NAME: &'static str;

    /// What one pass did.
    type Report: Display + Send;

    /// The clock each pass reads its `now` from.
    fn clock(&self) -> &dyn Clock;

    /// One pass at `now` (`None` for the store's clock).
    fn run_once(&self, now: Option<Timestamp>) -> impl Future<Output = Result<Self::Report, StoreError>> + Send;
}

/// Spawn [`every`] on the current tokio runtime.
pub(crate) fn spawn(service: impl Service, interval: Duration, stop: &CancellationToken) -> JoinHandle<()> {
    tokio::spawn(every(service, interval, stop.clone()))
}

/// Run `service` every `interval` (the first pass at once) until `stop` fires. A failed pass
/// is logged and the loop goes on: maintenance errors never stop a runner.
pub(crate) async fn every<S: Service>(service: S, interval: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match service.run_once(service.clock().now()).await {
            Ok(report) => tracing::debug!(service = S::NAME, %report, "maintenance tick"),
            Err(error) => {
                tracing::warn!(service = S::NAME, %error, "maintenance tick failed; will retry next interval")
            }
        }
    }
}

/// `now`, or else the store's clock.
async fn now_or_store(store: &dyn QueueStore, now: Option<Timestamp>) -> Result<Timestamp, StoreError> {
    match now {
        Some(now) => Ok(now),
        None => store.now().await,
    }
}
