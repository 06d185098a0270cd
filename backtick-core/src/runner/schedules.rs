//! The schedule loop: stores this runner's recurring and cron schedules on start, then fires
//! the due ones. Every runner runs it; the store's compare-and-set of the next fire time
//! decides which runner enqueues each fire, so each fires exactly once.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::error::{ConfigError, StoreError};
use crate::job::Timestamp;
use crate::registry::Registry;
use crate::runner::Shared;
use crate::schedule::{Periodic, ScheduleRecord};

/// How many fires of one schedule a tick plans at most (fires due together after a pause).
const MAX_FIRES_PER_TICK: usize = 100;

/// Reject schedules whose worker is not registered, and duplicate schedule names.
pub(crate) fn check(periodics: &[Periodic], registry: &Registry) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for periodic in periodics {
        if registry.get(&periodic.job.worker).is_none() {
            return Err(ConfigError::new(
                "periodic",
                format!(
                    "schedule {:?} runs worker {:?}, which is not registered; register the worker too",
                    periodic.name, periodic.job.worker
                ),
            ));
        }
        if !seen.insert(periodic.name.as_str()) {
            return Err(ConfigError::new(
                "periodic",
                format!("two schedules are named {:?}", periodic.name),
            ));
        }
    }
    Ok(())
}

/// Store the schedules, then fire due ones every `schedule_interval` until `stop` fires.
pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    if shared.periodics.is_empty() {
        return;
    }
    let by_name: HashMap<&str, &Periodic> = shared.periodics.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut stored = false;
    let mut ticks = tokio::time::interval(shared.config.schedule_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let result = if stored {
            fire_due(&shared, &by_name).await
        } else {
            store_all(&shared).await
        };
        match result {
            Ok(()) => stored = true,
            Err(error) => tracing::warn!(%error, "schedule tick failed; will retry next interval"),
        }
    }
}

async fn now(shared: &Shared) -> Result<Timestamp, StoreError> {
    match shared.clock.now() {
        Some(now) => Ok(now),
        None => shared.store.now().await,
    }
}

async fn store_all(shared: &Shared) -> Result<(), StoreError> {
    let now = now(shared).await?;
    let records: Vec<ScheduleRecord> = shared.periodics.iter().map(|p| p.record(now)).collect();
    let stored = shared.store.upsert_schedules(&records, shared.clock.now()).await?;
    for record in &stored {
        tracing::info!(schedule = %record.name, spec = %record.spec, next = ?record.next_run_at, "schedule registered");
    }
    Ok(())
}

async fn fire_due(shared: &Shared, by_name: &HashMap<&str, &Periodic>) -> Result<(), StoreError> {
    let now = now(shared).await?;
    let due = shared.store.due_schedules(&shared.worker_names, Some(now)).await?;
    for record in due {
        // A schedule stored by another deployment for a worker we also have, but under a name
        // we don't know, is left alone: we cannot compute its fire times.
        let (Some(periodic), Some(mut next)) = (by_name.get(record.name.as_str()), record.next_run_at) else {
            continue;
        };
        for _ in 0..MAX_FIRES_PER_TICK {
            let fire = periodic.plan(next, now, shared.config.schedule_grace);
            if !shared.store.fire_schedule(&fire, Some(now)).await? {
                break; // another runner fired it
            }
            tracing::debug!(schedule = %fire.name, at = %fire.expected, enqueued = fire.job.is_some(), "schedule fired");
            match fire.next {
                Some(following) if following <= now => next = following,
                _ => break,
            }
        }
    }
    Ok(())
}
