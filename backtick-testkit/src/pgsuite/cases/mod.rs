//! The Postgres cases: what a Postgres backend must do beyond the [`QueueStore`] contract
//! (connect errors, lost connections, corrupt rows, migrations and their lock, NOTIFY, vacuum,
//! the claim plan, database diagnostics, runners on a real database, enqueue inside the caller's transaction), one
//! module per area.
//!
//! Each case takes the suite's shared database and makes what it needs in it: a fresh schema
//! (migrated or empty), or, when it acts on every connection of a database (terminating them,
//! NOTIFY, counting advisory locks), a database of its own.
//!
//! [`QueueStore`]: backtick_core::QueueStore

use std::fmt;
use std::sync::Arc;

pub(crate) use super::job;
use super::{CallerTransactions, PgBackend, SqlSession, TestDatabase};
use crate::conformance::CaseFuture;

/// Builds a [`PgCase`] for backend `$b` from a generic async fn in the current module.
macro_rules! pg_case {
    ($b:ident, $area:literal, $f:ident) => {
        $crate::pgsuite::PgCase::<$b> {
            area: $area,
            name: stringify!($f),
            run: |db| Box::pin($f::<$b>(db)),
        }
    };
}

mod admin_timeout;
mod bad_input;
mod bad_weather;
mod claim;
mod complete;
mod diagnostics;
mod migrate;
mod notify;
mod runner;
mod transaction;
mod vacuum;

/// One Postgres case: a named async check run against the suite's shared database.
pub struct PgCase<B: PgBackend> {
    /// The area it checks (`migrate`, `notify`, ...).
    pub area: &'static str,
    /// The case's name, a sentence such as `vacuum_is_not_due_on_a_table_without_dead_rows`.
    pub name: &'static str,
    /// The check: completes on success, panics with the reason on failure.
    pub run: fn(Arc<TestDatabase<B>>) -> CaseFuture,
}

impl<B: PgBackend> Clone for PgCase<B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B: PgBackend> Copy for PgCase<B> {}

impl<B: PgBackend> fmt::Debug for PgCase<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.area, self.name)
    }
}

/// Every Postgres case, grouped by area: connect errors and corrupt rows (`bad_input`), lost
/// connections and a closed store (`bad_weather`), migrations and their lock, NOTIFY, vacuum,
/// the claim plan and concurrent claims, runners on a real database, and enqueue inside the
/// caller's transaction.
///
/// # Examples
/// ```ignore
/// let cases = backtick_testkit::pgsuite::cases::<MyBackend>();
/// assert!(cases.iter().any(|case| case.name == "vacuum_is_not_due_on_a_table_without_dead_rows"));
/// ```
pub fn cases<B: CallerTransactions>() -> Vec<PgCase<B>> {
    [
        bad_input::cases(),
        bad_weather::cases(),
        migrate::cases(),
        notify::cases(),
        vacuum::cases(),
        claim::cases(),
        diagnostics::cases(),
        admin_timeout::cases(),
        runner::cases(),
        transaction::cases(),
        complete::cases(),
    ]
    .concat()
}

/// Terminate every other connection to the session's database; true for each one ended.
async fn terminate_others<B: PgBackend>(sql: &mut SqlSession<B>) -> Vec<bool> {
    sql.booleans(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await
}
