//! The completer: collects the finishes of many jobs and writes them in batches, so a busy
//! runner makes one store call per batch instead of one per job.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::backoff::Backoff;
use crate::error::StoreError;
use crate::runner::Shared;
use crate::state::{Finish, Transition};
use crate::store::FinishReport;
use crate::telemetry::{COMPLETIONS_FENCED, record_store_error};

/// How many batches may be on their way to the store at once: while one waits for its
/// commit, the next is already being written. Batches hold different jobs, so their order
/// does not matter.
const WRITES_IN_FLIGHT: usize = 2;
/// How long a batch is retried on transient errors, beyond two leases, before it is given up
/// on. Until then the heartbeat keeps the batch's leases (its claims stay tracked), so a
/// database outage shorter than this loses no finished result: the batch is written when the
/// database is back, and the job does not run again.
const WRITE_PATIENCE: Duration = Duration::from_secs(30);
/// The waits between tries of a batch: short, so that a database that is back gets the
/// results soon.
const WRITE_BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));

/// Write finishes from `inbox` until it closes and is empty, then wait for the writes under
/// way. A batch is written once it holds `batch_size` finishes or its first finish has
/// waited `flush_interval` (and a write slot is free).
pub(crate) async fn run(shared: Arc<Shared>, mut inbox: mpsc::UnboundedReceiver<Finish>) {
    let batch_size = shared.config.completion_batch_size;
    let flush_interval = shared.config.completion_flush_interval;
    let mut writes = JoinSet::new();
    while let Some(first) = inbox.recv().await {
        while writes.len() >= WRITES_IN_FLIGHT {
            let _ = writes.join_next().await;
        }
        let mut batch = Vec::with_capacity(batch_size);
        batch.push(first);
        fill(&mut inbox, &mut batch, batch_size, flush_interval).await;
        let shared = shared.clone();
        writes.spawn(async move { write(&shared, &batch).await });
    }
    while writes.join_next().await.is_some() {}
}

async fn fill(inbox: &mut mpsc::UnboundedReceiver<Finish>, batch: &mut Vec<Finish>, size: usize, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while batch.len() < size {
        match inbox.try_recv() {
            Ok(finish) => batch.push(finish),
            Err(mpsc::error::TryRecvError::Disconnected) => return,
            Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(deadline, inbox.recv()).await {
                Ok(Some(finish)) => batch.push(finish),
                Ok(None) | Err(_) => return,
            },
        }
    }
}

/// Write one batch, retrying transient errors with backoff for two leases plus
/// [`WRITE_PATIENCE`]. A batch is only given up on when the error is permanent or the
/// patience is spent: its jobs stay running until their leases expire and the reviver puts
/// them back, so no job is lost either way.
async fn write(shared: &Shared, batch: &[Finish]) {
    let mut backoff = WRITE_BACKOFF;
    let give_up_at = tokio::time::Instant::now() + shared.config.lease_ttl * 2 + WRITE_PATIENCE;
    for attempt in 1u32.. {
        match shared.store.finish_many(batch, shared.clock.now()).await {
            Ok(report) => return written(shared, batch, &report),
            Err(error) if error.is_transient() && tokio::time::Instant::now() < give_up_at => {
                record_store_error(&error);
                // One line when the trouble starts, not one per try.
                if attempt == 1 {
                    tracing::warn!(%error, jobs = batch.len(), "writing completions failed; retrying until the database answers");
                } else {
                    tracing::debug!(%error, attempt, jobs = batch.len(), "writing completions failed again; retrying");
                }
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(error) => {
                record_store_error(&error);
                return given_up(shared, batch, &error);
            }
        }
    }
}

fn written(shared: &Shared, batch: &[Finish], report: &FinishReport) {
    for token in &report.stale {
        tracing::warn!(%token, "completion ignored: the claim was no longer live (revived or cancelled)");
    }
    if !report.stale.is_empty() {
        metrics::counter!(COMPLETIONS_FENCED).increment(report.stale.len() as u64);
    }
    if requeued_any(batch, report) || shared.limited_active.load(std::sync::atomic::Ordering::Relaxed) {
        // A retry or snooze is due at a time the idle claim loop may not know of yet: wake it
        // to ask the store again, so that the job starts on time. With limited queues, a finish
        // frees a slot of a queue whose claims came back short: ask again too.
        shared.wake.notify_one();
    }
    shared.stats.record_finished(batch, report);
    shared.claims.forget(batch.iter().map(|f| &f.token));
}

fn given_up(shared: &Shared, batch: &[Finish], error: &StoreError) {
    tracing::error!(
        %error,
        jobs = batch.len(),
        "writing completions failed; the jobs stay running until their leases expire and are revived"
    );
    shared.claims.forget(batch.iter().map(|f| &f.token));
}

/// Whether a finish of `batch` that took effect put its job back on the queue.
fn requeued_any(batch: &[Finish], report: &FinishReport) -> bool {
    batch.iter().any(|finish| {
        matches!(finish.transition, Transition::Queued { .. }) && report.applied.contains(&finish.token.job_id)
    })
}
