//! What a store backed by a database reports about the database's health: the claim's plan,
//! the jobs table's indexes, its dead rows and its autovacuum settings. See
//! [`crate::admin::QueueAdmin::database_diagnostics`]; `backtick doctor` judges them.

use serde::{Deserialize, Serialize};

use crate::job::Timestamp;

/// The facts `backtick doctor` checks a database with: no judgement, only what the database
/// says. A store without a database (the in-memory store) has none.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::{AutovacuumSettings, DatabaseDiagnostics, IndexHealth, TableHealth};
/// let diagnostics = DatabaseDiagnostics {
///     claim_index: "backtick_jobs_claim_idx".into(),
///     claim_plan: vec!["Index Scan using backtick_jobs_claim_idx on backtick_jobs".into()],
///     indexes: vec![IndexHealth { name: "backtick_jobs_claim_idx".into(), present: true, valid: true }],
///     table: TableHealth { live_rows: 900, dead_rows: 100, ..TableHealth::default() },
///     autovacuum: AutovacuumSettings::default(),
/// };
/// assert!(diagnostics.claim_uses_its_index());
/// assert_eq!(diagnostics.table.dead_fraction(), 0.1);
/// assert!(diagnostics.unhealthy_indexes().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseDiagnostics {
    /// The index the claim statement should walk (`backtick_jobs_claim_idx`).
    pub claim_index: String,
    /// `EXPLAIN` of the claim statement as the runners run it, one line per element.
    pub claim_plan: Vec<String>,
    /// Every index the schema creates on the jobs table, in the schema's order.
    pub indexes: Vec<IndexHealth>,
    /// The jobs table's row statistics.
    pub table: TableHealth,
    /// The server's and the jobs table's autovacuum settings.
    pub autovacuum: AutovacuumSettings,
}

impl DatabaseDiagnostics {
    /// True when the claim plan walks [`DatabaseDiagnostics::claim_index`].
    pub fn claim_uses_its_index(&self) -> bool {
        self.claim_plan.iter().any(|line| line.contains(&self.claim_index))
    }

    /// The expected indexes that are missing or not valid.
    pub fn unhealthy_indexes(&self) -> Vec<&IndexHealth> {
        self.indexes.iter().filter(|index| !index.is_healthy()).collect()
    }
}

/// One index the schema creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexHealth {
    /// Its name.
    pub name: String,
    /// True when it exists on the jobs table.
    pub present: bool,
    /// True when it is valid and ready (false after a failed `CREATE INDEX CONCURRENTLY`).
    pub valid: bool,
}

impl IndexHealth {
    /// Present and valid.
    pub fn is_healthy(&self) -> bool {
        self.present && self.valid
    }
}

/// The jobs table's statistics (`pg_stat_user_tables`): estimates the server keeps, a
/// second or so behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableHealth {
    /// Live rows.
    pub live_rows: u64,
    /// Dead row versions a vacuum has not removed yet.
    pub dead_rows: u64,
    /// The dead rows past which autovacuum (and the runners' vacuum) vacuums the table: its
    /// threshold plus its scale factor times its rows.
    pub vacuum_threshold: f64,
    /// The last vacuum by hand or by a runner.
    pub last_vacuum: Option<Timestamp>,
    /// The last vacuum by autovacuum.
    pub last_autovacuum: Option<Timestamp>,
    /// The last analyze, by hand or by autovacuum.
    pub last_analyze: Option<Timestamp>,
}

impl TableHealth {
    /// Dead rows as a share of all rows (0 for an empty table).
    pub fn dead_fraction(&self) -> f64 {
        let all = self.live_rows + self.dead_rows;
        if all == 0 {
            0.0
        } else {
            self.dead_rows as f64 / all as f64
        }
    }
}

/// Autovacuum as the server and the jobs table have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutovacuumSettings {
    /// The server's `autovacuum` setting.
    pub server_enabled: bool,
    /// The server's `track_counts`: without it no statistics, so nothing knows when to vacuum.
    pub track_counts: bool,
    /// The table's `autovacuum_enabled` storage parameter (true when unset). When false,
    /// neither autovacuum nor the runners' vacuum touch the table.
    pub table_enabled: bool,
    /// The table's storage parameters (`name=value`), the migration's autovacuum tuning among
    /// them.
    pub table_options: Vec<String>,
}

impl Default for AutovacuumSettings {
    fn default() -> Self {
        AutovacuumSettings {
            server_enabled: true,
            track_counts: true,
            table_enabled: true,
            table_options: Vec::new(),
        }
    }
}
