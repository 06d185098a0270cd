//! The job state machine: what a worker's outcome, an expired lease or a shutdown does to a
//! running job. Pure functions, no I/O. The runner decides here; a store only applies the
//! [`Transition`] it is given, with one write guarded by the claim token.
//!
//! Attempt numbers only ever grow (a claim adds one), so a claim token is never reused for
//! the same job. A transition that should not count as an attempt (snooze, release) gives the
//! attempt back by raising `max_attempts` by one instead.

use std::time::Duration;

use crate::job::{ClaimToken, Job, RunAt, Timestamp};
use crate::retry::RetryPolicy;

/// How one run of a job ended, as seen by the runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The worker succeeded.
    Completed,
    /// The worker failed; retry after backoff while attempts remain.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// The worker failed and asked to be retried at a given time (counts as an attempt).
    RetryAt {
        /// What went wrong.
        error: String,
        /// When to retry.
        at: RunAt,
    },
    /// The worker asked to run again later; this attempt does not count.
    Snoozed {
        /// When to run again.
        at: RunAt,
    },
    /// The worker gave up: the job goes dead at once, whatever attempts remain.
    Discarded {
        /// Why.
        error: String,
    },
    /// The worker cancelled its job.
    Cancelled {
        /// Why.
        reason: String,
    },
    /// The worker panicked. Counts as a failure.
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The run took longer than the job's timeout. Counts as a failure.
    TimedOut {
        /// The timeout that was exceeded.
        after: Duration,
    },
    /// The payload could not be decoded (or the worker is unknown). Dead at once: retrying
    /// the same bytes cannot succeed.
    Undecodable {
        /// The decoding error.
        error: String,
    },
}

/// What a store does to a running job. Applied only if the job is still running under the
/// claim token it is paired with.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// `running -> done`.
    Done,
    /// `running -> queued`, due at `run_at`.
    Queued {
        /// When it is due again.
        run_at: RunAt,
        /// Recorded as `last_error` when set.
        error: Option<String>,
        /// When true the attempt does not count: `max_attempts` grows by one.
        refund_attempt: bool,
    },
    /// `running -> dead`.
    Dead {
        /// Recorded as `last_error`.
        error: String,
    },
    /// `running -> cancelled`.
    Cancelled {
        /// Recorded as `last_error`.
        reason: String,
    },
}

/// A transition paired with the claim token that fences it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// The claim the transition belongs to.
    pub token: ClaimToken,
    /// What to do to the job.
    pub transition: Transition,
}

/// The transition for a run that ended with `outcome` on attempt `attempt` of `max_attempts`.
/// `sample` is a uniform random number in `0.0..1.0` for the backoff jitter.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{Outcome, RetryPolicy, Transition, state::transition_for};
/// let policy = RetryPolicy::default();
/// let failed = Outcome::Failed { error: "boom".into() };
/// assert!(matches!(transition_for(&failed, 1, 3, &policy, 0.5), Transition::Queued { .. }));
/// assert!(matches!(transition_for(&failed, 3, 3, &policy, 0.5), Transition::Dead { .. }));
/// ```
pub fn transition_for(
    outcome: &Outcome,
    attempt: i32,
    max_attempts: i32,
    policy: &RetryPolicy,
    sample: f64,
) -> Transition {
    let attempts_left = attempt < max_attempts;
    match outcome {
        Outcome::Completed => Transition::Done,
        Outcome::Snoozed { at } => Transition::Queued {
            run_at: *at,
            error: None,
            refund_attempt: true,
        },
        Outcome::Discarded { error } => Transition::Dead {
            error: format!("discarded: {error}"),
        },
        Outcome::Undecodable { error } => Transition::Dead { error: error.clone() },
        Outcome::Cancelled { reason } => Transition::Cancelled { reason: reason.clone() },
        Outcome::RetryAt { error, at } if attempts_left => Transition::Queued {
            run_at: *at,
            error: Some(error.clone()),
            refund_attempt: false,
        },
        Outcome::Failed { .. } | Outcome::Panicked { .. } | Outcome::TimedOut { .. } if attempts_left => {
            Transition::Queued {
                run_at: RunAt::After(policy.backoff(attempt, sample)),
                error: Some(failure_message(outcome)),
                refund_attempt: false,
            }
        }
        _ => Transition::Dead {
            error: format!(
                "{} (attempt {attempt} of {max_attempts}, no attempts left)",
                failure_message(outcome)
            ),
        },
    }
}

