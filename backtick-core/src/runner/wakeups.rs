//! Wake-ups: forwards the store's hints (a job was enqueued on a queue) to the claim loop, so
//! an idle runner claims at once instead of at its next poll. Hints are lossy: the claim loop
//! still polls.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::runner::Shared;

/// Wake the claim loop for every hint about a queue this runner serves (and after missed
/// hints, which might have been), until `stop` fires or the store stops sending.
pub(crate) async fn forward(shared: Arc<Shared>, stop: CancellationToken) {
    let Some(mut hints) = shared.store.subscribe() else {
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
