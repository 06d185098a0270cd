//! Flow control across the whole cluster: limits every runner holds together, per queue
//! ([`QueueLimits`]: a global concurrency and a rate limit), and job dependencies
//! ([`JobGraph`]: jobs that wait for other jobs).
//!
//! Both are decided here and performed by the stores:
//! - A claim takes jobs of queues without limits in the plain claim, unchanged; the runner
//!   then asks [`crate::QueueStore::claim_limited`] for the slots left, and the store applies
//!   [`allowance`] to each limited queue under that queue's lock.
//! - A dependent job starts `pending` ([`crate::JobState::Pending`]) and the store moves it
//!   on by [`readiness`] when its parents finish.
//!
//! See the README's "Flow control" section for examples.

mod graph;
mod limits;

pub use graph::{GraphError, GraphPlan, JobGraph, Parent, PlannedNode, Readiness, cancel_reason, readiness};
pub use limits::{Allowance, LimitError, QueueLimits, RateLimit, RateWindow, allowance, window_reopens};
