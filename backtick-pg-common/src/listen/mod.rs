//! Wake-up and cancellation hints, less the driver: a task per store LISTENs on [`CHANNELS`]
//! on a connection of its own, broadcasts each notification's payload (a queue name on
//! [`CHANNEL`], a job id on [`CANCEL_CHANNEL`]), and reconnects with backoff when the
//! connection fails. Lossy by design: runners still poll. A backend implements
//! [`ListenSource`] (connect and LISTEN) and [`Notifications`] (the next payload) with its
//! driver; a store keeps a [`Wake`].

mod listener;
mod wake;

use std::future::Future;

use backtick_core::BoxError;

pub use wake::Wake;

pub use crate::admin_sql::CANCEL_CHANNEL;

/// The NOTIFY channel the `backtick_jobs_notify` trigger sends on.
pub const CHANNEL: &str = "backtick_jobs";

/// Every channel the listener LISTENs on: wake-ups ([`CHANNEL`]) and cancellation requests
/// ([`CANCEL_CHANNEL`]), on one connection.
pub const CHANNELS: [&str; 2] = [CHANNEL, CANCEL_CHANNEL];

/// Where the listener's connections come from: never the store's pool, so the listener never
/// takes a slot from store calls.
pub trait ListenSource: Send + Sync + 'static {
    /// A connection that is listening.
    type Connection: Notifications;

    /// Open a connection of its own and `LISTEN` on each of [`CHANNELS`].
    ///
    /// # Errors
    /// The driver's error; the listener logs it and tries again after a backoff.
    fn listen(&self) -> impl Future<Output = Result<Self::Connection, BoxError>> + Send;
}

/// A connection listening on [`CHANNELS`].
pub trait Notifications: Send + 'static {
    /// Wait for the next notification and return its channel and payload.
    ///
    /// # Errors
    /// The driver's error once the connection failed or closed; the listener then drops this
    /// connection and opens another.
    fn next_notification(&mut self) -> impl Future<Output = Result<Notification, BoxError>> + Send;
}

/// One notification: the channel it came on and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The channel, one of [`CHANNELS`].
    pub channel: String,
    /// The payload: a queue name or a job id.
    pub payload: String,
}
