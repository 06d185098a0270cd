//! The LISTEN connection of the wake-up listener, with sqlx's [`PgListener`]; the task that
//! runs it and reconnects with backoff is [`backtick_pg_common::listen`].

use backtick_core::BoxError;
use backtick_pg_common::{CHANNELS, ListenSource, Notification, Notifications};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

/// Connections for the listener: a one-connection pool of its own (outside the store's
/// pool, so the listener never takes a slot from store calls), made from the store pool's
/// connect options.
pub(crate) struct ListenPool(PgPool);

impl ListenPool {
    /// Listener connections with `pool`'s connect options.
    pub(crate) fn new(pool: &PgPool) -> Self {
        ListenPool(
            PgPoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with((*pool.connect_options()).clone()),
        )
    }
}

impl ListenSource for ListenPool {
    type Connection = Listening;

    async fn listen(&self) -> Result<Listening, BoxError> {
        let mut listener = PgListener::connect_with(&self.0).await?;
        listener.ignore_pool_close_event(true);
        listener.listen_all(CHANNELS).await?;
        Ok(Listening(listener))
    }
}

/// A [`PgListener`] listening on [`CHANNELS`].
pub(crate) struct Listening(PgListener);

impl Notifications for Listening {
    /// `try_recv` reconnects by itself after a clean disconnect (returning `None`);
    /// notifications sent meanwhile are lost, which is fine for a hint.
    async fn next_notification(&mut self) -> Result<Notification, BoxError> {
        loop {
            match self.0.try_recv().await {
                Ok(Some(notification)) => {
                    return Ok(Notification {
                        channel: notification.channel().to_owned(),
                        payload: notification.payload().to_owned(),
                    });
                }
                Ok(None) => tracing::debug!("backtick wake-up listener reconnected"),
                Err(error) => return Err(error.into()),
            }
        }
    }
}