/// The transition for a job whose lease expired: its runner is presumed dead. Another
/// attempt if any remain, else dead. The job goes back to the queue with its own due time
/// `due`, which has passed: it is due at once and keeps its place ahead of jobs that became
/// due after it, instead of waiting behind the whole backlog.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{RunAt, Transition, state::transition_for_expired_lease};
/// let due = chrono::Utc::now();
/// assert!(matches!(
///     transition_for_expired_lease(1, 3, "r1", due),
///     Transition::Queued { run_at: RunAt::At(at), .. } if at == due
/// ));
/// assert!(matches!(transition_for_expired_lease(3, 3, "r1", due), Transition::Dead { .. }));
/// ```
pub fn transition_for_expired_lease(attempt: i32, max_attempts: i32, runner: &str, due: Timestamp) -> Transition {
    let error = format!("lease expired: runner {runner} stopped heartbeating during attempt {attempt}");
    if attempt < max_attempts {
        Transition::Queued {
            run_at: RunAt::At(due),
            error: Some(error),
            refund_attempt: false,
        }
    } else {
        Transition::Dead {
            error: format!("{error} (attempt {attempt} of {max_attempts}, no attempts left)"),
        }
    }
}

/// The transition for a job a runner gives back on shutdown: due at once, attempt refunded.
pub fn transition_for_release() -> Transition {
    Transition::Queued {
        run_at: RunAt::After(Duration::ZERO),
        error: None,
        refund_attempt: true,
    }
}

/// The outcome to record for a run during which an operator asked for the job to be
/// cancelled ([`crate::CancelReason::Requested`]): the operator's cancel wins over a retry,
/// snooze, failure or discard, so anything but success becomes [`Outcome::Cancelled`] with the
/// operator's reason. A run that completed anyway stays [`Outcome::Completed`]: the work was
/// done. The runner applies this before [`transition_for`].
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{Outcome, state::outcome_after_cancel_request};
/// let failed = Outcome::Failed { error: "interrupted".into() };
/// assert_eq!(
///     outcome_after_cancel_request(failed, "duplicate"),
///     Outcome::Cancelled { reason: "duplicate".into() }
/// );
/// assert_eq!(outcome_after_cancel_request(Outcome::Completed, "duplicate"), Outcome::Completed);
/// ```
pub fn outcome_after_cancel_request(outcome: Outcome, reason: &str) -> Outcome {
    match outcome {
        Outcome::Completed => Outcome::Completed,
        _ => Outcome::Cancelled {
            reason: reason.to_owned(),
        },
    }
}

/// The expired-lease transition for a job as read from the store, paired with its token.
/// `None` when the job is not running.
pub fn revive(job: &Job) -> Option<Finish> {
    let token = job.claim_token()?;
    let transition = transition_for_expired_lease(job.attempt, job.max_attempts, token.runner_id.as_str(), job.run_at);
    Some(Finish { token, transition })
}

