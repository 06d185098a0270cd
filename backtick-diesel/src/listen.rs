//! Wake-up hints: one task per store LISTENs on `backtick_jobs` on a dedicated connection and
//! broadcasts each notification's payload (a queue name). Lossy by design: runners still poll.

use std::time::Duration;

use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::connect::Connector;

/// The NOTIFY channel the `backtick_jobs_notify` trigger sends on.
pub const CHANNEL: &str = "backtick_jobs";

/// First wait after the listener's connection fails; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between the listener's reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The running listener task; aborted when dropped.
#[derive(Debug)]
pub(crate) struct Listener {
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Start listening on connections from `connector`, never from the pool, so the listener
    /// never takes a slot from store calls. Must be called inside a tokio runtime.
    pub(crate) fn spawn(connector: Connector, wake: broadcast::Sender<String>, listening: watch::Sender<bool>) -> Self {
        Listener {
            task: tokio::spawn(run(connector, wake, listening)),
        }
    }
}

/// Connect, LISTEN, forward; on any failure wait (exponential backoff) and start over.
async fn run(connector: Connector, wake: broadcast::Sender<String>, listening: watch::Sender<bool>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match connect(&connector).await {
            Ok(conn) => {
                backoff = FIRST_BACKOFF;
                listening.send_replace(true);
                let error = forward(conn, &wake).await;
                listening.send_replace(false);
                tracing::warn!(%error, "backtick wake-up listener lost its connection; reconnecting");
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "backtick wake-up listener cannot connect; runners fall back to polling");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect(connector: &Connector) -> Result<AsyncPgConnection, backtick_core::BoxError> {
    let mut conn = connector.connect().await?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok(conn)
}

/// Forward notifications until the connection fails or closes (the stream then yields an
/// error, or ends). Notifications sent while reconnecting are lost, which is fine for a hint.
async fn forward(mut conn: AsyncPgConnection, wake: &broadcast::Sender<String>) -> backtick_core::BoxError {
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(received) = notifications.next().await {
        match received {
            // No receivers is not an error: nobody is waiting right now.
            Ok(notification) => {
                let _ = wake.send(notification.payload);
            }
            Err(error) => return error.into(),
        }
    }
    "the connection closed".into()
}
