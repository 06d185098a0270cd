//! The Postgres backend harness: every Postgres backend's tests run from here, as River runs
//! every driver from `riverdrivertest`.
//!
//! A backend's tests implement [`PgBackend`] on a unit struct, usually in a few lines with
//! [`pg_backend!`](crate::pg_backend), and hand that type to
//!
//! - [`conformance`]: the [`conformance`](crate::conformance) suite, each case on a fresh
//!   migrated schema of one database;
//! - [`check_against_model`]: the [`model`](mod@crate::model) property test on a migrated database,
//!   emptied before each sequence;
//! - [`run_postgres_cases`]: the [Postgres cases](cases()) (connect errors, lost connections,
//!   corrupt rows, migrations and their lock, NOTIFY, vacuum, the claim plan, runners), each on
//!   a fresh schema, or on a database of its own when it acts on a whole database, and the
//!   cases of enqueue inside the caller's transaction, through [`CallerTransactions`], which
//!   the backend's tests implement by hand (there the drivers differ).
//!
//! Their driver-specific tests (a driver's transaction API, two backends on one database)
//! use the same provisioning: [`TestDatabase`] (a fresh database, from a migrated template built once per
//! schema version) and [`TestSchema`] (a fresh schema in it), both dropped by guards, also when
//! the test fails or panics; [`SqlSession`] runs raw SQL. The server comes from
//! [`testdb::server_url`](crate::testdb::server_url).
//!
//! # Examples
//! A backend's `tests/backend/mod.rs`:
//! ```ignore
//! use backtick_postgres::sqlx::{Connection, Executor, PgConnection};
//! use backtick_postgres::{PgError, PgMigrationConnection, PgStore, PgStoreConfig};
//!
//! backtick_testkit::pg_backend! {
//!     /// `PgStore` in the shared Postgres harness.
//!     pub struct Sqlx {
//!         name: "pg",
//!         store: PgStore,
//!         config: PgStoreConfig,
//!         error: PgError,
//!         connection: PgConnection,
//!         open: |url| PgConnection::connect(url).await?,
//!         migration_connection: PgMigrationConnection,
//!         pool_is_closed: |store| store.pool().execute("SELECT 1").await.is_err(),
//!     }
//! }
//! ```
//! and its `tests/conformance.rs`:
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn pg_store_passes_the_conformance_suite() {
//!     let report = backtick_testkit::pgsuite::conformance::<backend::Sqlx>().await;
//!     println!("{report}");
//!     report.assert_all_passed();
//! }
//! ```

mod backend;
mod cases;
mod database;
mod hints;
#[cfg(feature = "model")]
mod model_check;
mod pg_backend;
mod session;
mod transaction;

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

pub use backend::{ConnectFailure, PgBackend, PoolSettings};
pub use backtick_core::{BoxError, ClaimParams, StoreError};
use backtick_core::{Codec, NewJob, QueueAdmin};
pub use backtick_pg_common::{MigrateError, Migration, MigrationConnection, MigrationStatus};
pub use cases::{PgCase, cases};
pub use database::{TestDatabase, TestSchema, connect, server_url, with_search_path};
pub use hints::{LISTEN_WAIT, drain_hints};
#[cfg(feature = "model")]
pub use model_check::check_against_model;
pub use session::SqlSession;
pub use transaction::{CallerTransactions, assert_rolled_back};

use crate::conformance::{self as suite, CaseResult, ConformanceReport};

/// What [`pg_backend!`](crate::pg_backend) expands to needs.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
}

/// Run the [`conformance`](crate::conformance) suite on stores of `B`, each case on a fresh
/// migrated schema of one fresh database; a case's schema is dropped once its store is gone,
/// the database at the end.
///
/// Run it on a multi-threaded runtime (`#[tokio::test(flavor = "multi_thread")]`).
///
/// # Panics
/// When the test database cannot be made; a failing case is in the report instead.
pub async fn conformance<B: PgBackend>() -> ConformanceReport {
    let db = Arc::new(TestDatabase::<B>::empty().await);
    let handed: Handed<B> = Arc::default();
    let report = suite::run_all_admin(|| {
        let (db, handed) = (db.clone(), handed.clone());
        async move {
            reap(&handed);
            let schema = db.schema().await;
            let store = Arc::new(schema.store().await);
            handed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((Arc::downgrade(&store), schema));
            store as Arc<dyn QueueAdmin>
        }
    })
    .await;
    drop(handed);
    assert_eq!(
        report.results.len(),
        suite::cases().len() + suite::admin_cases().len(),
        "every case ran"
    );
    report
}

/// Schemas handed out, with the store using each.
type Handed<B> = Arc<Mutex<Vec<(Weak<<B as PgBackend>::Store>, TestSchema<B>)>>>;

/// Drop the schemas whose case has finished (its store was dropped).
fn reap<B: PgBackend>(handed: &Handed<B>) {
    let done: Vec<TestSchema<B>> = {
        let mut list = handed.lock().unwrap_or_else(PoisonError::into_inner);
        let (gone, live): (Vec<_>, Vec<_>) = list.drain(..).partition(|(store, _)| store.strong_count() == 0);
        *list = live;
        gone.into_iter().map(|(_, schema)| schema).collect()
    };
    drop(done);
}

/// The job the Postgres cases enqueue: worker `w`, a one-byte CBOR payload.
pub fn job() -> NewJob {
    NewJob::from_encoded("w", vec![0x80], Codec::Cbor)
}

/// Run every [Postgres case](cases()) on `B`, [`CONCURRENCY`](crate::conformance::CONCURRENCY) at
/// a time, catching each case's panic, in one fresh database that is dropped at the end.
///
/// Run it on a multi-threaded runtime (`#[tokio::test(flavor = "multi_thread")]`).
///
/// # Panics
/// When the test database cannot be made; a failing case is in the report instead.
pub async fn run_postgres_cases<B: CallerTransactions>() -> ConformanceReport {
    run_cases(cases::<B>()).await
}

/// Run `cases` like [`run_postgres_cases`] does: to run a subset, filter [`cases()`] first.
///
/// # Panics
/// When the test database cannot be made.
pub async fn run_cases<B: PgBackend>(cases: Vec<PgCase<B>>) -> ConformanceReport {
    let db = Arc::new(TestDatabase::<B>::empty().await);
    let runs = cases.into_iter().map(|case| {
        let db = db.clone();
        async move {
            let started = Instant::now();
            CaseResult {
                area: case.area,
                name: case.name,
                failure: suite::check((case.run)(db)).await.err(),
                elapsed: started.elapsed(),
            }
        }
    });
    suite::report(runs).await
}
