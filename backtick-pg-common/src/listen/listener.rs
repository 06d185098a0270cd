//! The listener task: connect, LISTEN, forward; on any failure wait and start over.

use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use backtick_core::JobId;

use super::{CANCEL_CHANNEL, ListenSource, Notifications};

/// First wait after the listener's connection fails; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between the listener's reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the listener forwards what it hears: wake-ups (queue names) and cancellation
/// requests (job ids).
#[derive(Debug, Clone)]
pub(super) struct Hints {
    /// Queue names from [`super::CHANNEL`].
    pub(super) wake: broadcast::Sender<String>,
    /// Job ids from [`CANCEL_CHANNEL`].
    pub(super) cancels: broadcast::Sender<JobId>,
}

/// The running listener task; aborted when dropped.
#[derive(Debug)]
pub(super) struct Listener {
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Start listening on connections from `source`. Must be called inside a tokio runtime.
    pub(super) fn spawn<S: ListenSource>(source: S, hints: Hints, listening: watch::Sender<bool>) -> Self {
        Listener {
            task: tokio::spawn(run(source, hints, listening)),
        }
    }
}

/// Connect, LISTEN, forward; on any failure wait (exponential backoff) and start over.
async fn run<S: ListenSource>(source: S, hints: Hints, listening: watch::Sender<bool>) {
    let mut backoff = FIRST_BACKOFF;
    // Failed connects since the connection was lost: the first is a warning, the rest debug.
    let mut failed_connects = 0u32;
    let mut lost = false;
    loop {
        match source.listen().await {
            Ok(connection) => {
                backoff = FIRST_BACKOFF;
                if lost {
                    tracing::info!(failed_connects, "backtick wake-up listener reconnected");
                }
                failed_connects = 0;
                listening.send_replace(true);
                let error = forward(connection, &hints).await;
                listening.send_replace(false);
                lost = true;
                tracing::warn!(%error, "backtick wake-up listener lost its connection; reconnecting (runners poll meanwhile)");
            }
            Err(error) => {
                failed_connects += 1;
                if failed_connects == 1 {
                    tracing::warn!(%error, retry_in = ?backoff, "backtick wake-up listener cannot connect; runners fall back to polling");
                } else {
                    tracing::debug!(%error, failed_connects, retry_in = ?backoff, "backtick wake-up listener still cannot connect");
                }
                lost = true;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Forward notifications until the connection fails. Notifications sent while reconnecting
/// are lost, which is fine for a hint.
async fn forward<N: Notifications>(mut connection: N, hints: &Hints) -> backtick_core::BoxError {
    loop {
        match connection.next_notification().await {
            // No receivers is not an error: nobody is waiting right now.
            Ok(n) if n.channel == CANCEL_CHANNEL => match n.payload.parse::<i64>() {
                Ok(id) => {
                    let _ = hints.cancels.send(JobId(id));
                }
                Err(_) => tracing::debug!(payload = %n.payload, "ignoring a cancellation hint that is not a job id"),
            },
            Ok(n) => {
                let _ = hints.wake.send(n.payload);
            }
            Err(error) => return error,
        }
    }
}
