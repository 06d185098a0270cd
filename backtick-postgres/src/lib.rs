//! # backtick-postgres
//!
//! The PostgreSQL backend of backtick on [`sqlx`]: [`PgStore`] implements
//! [`QueueStore`] on a connection pool. It re-exports all of `backtick_core`, so this crate is
//! the only backtick dependency an application needs.
//!
//! ```no_run
//! use backtick_postgres::{NewJob, PgStore};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PgStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
//! store.migrate().await?;                 // safe from many processes at once
//! store.enqueue(NewJob::new("resize_image", &("cat.png", 640))?).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## How it uses Postgres
//!
//! - **Schema and SQL**: `migrations/` at the repository root and every statement this crate
//!   runs live once in [`backtick_pg_common`], shared with `backtick-diesel`, with everything
//!   else the two backends share that does not depend on a driver; this crate binds, decodes
//!   and LISTENs with sqlx. [`PgStore::migrate`] applies the schema under an advisory lock.
//! - **One statement per call** (but for an enqueue with unique keys, a schedule's fire and a
//!   vacuum). A claim selects due jobs in claim order from the partial
//!   index `backtick_jobs_claim_idx (priority, run_at, id) WHERE state = 'queued'` with
//!   `FOR UPDATE SKIP LOCKED` and marks them running in the same statement, so concurrent
//!   claimers never block each other nor get the same job. Finishing, reviving and
//!   heartbeating a batch are one `UPDATE ... FROM unnest(...)` each, guarded by the claim
//!   token (`state = 'running' AND attempt = $a AND lease_owner = $o`); tokens that no longer
//!   match are reported stale. Enqueueing a batch is one `INSERT ... SELECT FROM unnest(...)`.
//! - **Time**: every statement uses `coalesce($now, now())`: the database clock in
//!   production, an injected time in tests.
//! - **Wake-ups**: a statement-level trigger sends one `pg_notify('backtick_jobs', queue)` per
//!   distinct queue per insert statement (whichever code inserted, and only on commit);
//!   [`PgStore`]'s `subscribe` forwards them from a dedicated `LISTEN` connection that
//!   reconnects with backoff. Hints only: runners keep polling.
//! - **Transactions**: [`enqueue_in`] and [`enqueue_many_in`] enqueue inside the caller's
//!   sqlx transaction; the job exists only if the caller commits.
//! - **Errors**: driver errors map to [`StoreError`] in one function (lost connection and
//!   conflicts are transient, a missing table is [`StoreError::NotMigrated`], an undecodable
//!   row is [`StoreError::Corrupt`]); connecting reports [`PgError`] (the same type as
//!   `backtick_diesel::DieselError`) with the host and port, never the password.
//!
//! ## Features
//!
//! - `tls`: TLS connections through rustls (`?sslmode=require` in the url).

mod acquire;
mod app;
mod complete;
mod config;
mod connect;
mod enqueue;
mod error;
mod fenced;
mod flow_calls;
mod listen;
mod migrate;
mod queue_admin;
mod row;
mod runner_side;
mod sql;
mod store;

pub use backtick_core::*;
#[doc(hidden)]
pub use backtick_pg_common;
/// The shared schema crate under its former name, [`backtick_pg_common`]: code written as
/// `backtick_migrations::migrations()` or `backtick_migrations::Migrator` keeps compiling.
#[doc(hidden)]
pub use backtick_pg_common as backtick_migrations;
pub use backtick_pg_common::{CHANNEL, FALLBACK_URL_VAR, URL_VAR};
pub use backtick_pg_common::{Direction, MigrateError, Migration, MigrationState, MigrationStatus, Migrator};
pub use complete::{complete_in, complete_in_at, fail_in, fail_in_at};
pub use config::PgStoreConfig;
pub use enqueue::{enqueue_in, enqueue_in_reporting, enqueue_many_in, enqueue_many_in_reporting};
pub use error::PgError;
pub use flow_calls::enqueue_graph_in;
pub use migrate::PgMigrationConnection;
pub use sqlx;
pub use store::PgStore;
