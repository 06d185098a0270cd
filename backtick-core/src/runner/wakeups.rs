//! Wake-ups: forwards the store's hints (a job was enqueued on a queue) to the claim loop, so
//! an idle runner claims at once instead of at its next poll. Hints are lossy: the claim loop
//! still polls. [`wake_when_live`] wakes the claim loop once more when the hints go live, for
//! a job enqueued between the runner's first claim and its listener's `LISTEN`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::runner::Shared;
use crate::store::WakeReceiver;

/// Wake the claim loop for every hint in `hints` (the runner's subscription, taken at start)
/// about a queue this runner serves (and after missed hints, which might have been), until
/// `stop` fires or the store stops sending.
pub(crate) async fn forward(shared: Arc<Shared>, hints: Option<WakeReceiver>, stop: CancellationToken) {
    let Some(mut hints) = hints else {
        return;
    };
    loop {
        let hint = tokio::select! {
            _ = stop.cancelled() => return,
            hint = hints.recv() => hint,
        };
        match hint {
            Ok(queue) if shared.serves(&queue) => shared.wake.notify_one(),
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => shared.wake.notify_one(),
            Err(RecvError::Closed) => return,
        }
    }
}

/// How long a starting runner waits for the store's hints to be live before it says so.
pub(crate) const HINTS_TIMEOUT: Duration = Duration::from_secs(2);

/// Wait until the store's hints are live (its listener is listening), at most
/// [`HINTS_TIMEOUT`] and not past `stop`, then wake the claim loop. The claim loop does not
/// wait for this: its first claim goes out at once, beside the listener's connect, and this
/// wake-up makes it claim again once a job enqueued in between can no longer go unhinted;
/// until then an idle claim loop polls every few milliseconds (`claim_loop::STARTUP_POLL`),
/// so a job enqueued while the listener connects waits for neither.
/// On timeout the runner goes on, polling, and says so once.
pub(crate) async fn wake_when_live(shared: Arc<Shared>, stop: CancellationToken) {
    let live = tokio::select! {
        _ = stop.cancelled() => return,
        live = shared.store.wait_for_hints(HINTS_TIMEOUT) => live,
    };
    if !live {
        tracing::warn!(
            timeout = ?HINTS_TIMEOUT,
            "the store's wake-up hints are not live yet; new jobs may wait for the poll until they are"
        );
    }
    shared.hints_live.store(true, std::sync::atomic::Ordering::Release);
    shared.wake.notify_one();
}
