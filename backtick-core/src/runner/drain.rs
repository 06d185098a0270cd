//! The end of a graceful shutdown, once the claim loop has stopped claiming: wait for the
//! running jobs up to `shutdown_timeout`, then stop the rest and release them so another
//! runner can take them at once.

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::cancel::CancelReason;
use crate::runner::Shared;
use crate::runner::claims::Phase;
use crate::state::{Finish, transition_for_release};

/// Wait for the jobs on `pool` up to the shutdown timeout; then cancel and abort the rest and
/// send their releases (due again at once, attempt refunded) to the completer.
pub(crate) async fn run(shared: &Shared, mut pool: JoinSet<()>, finishes: &mpsc::UnboundedSender<Finish>) {
    let deadline = tokio::time::Instant::now() + shared.config.shutdown_timeout;
    loop {
        tokio::select! {
            joined = pool.join_next() => if joined.is_none() { return },
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    tracing::warn!(
        running = pool.len(),
        "shutdown timeout reached; stopping and releasing the jobs still running"
    );
    shared.claims.stop_running(&CancelReason::ShuttingDown);
    shared.hard_stop.cancel();
    pool.abort_all();
    while pool.join_next().await.is_some() {}
    for token in shared.claims.in_phase(Phase::Running) {
        let _ = finishes.send(Finish {
            token,
            transition: transition_for_release(),
        });
    }
}
