//! The collector: database-level gauges (queue depth, queue lag, runners alive), read through
//! the admin contract by one process of a deployment.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{AdminError, QueueAdmin};
use crate::job::{JobState, Timestamp};
use crate::telemetry::{QUEUE_JOBS, QUEUE_LAG, RUNNERS_ALIVE};

/// Sets the database-level gauges from [`QueueAdmin::list_queues`] and
/// [`QueueAdmin::list_runners`]: `backtick_queue_jobs{queue,state}`,
/// `backtick_queue_lag_seconds{queue}` and `backtick_runners_alive`.
///
/// Run one per deployment, not one per runner: every collector reads the same database, and
/// the reads count rows. `backtick serve` runs one; an application that does not can
/// [`Collector::spawn`] its own. Queue depths are the admin contract's counts, capped like
/// [`crate::admin::CountQuery`]. A queue that disappears from the listing (pruned empty) has
/// its gauges set to zero, so a stale depth never lingers.
///
/// # Examples
/// ```no_run
/// # extern crate backtick_core as backtick_postgres;
/// # async fn example(admin: std::sync::Arc<dyn backtick_postgres::QueueAdmin>) {
/// use std::time::Duration;
/// use backtick_postgres::telemetry::Collector;
/// let stop = tokio_util::sync::CancellationToken::new();
/// let task = Collector::new(admin).spawn(Duration::from_secs(15), stop.clone());
/// // ... at shutdown:
/// stop.cancel();
/// let _ = task.await;
/// # }
/// ```
#[derive(Clone)]
pub struct Collector {
    admin: Arc<dyn QueueAdmin>,
    /// The queues given gauges so far.
    seen: Arc<Mutex<BTreeSet<String>>>,
}

/// What one collection saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectReport {
    /// Queues listed.
    pub queues: usize,
    /// Runners with a live heartbeat.
    pub runners_alive: usize,
}

impl fmt::Display for CollectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} queues, {} runners alive", self.queues, self.runners_alive)
    }
}

impl Collector {
    /// A collector reading through `admin`.
    pub fn new(admin: Arc<dyn QueueAdmin>) -> Self {
        Collector {
            admin,
            seen: Arc::default(),
        }
    }

    /// Read the queues and runners at `now` (`None`: the database clock) and set the gauges.
    ///
    /// # Errors
    /// The admin contract's error; the gauges keep their last values.
    pub async fn run_once(&self, now: Option<Timestamp>) -> Result<CollectReport, AdminError> {
        let queues = self.admin.list_queues(now).await?;
        let runners = self.admin.list_runners(now).await?;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let listed: BTreeSet<String> = queues.iter().map(|q| q.name.clone()).collect();
        for gone in seen.difference(&listed) {
            set_queue(gone, |_| 0.0, 0.0);
        }
        for queue in &queues {
            let lag = queue.oldest_due_age.unwrap_or_default().as_secs_f64();
            set_queue(&queue.name, |state| queue.count(state).value as f64, lag);
        }
        *seen = listed;
        let runners_alive = runners.iter().filter(|r| !r.stale).count();
        metrics::gauge!(RUNNERS_ALIVE).set(runners_alive as f64);
        Ok(CollectReport {
            queues: queues.len(),
            runners_alive,
        })
    }

    /// Collect every `interval` (the first at once) until `stop` fires, on the current tokio
    /// runtime. A failed collection is logged at warn and the next comes after the interval.
    pub fn spawn(self, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                match self.run_once(None).await {
                    Ok(report) => tracing::debug!(%report, "metrics collected"),
                    Err(error) => tracing::warn!(%error, "collecting queue metrics failed; will retry next interval"),
                }
            }
        })
    }
}

fn set_queue(queue: &str, count: impl Fn(JobState) -> f64, lag: f64) {
    for state in JobState::ALL {
        metrics::gauge!(QUEUE_JOBS, "queue" => queue.to_owned(), "state" => state.as_str()).set(count(state));
    }
    metrics::gauge!(QUEUE_LAG, "queue" => queue.to_owned()).set(lag);
}
