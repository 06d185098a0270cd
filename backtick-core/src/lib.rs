//! # backtick-core
//!
//! The core of backtick, a background job processor for Rust on PostgreSQL: the job types,
//! the [`QueueStore`] contract every backend implements, the pure job state machine, retry backoff, payload codecs and the [`Worker`] trait, and the operators'
//! contract [`QueueAdmin`] ([`admin`]).
//!
//! Applications normally depend on a backend crate (`backtick-postgres` or
//! `backtick-diesel`), which re-exports everything here.
//!
//! # Workers in one attribute
//!
//! With the default feature `macros`, [`worker`], [`recurring`] and [`cron`] turn an `async fn`
//! into a worker (the function stays callable), generate typed scheduling next to it
//! (`log_sum::schedule(&store, 3, 4)`), and submit it for [`Registry::discovered`] and
//! [`RunnerBuilder::discovered`]. Their documentation lists every option.

// Feature badges on docs.rs (which builds with `--cfg docsrs` on nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets `::backtick_core::...`, the path the attribute macros generate, resolve inside this
// crate too.
extern crate self as backtick_core;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod admin;
#[doc(hidden)]
pub mod arg_check;
mod backoff;
mod cancel;
mod clock;
mod codec;
mod completion;
mod error;
pub mod flow;
mod job;
#[doc(hidden)]
pub mod maintenance;
mod registry;
mod retry;
mod runner;
pub mod schedule;
mod shared;
#[doc(hidden)]
pub mod state;
mod store;
pub mod telemetry;
mod trouble;
mod typed;
mod unique;
mod worker;

pub use admin::{AdminError, QueueAdmin};
/// The `#[async_trait]` attribute that implementations of [`Worker`] and [`QueueStore`] use
/// (re-exported so that they need no dependency of their own).
pub use async_trait::async_trait;
pub use backoff::Backoff;
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use backtick_macros::{cron, recurring, worker};
pub use cancel::{CancelReason, JobCancellation};
pub use clock::{Clock, ManualClock, StoreClock};
pub use codec::{Codec, DecodeError, EncodeError, UnknownCodec};
pub use completion::{CompletionError, completed, completion_of, failed, failure_of};
pub use error::{BoxError, ConfigError, Error, StoreError};
pub use job::{
    ClaimToken, DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, DEFAULT_QUEUE, InvalidJob, Job, JobId, JobState, NewJob, RunAt,
    RunnerId, Timestamp, UnknownJobState,
};
pub use registry::{Registry, RegistryError};
pub use retry::RetryPolicy;
pub use runner::{Runner, RunnerBuilder, RunnerConfig, RunnerHandle, RunnerStats};
// What runners and store implementations exchange: public for the stores of other crates,
// hidden from the application's docs.
pub use shared::{MissingState, State, StateMap, StateRequirement};
pub use state::Outcome;
#[doc(hidden)]
pub use state::{Finish, Transition};
#[doc(hidden)]
pub use store::{ClaimParams, Enqueued, FinishReport, WakeReceiver, single_enqueued, single_id};
pub use store::{JobFilter, QueueStore, StateCounts};
pub use typed::TypedJob;
pub use unique::{Unique, period_micros, unique_holds, unique_period_key};
pub use worker::{FnWorker, JobContext, JobError, Worker, WorkerOptions, worker_fn};
