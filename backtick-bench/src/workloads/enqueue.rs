//! A.enqueue: how fast jobs go in, one at a time and in batches.

use std::time::Instant;

use backtick_postgres::JobState;

use super::{Env, NOOP, expect_count, insert, job, per_second};
use crate::limits::Limit;
use crate::report::Figure;

/// A.enqueue.single: one `enqueue` per job, each its own statement and transaction.
pub(super) async fn single(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.single;
    let started = Instant::now();
    for _ in 0..n {
        store.enqueue(job(NOOP)?, None).await.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    expect_count(&*store, JobState::Queued, n).await?;
    Ok(vec![
        Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s").against(Limit::InsertSingle),
    ])
}

/// A.enqueue.bulk: `enqueue_many` in batches.
pub(super) async fn bulk(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let store = env.store.queue();
    let n = env.sizes.bulk;
    let started = Instant::now();
    insert(&*store, NOOP, n, env.sizes.bulk_batch).await?;
    let elapsed = started.elapsed();
    expect_count(&*store, JobState::Queued, n).await?;
    Ok(vec![
        Figure::new("jobs_per_s", per_second(n, elapsed), "jobs/s").against(Limit::InsertBulk),
    ])
}
