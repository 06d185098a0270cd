//! One job: run the worker under a timeout, catch a panic, turn the result into an
//! [`Outcome`], then into the fenced [`Finish`] the completer writes.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::job::{ClaimToken, Job};
use crate::retry::RetryPolicy;
use crate::state::{Finish, Outcome, transition_for};
use crate::worker::{JobContext, Worker};

/// Run `job` on `worker` and report how it ended. Never panics, never hangs past `timeout`.
pub(crate) async fn run_job(
    job: Job,
    worker: Arc<dyn Worker>,
    timeout: Duration,
    cancel: CancellationToken,
) -> Outcome {
    let ctx = JobContext::new(job, cancel.clone());
    let run = AssertUnwindSafe(worker.perform(ctx)).catch_unwind();
    let outcome = match tokio::time::timeout(timeout, run).await {
        Err(_elapsed) => Outcome::TimedOut { after: timeout },
        Ok(Err(panic)) => Outcome::Panicked {
            message: panic_message(panic.as_ref()),
        },
        Ok(Ok(Ok(()))) => Outcome::Completed,
        Ok(Ok(Err(error))) => error.into_outcome(),
    };
    // Whatever the worker spawned off its context learns the run is over.
    cancel.cancel();
    outcome
}

/// The fenced write for the run of claim `token` (of `max_attempts`) that ended with `outcome`.
pub(crate) fn finish_for(token: ClaimToken, max_attempts: i32, outcome: &Outcome, policy: &RetryPolicy) -> Finish {
    let transition = transition_for(outcome, token.attempt, max_attempts, policy, rand::random::<f64>());
    Finish { token, transition }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
