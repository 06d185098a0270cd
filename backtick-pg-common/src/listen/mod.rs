//! Wake-up hints, less the driver: a task per store LISTENs on [`CHANNEL`] on a connection of
//! its own, broadcasts each notification's payload (a queue name), and reconnects with backoff
//! when the connection fails. Lossy by design: runners still poll. A backend implements
//! [`ListenSource`] (connect and LISTEN) and [`Notifications`] (the next payload) with its
//! driver; a store keeps a [`Wake`].

mod listener;
mod wake;

use std::future::Future;

use backtick_core::BoxError;

pub use wake::Wake;

/// The NOTIFY channel the `backtick_jobs_notify` trigger sends on.
pub const CHANNEL: &str = "backtick_jobs";

/// Where the listener's connections come from: never the store's pool, so the listener never
/// takes a slot from store calls.
pub trait ListenSource: Send + Sync + 'static {
    /// A connection that is listening.
    type Connection: Notifications;

    /// Open a connection of its own and `LISTEN` on [`CHANNEL`].
    ///
    /// # Errors
    /// The driver's error; the listener logs it and tries again after a backoff.
    fn listen(&self) -> impl Future<Output = Result<Self::Connection, BoxError>> + Send;
}

/// A connection listening on [`CHANNEL`].
pub trait Notifications: Send + 'static {
    /// Wait for the next notification and return its payload.
    ///
    /// # Errors
    /// The driver's error once the connection failed or closed; the listener then drops this
    /// connection and opens another.
    fn next_payload(&mut self) -> impl Future<Output = Result<String, BoxError>> + Send;
}
