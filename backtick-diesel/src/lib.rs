//! # backtick-diesel
//!
//! The PostgreSQL backend of backtick on [`diesel_async`]: [`DieselStore`] implements
//! [`QueueStore`] on a deadpool pool of `AsyncPgConnection`s. It re-exports all of
//! `backtick_core` (the attribute macros included), so this crate is the only backtick
//! dependency a diesel application needs.
//!
//! ```no_run
//! use backtick_diesel::{DieselStore, NewJob};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let store = DieselStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
//! store.migrate().await?;                     // safe from many processes at once
//! store.enqueue(NewJob::new("resize_image", &("cat.png", 640))?).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Quick start
//!
//! Workers come from the attribute macros (`#[backtick_diesel::worker]`, `recurring`, `cron`);
//! a job lands in the same diesel-async transaction as the application's own writes:
//!
//! ```no_run
//! use std::sync::Arc;
//! use backtick_diesel::diesel_async::AsyncConnection;
//! use backtick_diesel::{DieselStore, QueueStore, Runner, enqueue_in};
//!
//! #[backtick_diesel::worker(queue = "mail", max_attempts = 5)]
//! async fn send_welcome_mail(user_id: i64, email: String) {
//!     println!("welcome, {email} (user {user_id})");
//! }
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let store = DieselStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
//! store.migrate().await?;
//! let mut conn = store.pool().get().await?;
//! conn.transaction::<_, Box<dyn std::error::Error + Send + Sync>, _>(async |conn| {
//!     let user_id = 42; // ... the application's own diesel writes on `conn` ...
//!     enqueue_in(conn, send_welcome_mail::job(user_id, "ada@example.com".into()).into_new_job()?).await?;
//!     Ok(())
//! })
//! .await?; // the job exists only if this commits
//! drop(conn);
//! let store: Arc<dyn QueueStore> = Arc::new(store);
//! let runner = Runner::builder(store).discovered().build()?.start();
//! # runner.shutdown().await;
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! ## Same schema, same statements as `backtick-postgres`
//!
//! Both backends run the one schema of `migrations/` (embedded through
//! [`backtick_pg_common`], applied by [`DieselStore::migrate`] under an advisory lock), the
//! same SQL text (run here through `diesel::sql_query` with typed binds) and the same payload
//! codecs: a job enqueued through `PgStore` is run by a runner on `DieselStore`, and the other
//! way round. Everything else the two share that does not depend on a driver (the columns
//! each statement binds, the enqueue path, error classes, config, url handling, the wake-up
//! listener) is [`backtick_pg_common`]'s too; this crate binds, decodes, runs transactions and
//! LISTENs with diesel-async. Pick the crate that matches the ORM the application already uses.
//!
//! - **One statement per call** (but for an enqueue with unique keys, a schedule's fire and a
//!   vacuum). A claim selects due jobs in claim order from the partial
//!   index `backtick_jobs_claim_idx` with `FOR UPDATE SKIP LOCKED` and marks them running in
//!   the same statement. Finishing, reviving and heartbeating a batch are one
//!   `UPDATE ... FROM unnest(...)` each, guarded by the claim token; enqueueing a batch is one
//!   `INSERT ... SELECT FROM unnest(...)`.
//! - **Time**: every statement uses `coalesce($now, now())`: the database clock in
//!   production, an injected time in tests.
//! - **Wake-ups**: the schema's statement-level trigger sends one
//!   `pg_notify('backtick_jobs', queue)` per distinct queue per insert statement, on commit;
//!   [`DieselStore`]'s `subscribe` forwards them from a dedicated `LISTEN` connection (outside
//!   the pool, through diesel-async's `notifications_stream`) that reconnects with backoff.
//!   Hints only: runners keep polling.
//! - **Transactions**: [`enqueue_in`] and [`enqueue_many_in`] enqueue inside the caller's
//!   diesel-async transaction; the job exists only if the caller commits.
//! - **Errors**: driver errors map to [`StoreError`] in one function (lost connection and
//!   conflicts are transient, a missing table is [`StoreError::NotMigrated`], an undecodable
//!   row is [`StoreError::Corrupt`]); connecting reports [`DieselError`] (the same type as
//!   `backtick_postgres::PgError`) with the host and port, never the password.
//! - **No libpq**: diesel with `postgres_backend` only; connections are tokio-postgres's,
//!   without TLS.
//!
//! ## Design notes
//!
//! - **deadpool, not bb8**: deadpool's `close()` really closes (later calls fail with
//!   [`StoreError::PoolClosed`], as `PgStore`'s do). Each connection is checked with
//!   `SELECT 1` when taken, so one the server dropped is replaced instead of failing a call;
//!   `idle_timeout` and `max_lifetime` retire a connection when it is next taken. The pool
//!   opens connections on demand and keeps none open in advance, so [`DieselStoreConfig`]'s
//!   `min_connections` must stay 0.
//! - **SQLSTATEs**: diesel-async keeps the SQLSTATE of only a few errors (serialization
//!   failure, constraint violations). Deadlocks, missing tables or columns and server
//!   shutdowns are recognised by Postgres' English message text instead; under a translated
//!   `lc_messages` they are reported as [`StoreError::Other`] (not transient, not
//!   `NotMigrated`), which costs a clearer message, never a job.
//! - **Connections**: tokio-postgres is used directly only to parse the url (so a bad one is
//!   reported clearly) and to open connections with a connect timeout and an
//!   `application_name`; every statement goes through diesel.

mod admin_rows;
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
mod schedules;
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
pub use config::DieselStoreConfig;
pub use connect::DieselPool;
pub use enqueue::{enqueue_in, enqueue_in_reporting, enqueue_many_in, enqueue_many_in_reporting};
pub use error::DieselError;
pub use flow_calls::enqueue_graph_in;
pub use migrate::DieselMigrationConnection;
pub use store::DieselStore;
pub use {deadpool, diesel, diesel_async, tokio_postgres};
