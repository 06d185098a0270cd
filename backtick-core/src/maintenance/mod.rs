//! Maintenance services: the [`Reviver`], the [`Pruner`], the [`Vacuumer`], the
//! [`UnservedWarner`] and the [`ScheduleFirer`]. Each is one file of the same shape: built with a store and a clock,
//! and `run_once(now)` does one pass and returns a report. Tests call `run_once` directly;
//! a runner drives each in the one loop helper, `every`. Every runner runs them; they are
//! safe to run on many runners at once because each write is guarded in the store.

mod contact;
mod pruner;
mod reviver;
mod scheduler;
mod unserved;
mod vacuum;

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use contact::Contact;
pub use pruner::{PruneReport, Pruner};
pub use reviver::{ReviveReport, Reviver};
pub(crate) use scheduler::check_periodics;
pub use scheduler::{ScheduleFirer, ScheduleReport};
pub use unserved::{UnservedReport, UnservedWarner};
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

    /// How long after the start of its last pass the service wants the next one, when
    /// sooner than its interval (the schedule firer: its next fire time). `None`: at the
    /// interval.
    fn next_pass_in(&self) -> Option<Duration> {
        None
    }
}

/// The shortest wait [`every`] makes between passes, so that a service whose next pass is
/// always due (a fire that cannot be consumed, say) cannot spin.
const MIN_PASS_GAP: Duration = Duration::from_millis(5);

/// Spawn [`every`] on the current tokio runtime.
pub(crate) fn spawn(service: impl Service, interval: Duration, stop: &CancellationToken) -> JoinHandle<()> {
    tokio::spawn(every(service, interval, stop.clone()))
}

/// Run `service` every `interval` (the first pass at once), or sooner when the service asks
/// ([`Service::next_pass_in`], never closer than [`MIN_PASS_GAP`]), until `stop` fires. A
/// failed pass is logged and the next comes after the interval: maintenance errors never
/// stop a runner.
pub(crate) async fn every<S: Service>(service: S, interval: Duration, stop: CancellationToken) {
    let mut next_pass = tokio::time::Instant::now();
    let mut trouble = crate::trouble::Trouble::default();
    let what = format!("the {} maintenance tick", S::NAME);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next_pass) => {}
        }
        let started = tokio::time::Instant::now();
        let wait = match service.run_once(service.clock().now()).await {
            Ok(report) => {
                trouble.worked(&what);
                tracing::debug!(service = S::NAME, %report, "maintenance tick");
                service.next_pass_in().map_or(interval, |sooner| {
                    sooner.clamp(MIN_PASS_GAP, interval.max(MIN_PASS_GAP))
                })
            }
            Err(error) => {
                crate::telemetry::record_store_error(&error);
                trouble.failed(&what, &error);
                interval
            }
        };
        next_pass = started + wait;
    }
}

/// `now`, or else the store's clock.
async fn now_or_store(store: &dyn QueueStore, now: Option<Timestamp>) -> Result<Timestamp, StoreError> {
    match now {
        Some(now) => Ok(now),
        None => store.now().await,
    }
}
