//! The producer: enqueues jobs at a steady rate through the backend's store, retrying a batch
//! the store refused, and remembers every job the store acknowledged.

use std::sync::Arc;
use std::time::Duration;

use backtick_postgres::{JobId, NewJob, QueueStore};

use super::{LEDGER_WORKER, LedgerArgs};
use crate::HarnessError;

/// What a job was enqueued as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Records its execution and succeeds.
    Normal,
    /// Panics on its first attempt, then succeeds on its second.
    PanicFirst,
    /// A payload the worker cannot decode: it must end dead, not loop.
    Poison,
}

/// A job the store acknowledged.
#[derive(Debug, Clone, Copy)]
pub struct Acked {
    /// The producer's sequence number.
    pub seq: i64,
    /// The job's id.
    pub id: JobId,
    /// What it was enqueued as.
    pub kind: JobKind,
}

/// The producer's plan.
#[derive(Debug, Clone, Copy)]
pub struct ProducerPlan {
    /// Jobs per second.
    pub rate: u64,
    /// How many jobs in all.
    pub jobs: u64,
    /// Each job's sleep, in milliseconds.
    pub sleep_ms: u64,
    /// One job in this many panics on its first attempt (0: none).
    pub panic_every: u64,
    /// One job in this many is poison (0: none).
    pub poison_every: u64,
}

/// How often the producer enqueues a batch.
const TICK: Duration = Duration::from_millis(100);

/// Enqueue the plan's jobs at its rate; returns every acknowledged job.
///
/// # Errors
/// When a job cannot be encoded (never for the plan's payloads).
pub async fn produce(store: Arc<dyn QueueStore>, plan: ProducerPlan) -> Result<Vec<Acked>, HarnessError> {
    let per_tick = (plan.rate * TICK.as_millis() as u64 / 1_000).max(1);
    let mut acked = Vec::with_capacity(plan.jobs as usize);
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0;
    while (seq as u64) < plan.jobs {
        ticks.tick().await;
        let count = per_tick.min(plan.jobs - seq as u64) as i64;
        let kinds: Vec<_> = (seq..seq + count).map(|s| kind_of(&plan, s)).collect();
        let batch = (seq..seq + count)
            .zip(&kinds)
            .map(|(s, kind)| new_job(&plan, s, *kind))
            .collect::<Result<Vec<_>, _>>()?;
        // A refused batch is retried until it is stored: the store is down or full for a while.
        let ids = loop {
            match store.enqueue_many(batch.clone(), None).await {
                Ok(ids) => break ids,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        for ((s, kind), id) in (seq..seq + count).zip(kinds).zip(ids) {
            acked.push(Acked { seq: s, id, kind });
        }
        seq += count;
    }
    Ok(acked)
}

fn kind_of(plan: &ProducerPlan, seq: i64) -> JobKind {
    let seq = seq as u64;
    if plan.poison_every > 0 && seq % plan.poison_every == plan.poison_every - 1 {
        JobKind::Poison
    } else if plan.panic_every > 0 && seq % plan.panic_every == plan.panic_every / 2 {
        JobKind::PanicFirst
    } else {
        JobKind::Normal
    }
}

fn new_job(plan: &ProducerPlan, seq: i64, kind: JobKind) -> Result<NewJob, HarnessError> {
    let job = match kind {
        // Not the worker's argument type: decoding fails on every attempt.
        JobKind::Poison => NewJob::new(LEDGER_WORKER, &(seq, "poison"))?,
        _ => NewJob::new(
            LEDGER_WORKER,
            &LedgerArgs {
                seq,
                sleep_ms: plan.sleep_ms,
                panic_first: kind == JobKind::PanicFirst,
            },
        )?,
    };
    Ok(job.max_attempts(5))
}