fn failure_message(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed { error } | Outcome::RetryAt { error, .. } => error.clone(),
        Outcome::Panicked { message } => format!("worker panicked: {message}"),
        Outcome::TimedOut { after } => format!("timed out after {after:?}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::job::{JobId, JobState, RunnerId};
    use chrono::Utc;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    fn every_outcome() -> Vec<Outcome> {
        let at = RunAt::After(Duration::from_secs(9));
        vec![
            Outcome::Completed,
            Outcome::Failed { error: "e".into() },
            Outcome::RetryAt { error: "e".into(), at },
            Outcome::Snoozed { at },
            Outcome::Discarded { error: "d".into() },
            Outcome::Cancelled { reason: "c".into() },
            Outcome::Panicked { message: "p".into() },
            Outcome::TimedOut {
                after: Duration::from_secs(1),
            },
            Outcome::Undecodable { error: "u".into() },
        ]
    }

    /// The whole table: every outcome on a first, middle and last attempt.
    #[test]
    fn every_outcome_on_every_kind_of_attempt_has_the_documented_transition() {
        for outcome in every_outcome() {
            for (attempt, max) in [(1, 3), (2, 3), (3, 3), (1, 1), (5, 3)] {
                let left = attempt < max;
                let got = transition_for(&outcome, attempt, max, &policy(), 0.5);
                let ok = match (&outcome, &got) {
                    (Outcome::Completed, Transition::Done) => true,
                    (
                        Outcome::Snoozed { .. },
                        Transition::Queued {
                            refund_attempt: true,
                            error: None,
                            ..
                        },
                    ) => true,
                    (Outcome::Discarded { .. } | Outcome::Undecodable { .. }, Transition::Dead { .. }) => true,
                    (Outcome::Cancelled { .. }, Transition::Cancelled { .. }) => true,
                    (
                        Outcome::Failed { .. }
                        | Outcome::RetryAt { .. }
                        | Outcome::Panicked { .. }
                        | Outcome::TimedOut { .. },
                        Transition::Queued {
                            refund_attempt: false,
                            error: Some(_),
                            ..
                        },
                    ) => left,
                    (
                        Outcome::Failed { .. }
                        | Outcome::RetryAt { .. }
                        | Outcome::Panicked { .. }
                        | Outcome::TimedOut { .. },
                        Transition::Dead { .. },
                    ) => !left,
                    _ => false,
                };
                assert!(ok, "{outcome:?} on attempt {attempt}/{max} gave {got:?}");
            }
        }
    }

    #[test]
    fn a_failure_retries_after_the_policy_backoff() {
        let got = transition_for(&Outcome::Failed { error: "boom".into() }, 3, 10, &policy(), 0.5);
        assert_eq!(
            got,
            Transition::Queued {
                run_at: RunAt::After(Duration::from_secs(4)),
                error: Some("boom".into()),
                refund_attempt: false
            }
        );
    }

    #[test]
    fn retry_at_keeps_the_requested_time() {
        let at = RunAt::At(Utc::now());
        let got = transition_for(&Outcome::RetryAt { error: "x".into(), at }, 1, 2, &policy(), 0.5);
        assert!(matches!(got, Transition::Queued { run_at, .. } if run_at == at));
    }

    #[test]
    fn error_messages_say_what_happened() {
        let dead = transition_for(&Outcome::Panicked { message: "oops".into() }, 2, 2, &policy(), 0.5);
        let Transition::Dead { error } = dead else {
            panic!("expected dead")
        };
        assert!(
            error.contains("worker panicked: oops") && error.contains("no attempts left"),
            "{error}"
        );
        let timed = transition_for(
            &Outcome::TimedOut {
                after: Duration::from_secs(3),
            },
            1,
            2,
            &policy(),
            0.5,
        );
        assert!(matches!(timed, Transition::Queued { error: Some(e), .. } if e.contains("timed out after 3s")));
    }

    #[test]
    fn an_expired_lease_requeues_until_attempts_run_out() {
        let due = Utc::now();
        assert!(matches!(
            transition_for_expired_lease(1, 2, "r", due),
            Transition::Queued { refund_attempt: false, run_at: RunAt::At(at), .. } if at == due
        ));
        assert!(matches!(
            transition_for_expired_lease(2, 2, "r", due),
            Transition::Dead { .. }
        ));
        assert!(matches!(
            transition_for_release(),
            Transition::Queued {
                refund_attempt: true,
                ..
            }
        ));
    }

    #[test]
    fn a_cancel_request_turns_every_outcome_but_success_into_cancelled() {
        for outcome in every_outcome() {
            let got = outcome_after_cancel_request(outcome.clone(), "op");
            if outcome == Outcome::Completed {
                assert_eq!(got, Outcome::Completed);
            } else {
                assert_eq!(got, Outcome::Cancelled { reason: "op".into() }, "{outcome:?}");
            }
        }
    }

    #[test]
    fn revive_needs_a_running_job_with_an_owner() {
        let now = Utc::now();
        let mut job = Job {
            id: JobId(1),
            worker: "w".into(),
            queue: "q".into(),
            args: vec![],
            codec: Codec::Cbor,
            priority: 0,
            state: JobState::Running,
            attempt: 1,
            max_attempts: 3,
            run_at: now,
            lease_owner: Some(RunnerId::new("r1")),
            lease_expires_at: Some(now),
            last_error: None,
            unique_key: None,
            trace_context: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        let finish = revive(&job).expect("running job revives");
        assert_eq!(finish.token.attempt, 1);
        assert_eq!(finish.token.runner_id, RunnerId::new("r1"));
        job.state = JobState::Queued;
        assert_eq!(revive(&job), None);
    }
}
