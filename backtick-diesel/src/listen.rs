//! The LISTEN connection of the wake-up listener, a dedicated diesel-async connection read
//! through its `notifications_stream`; the task that runs it and reconnects with backoff is
//! [`backtick_pg_common::listen`].

use backtick_core::BoxError;
use backtick_pg_common::{CHANNELS, ListenSource, Notification, Notifications};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use futures::StreamExt;

use crate::connect::Connector;

/// Listener connections come from the store's [`Connector`], never from the pool, so the
/// listener never takes a slot from store calls.
impl ListenSource for Connector {
    type Connection = Listening;

    async fn listen(&self) -> Result<Listening, BoxError> {
        let mut conn = self.connect().await?;
        for channel in CHANNELS {
            conn.batch_execute(&format!("LISTEN {channel}")).await?;
        }
        Ok(Listening(conn))
    }
}

/// A connection listening on [`CHANNELS`].
pub(crate) struct Listening(AsyncPgConnection);

impl Notifications for Listening {
    /// The stream yields an error, or ends, once the connection fails or closes.
    /// Notifications sent while reconnecting are lost, which is fine for a hint. A fresh
    /// stream per call loses nothing: it reads the connection's notification queue.
    async fn next_notification(&mut self) -> Result<Notification, BoxError> {
        match std::pin::pin!(self.0.notifications_stream()).next().await {
            Some(Ok(notification)) => Ok(Notification {
                channel: notification.channel,
                payload: notification.payload,
            }),
            Some(Err(error)) => Err(error.into()),
            None => Err("the connection closed".into()),
        }
    }
}
