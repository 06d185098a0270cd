//! # backtick-pg-common
//!
//! The driver-neutral half of a backtick Postgres backend. `backtick-postgres` (sqlx) and
//! `backtick-diesel` (diesel-async) each hold only what depends on their driver (binding
//! parameters with its types, decoding rows, transactions, the LISTEN connection, a
//! [`MigrationConnection`] over its connection); everything else they share lives here once,
//! so the two cannot drift apart:
//!
//! - **the schema** (`migrations/` at the repository root, embedded) and **the migration
//!   runner** ([`Migrator`]; see [`migrate`]);
//! - **the queue SQL** ([`sql`]): every statement both backends run, one text for both;
//! - **the columns** each statement binds, built from [`backtick_core::NewJob`],
//!   [`backtick_core::Finish`] and [`backtick_core::ClaimToken`] ([`mod@enqueue`], [`fenced`]),
//!   the [`backtick_core::FinishReport`] from a fenced write's rows, and the pure part of
//!   unique-key resolution;
//! - **reading rows back**: stored names that do not parse are [`decode::corrupt`] rows;
//! - **errors**: which server errors are transient, conflicts or a missing schema
//!   ([`ServerError`]), and the one error of creating a store ([`ConnectError`]);
//! - **connecting**: the url's sources ([`URL_VAR`], [`FALLBACK_URL_VAR`]), its checks and
//!   redaction, the pool settings ([`PoolConfig`]);
//! - **wake-ups**: the listener task that reconnects with backoff ([`listen`]).
//!
//! Core never sees SQL and the backends decide nothing about job states: this crate only
//! performs what core decided, like the backends.
//!
//! # Examples
//! ```
//! use backtick_pg_common::{Migrator, migrations};
//! let first = &migrations()[0];
//! assert_eq!((first.version, first.name), (1, "jobs"));
//! assert!(first.up.contains("CREATE TABLE backtick_jobs"));
//! let _runner = Migrator::new(); // run it with `runner.run(&mut connection).await?`
//! ```

mod app_calls;
mod connect;
pub mod decode;
pub mod enqueue;
pub mod fenced;
mod interval;
pub mod listen;
pub mod migrate;
mod server_error;
// `macro_use`: `admin_sql` builds on the column list and the `running!` test of `sql`.
#[macro_use]
pub mod sql;
mod warm;
// After `sql`: it uses that module's macros.
pub mod admin;
pub mod admin_sql;
pub mod flow_sql;
pub mod graph;
#[doc(hidden)]
pub mod testing;

pub use async_trait::async_trait;
pub use connect::{
    ConnectError, FALLBACK_URL_VAR, PoolConfig, Target, URL_VAR, check_scheme, invalid_url, redact_url, url_from,
    url_from_env,
};
pub use enqueue::{EnqueueConnection, JobColumns, UniqueKeys, enqueue};
pub use fenced::{FinishColumns, TokenColumns, finish_report};
pub use graph::{GraphColumns, GraphConnection, enqueue_graph, limit_columns, limits_from};
pub use interval::micros;
pub use listen::{CHANNEL, CHANNELS, ListenSource, Notification, Notifications, Wake};
pub use migrate::{
    Applied, BoxError, Direction, FileName, InvalidFileName, LOCK_KEY, MigrateError, Migration, MigrationConnection,
    MigrationState, MigrationStatus, Migrator, TRACKING_TABLE, check_applied, migrations, parse_file_name,
};
pub use server_error::ServerError;
pub use warm::{WARM_UP_BOUND, warm_up_claim};
