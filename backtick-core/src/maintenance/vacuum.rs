//! The vacuumer: asks the store to vacuum the jobs table when it is due, so the dead rows
//! every claim and finish leave behind do not pile up in the claim index between the server's
//! autovacuum runs (see `docs/design.md`, "Runners nudge vacuum").

use std::fmt;
use std::sync::Arc;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::Timestamp;
use crate::maintenance::Service;
use crate::store::QueueStore;

/// Asks the store to vacuum the jobs table if its dead rows are past the table's own
/// autovacuum threshold ([`QueueStore::vacuum`]). The store decides whether one is due, so
/// many runners asking at once is harmless.
///
/// # Examples
/// ```no_run
/// # extern crate backtick_core as backtick_postgres;
/// # async fn example(store: std::sync::Arc<dyn backtick_postgres::QueueStore>) -> Result<(), backtick_postgres::StoreError> {
/// use std::sync::Arc;
/// use backtick_postgres::{StoreClock, maintenance::Vacuumer};
/// let report = Vacuumer::new(store, Arc::new(StoreClock)).run_once(None).await?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Vacuumer {
    store: Arc<dyn QueueStore>,
    clock: Arc<dyn Clock>,
}

/// What one vacuumer pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VacuumReport {
    /// Whether the jobs table was vacuumed (false: none was due, or the store may not).
    pub vacuumed: bool,
}

impl fmt::Display for VacuumReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.vacuumed {
            "vacuumed the jobs table"
        } else {
            "no vacuum due"
        })
    }
}

impl Vacuumer {
    /// A vacuumer over `store`; a runner's loop reads each pass's time from `clock`.
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>) -> Self {
        Vacuumer { store, clock }
    }

    /// One pass. A vacuum is due by the table's statistics, not by the clock, so `now` is
    /// unused; it is taken for the same shape as every maintenance service.
    ///
    /// # Errors
    /// The store's error.
    pub async fn run_once(&self, _now: Option<Timestamp>) -> Result<VacuumReport, StoreError> {
        let vacuumed = self.store.vacuum().await?;
        Ok(VacuumReport { vacuumed })
    }
}

impl Service for Vacuumer {
    const NAME: &'static str = "vacuumer";
    type Report = VacuumReport;

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn run_once(&self, now: Option<Timestamp>) -> Result<VacuumReport, StoreError> {
        Vacuumer::run_once(self, now).await
    }
}
