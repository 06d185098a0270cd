//! The heartbeat: extends the leases of this runner's claims (held, running and completing
//! jobs), and stops any held or running job whose lease was lost (revived elsewhere or
//! cancelled by an operator).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::runner::Shared;

/// Beat every `heartbeat_interval` until `stop` fires.
pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(shared.config.heartbeat_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => beat(&shared).await,
        }
    }
}

async fn beat(shared: &Shared) {
    let tokens = shared.claims.tokens();
    if tokens.is_empty() {
        return;
    }
    match shared
        .store
        .heartbeat_many(&tokens, shared.config.lease_ttl, shared.clock.now())
        .await
    {
        Ok(extended) => {
            let extended: std::collections::HashSet<_> = extended.into_iter().collect();
            for token in tokens.iter().filter(|t| !extended.contains(&t.job_id)) {
                if shared.claims.lose(token) {
                    tracing::warn!(%token, "lease lost (revived or cancelled); stopping the job's work");
                }
            }
        }
        Err(error) => tracing::warn!(%error, jobs = tokens.len(), "heartbeat failed; will retry next interval"),
    }
}
