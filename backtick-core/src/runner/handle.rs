//! The handle of a started runner: its counters, a wake-up, and graceful shutdown.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::runner::{RunnerStats, Shared};

/// Controls a started [`Runner`](crate::Runner).
pub struct RunnerHandle {
    pub(super) shared: Arc<Shared>,
    /// Stops the claim loop, which then drains the pool.
    pub(super) stop_claiming: CancellationToken,
    /// Stops the heartbeat, the wake-ups and the maintenance loops, once every completion is
    /// written.
    pub(super) stop_background: CancellationToken,
    pub(super) claim_loop: JoinHandle<()>,
    pub(super) completer: JoinHandle<()>,
    pub(super) background: Vec<JoinHandle<()>>,
}

impl RunnerHandle {
    /// Counters of what this runner has done so far.
    pub fn stats(&self) -> RunnerStats {
        self.shared.stats.snapshot()
    }

    /// Ask the claim loop to look for jobs now instead of at its next poll.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Graceful shutdown: stop claiming, wait for running jobs up to `shutdown_timeout`, then
    /// stop and release the rest (they are due again at once, the attempt refunded), write
    /// every completion, and stop the background loops. Returns the final counters.
    pub async fn shutdown(self) -> RunnerStats {
        self.stop_claiming.cancel();
        if let Err(error) = self.claim_loop.await {
            tracing::error!(%error, "the claim loop ended abnormally");
        }
        // Every job task has ended (or been aborted): the slots leave the gauge.
        self.shared.slots_free.decrement(self.shared.config.concurrency as f64);
        // The claim loop and every job task have dropped their senders: the completer
        // writes what is left and ends.
        if let Err(error) = self.completer.await {
            tracing::error!(%error, "the completer ended abnormally");
        }
        self.stop_background.cancel();
        for task in self.background {
            let _ = task.await;
        }
        // Operators stop seeing the runner; a failure only leaves a row that goes stale.
        let runner_id = &self.shared.config.runner_id;
        if let Err(error) = self.shared.store.deregister_runner(runner_id).await {
            tracing::warn!(%error, %runner_id, "deregistering the runner failed; it shows as stale until forgotten");
        }
        tracing::info!(runner_id = %self.shared.config.runner_id, "runner stopped");
        self.shared.stats.snapshot()
    }
}
