#![deny(warnings)]

use std::time::Duration;

use backtick_core::{JobError, NewJob, QueueStore, TypedJob};

#[backtick_core::worker]
async fn log_sum(x: i64, y: i64) -> Result<(), JobError> {
    println!("sum {x} + {y} = {}", x + y);
    Ok(())
}

#[backtick_core::worker]
async fn no_arguments() {}

async fn schedule(store: &dyn QueueStore) -> Result<(), backtick_core::Error> {
    log_sum::schedule(store, 3, 4).await?;
    log_sum::schedule_many(store, [(88, 99), (1, 2)]).await?;
    no_arguments::schedule(store).await?;
    let job: TypedJob = log_sum::job(1, 2).run_after(Duration::from_secs(5)).queue("math").priority(1).max_attempts(2);
    let _for_a_transaction: NewJob = job.into_new_job()?;
    Ok(())
}

fn main() {
    // Still a plain async fn.
    let _run_directly = log_sum(1, 2);
    let _ = schedule;
    let _: &str = log_sum::NAME;
    let _worker = log_sum::worker();
}
