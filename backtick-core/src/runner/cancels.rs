//! Operators' cancellation requests for the jobs this runner holds: the store's hints
//! ([`QueueStore::subscribe_cancels`](crate::QueueStore::subscribe_cancels)) are confirmed with
//! `cancel_requests` and applied at once; the heartbeat asks for the same as a fallback. A
//! running job's work is stopped (its executor then finishes it `cancelled`); a held job, which
//! never started, is finished `cancelled` here without running.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::admin::CancelRequest;
use crate::job::JobId;
use crate::runner::Shared;
use crate::runner::claims::Phase;
use crate::state::{Finish, Transition};

/// Listen for cancellation hints until `stop`; returns at once when the store has none.
pub(crate) async fn listen(shared: Arc<Shared>, stop: CancellationToken) {
    let Some(mut hints) = shared.store.subscribe_cancels() else {
        return;
    };
    loop {
        let ids: Vec<JobId> = tokio::select! {
            _ = stop.cancelled() => return,
            hint = hints.recv() => match hint {
                Ok(id) if shared.claims.holds(id) => vec![id],
                Ok(_) => continue,
                // Missed some: check every job this runner holds.
                Err(RecvError::Lagged(_)) => shared.claims.tokens().into_iter().map(|t| t.job_id).collect(),
                Err(RecvError::Closed) => return,
            },
        };
        check(&shared, &ids).await;
    }
}

/// Ask the store for the pending requests among `ids` and apply them.
pub(crate) async fn check(shared: &Shared, ids: &[JobId]) {
    if ids.is_empty() {
        return;
    }
    match shared.store.cancel_requests(ids).await {
        Ok(requests) => apply(shared, requests).await,
        Err(error) => {
            tracing::warn!(%error, jobs = ids.len(), "reading cancellation requests failed; the next heartbeat retries")
        }
    }
}

async fn apply(shared: &Shared, requests: Vec<CancelRequest>) {
    let mut held = Vec::new();
    for request in requests {
        let Some((token, phase)) = shared.claims.request_cancel(request.job_id, &request.reason) else {
            continue;
        };
        tracing::info!(%token, reason = %request.reason, "cancellation requested by an operator; stopping the job");
        if phase == Phase::Held {
            held.push(Finish {
                token,
                transition: Transition::Cancelled { reason: request.reason },
            });
        }
    }
    if held.is_empty() {
        return;
    }
    if let Err(error) = shared.store.finish_many(&held, shared.clock.now()).await {
        // The store keeps the request: the lease runs out and the revive ends it cancelled.
        tracing::warn!(%error, jobs = held.len(), "finishing held jobs as cancelled failed");
    }
}
