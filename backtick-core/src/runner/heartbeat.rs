//! The heartbeat: registers the runner (on start and at every tick, so operators see it
//! live), extends the leases of this runner's claims (held, running and completing jobs),
//! stops any held or running job whose lease was lost (revived elsewhere or cancelled by an
//! operator), and applies operators' cancellation requests a lost hint did not deliver.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::admin::RunnerInfo;
use crate::runner::{Shared, cancels};
use crate::trouble::Trouble;

/// The heartbeat's failures (registering or extending leases) in logs: one episode.
const HEARTBEAT: &str = "the heartbeat (registering the runner, extending its leases)";

/// Register (unless `registered`: [`register_now`] did), then beat every
/// `heartbeat_interval` until `stop`.
pub(crate) async fn run(shared: Arc<Shared>, registration: RunnerInfo, registered: bool, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(shared.config.heartbeat_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut trouble = Trouble::default();
    if !registered {
        register(&shared, &registration, &mut trouble).await;
    }
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {
                register(&shared, &registration, &mut trouble).await;
                beat(&shared, &mut trouble).await;
            }
        }
    }
}

/// Register or refresh the runner, live for one lease TTL; true when it worked. Errors are
/// logged: a runner that cannot register still runs its jobs.
async fn register(shared: &Shared, registration: &RunnerInfo, trouble: &mut Trouble) -> bool {
    let started = tokio::time::Instant::now();
    let registered = shared
        .store
        .register_runner(registration, shared.config.lease_ttl, shared.clock.now())
        .await;
    shared.contact.observe(started.elapsed(), registered.is_ok());
    match registered {
        Ok(()) => {
            trouble.worked(HEARTBEAT);
            true
        }
        Err(error) => {
            trouble.failed(HEARTBEAT, &error);
            false
        }
    }
}

/// Register the runner before it starts ([`crate::Runner::try_start`]). True when it worked;
/// a failure is logged and left to the heartbeat, which then registers at once.
pub(crate) async fn register_now(shared: &Shared, registration: &RunnerInfo) -> bool {
    register(shared, registration, &mut Trouble::default()).await
}

async fn beat(shared: &Shared, trouble: &mut Trouble) {
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
            let live: std::collections::HashSet<_> = extended.iter().copied().collect();
            for token in tokens.iter().filter(|t| !live.contains(&t.job_id)) {
                if shared.claims.lose(token) {
                    tracing::warn!(%token, "lease lost (revived or cancelled); stopping the job's work");
                }
            }
            cancels::check(shared, &extended).await;
        }
        Err(error) => {
            crate::telemetry::record_store_error(&error);
            trouble.failed(HEARTBEAT, &error);
        }
    }
}
