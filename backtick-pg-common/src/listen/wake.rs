//! A store's side of the wake-up and cancellation hints: the broadcasts its subscribers receive, whether the
//! listener is up, and the listener task itself.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use backtick_core::WakeReceiver;
use backtick_core::admin::CancelReceiver;
use tokio::sync::{broadcast, watch};

use super::ListenSource;
use super::listener::{Hints, Listener};

/// How many wake-up hints a slow subscriber may fall behind before it skips some.
const WAKE_CAPACITY: usize = 256;

/// The wake-up hints of one store (shared by its clones): a broadcast fed by a listener task
/// started at the first subscription and stopped with [`Wake::stop`] or on drop.
#[derive(Debug)]
pub struct Wake {
    hints: Hints,
    listening: watch::Sender<bool>,
    listener: Mutex<Option<Listener>>,
}

impl Default for Wake {
    fn default() -> Self {
        Wake {
            hints: Hints {
                wake: broadcast::channel(WAKE_CAPACITY).0,
                cancels: broadcast::channel(WAKE_CAPACITY).0,
            },
            listening: watch::channel(false).0,
            listener: Mutex::new(None),
        }
    }
}

impl Wake {
    /// No listener yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start the listener task on connections from `source()`, once: not when it runs
    /// already, nor when the store's pool is `closed`, nor outside a tokio runtime (then a
    /// warning naming `store` says runners poll only).
    pub fn start<S: ListenSource>(&self, store: &'static str, closed: bool, source: impl FnOnce() -> S) {
        let mut slot = self.listener.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() || closed {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!("{store}::subscribe called outside a tokio runtime: no wake-up hints, polling only");
            return;
        }
        *slot = Some(Listener::spawn(source(), self.hints.clone(), self.listening.clone()));
    }

    /// A receiver of the hints broadcast from now on.
    pub fn subscribe(&self) -> WakeReceiver {
        self.hints.wake.subscribe()
    }

    /// A receiver of the cancellation hints (job ids) broadcast from now on.
    pub fn subscribe_cancels(&self) -> CancelReceiver {
        self.hints.cancels.subscribe()
    }

    /// True while the listener is connected and listening.
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    /// Wait until the listener is connected and listening, at most `timeout`; true when it is.
    /// Start it first ([`Wake::start`]).
    pub async fn wait_listening(&self, timeout: Duration) -> bool {
        let mut listening = self.listening.subscribe();
        tokio::time::timeout(timeout, listening.wait_for(|up| *up))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stop the listener task, if any. A later [`Wake::start`] starts a new one.
    pub fn stop(&self) {
        drop(self.listener.lock().unwrap_or_else(PoisonError::into_inner).take());
    }
}
