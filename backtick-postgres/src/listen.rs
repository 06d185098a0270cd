//! Wake-up hints: one task per store LISTENs on `backtick_jobs` and broadcasts each
//! notification's payload (a queue name). Lossy by design: runners still poll.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

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
    /// Start listening with a connection of its own (outside `pool`, so it never takes a
    /// slot from store calls), made from `pool`'s connect options. Must be called inside a
    /// tokio runtime.
    pub(crate) fn spawn(pool: &PgPool, wake: broadcast::Sender<String>, listening: watch::Sender<bool>) -> Self {
        let own = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with((*pool.connect_options()).clone());
        Listener {
            task: tokio::spawn(run(own, wake, listening)),
        }
    }
}

/// Connect, LISTEN, forward; on any failure wait (exponential backoff) and start over.
async fn run(pool: PgPool, wake: broadcast::Sender<String>, listening: watch::Sender<bool>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match connect(&pool).await {
            Ok(listener) => {
                backoff = FIRST_BACKOFF;
                listening.send_replace(true);
                let error = forward(listener, &wake).await;
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

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Forward notifications until the connection fails. `try_recv` reconnects by itself after
/// a clean disconnect (returning `None`); notifications sent meanwhile are lost, which is
/// fine for a hint.
async fn forward(mut listener: PgListener, wake: &broadcast::Sender<String>) -> sqlx::Error {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                // No receivers is not an error: nobody is waiting right now.
                let _ = wake.send(notification.payload().to_owned());
            }
            Ok(None) => tracing::debug!("backtick wake-up listener reconnected"),
            Err(error) => return error,
        }
    }
}
