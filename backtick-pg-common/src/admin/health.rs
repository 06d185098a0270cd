//! Throughput counts and database health: the parameters of
//! [`crate::admin_sql::COUNT_FINISHED`] and [`crate::admin_sql::DATABASE_DIAGNOSTICS`], the
//! claim to explain, and core's types from what they return.

use std::time::Duration;

use backtick_core::admin::{AutovacuumSettings, DatabaseDiagnostics, IndexHealth, TableHealth, TimeRange};
use backtick_core::{ClaimParams, RunnerId, StoreError, Timestamp};
use serde_json::Value;

use crate::admin_sql::{CLAIM_INDEX, EXPECTED_INDEXES};
use crate::decode::corrupt;

/// The parameters of [`crate::admin_sql::COUNT_FINISHED`]: `$1` from, `$2` until, `$3` cap.
///
/// # Examples
/// ```
/// use backtick_core::admin::TimeRange;
/// use backtick_pg_common::admin::FinishedParams;
/// let p = FinishedParams::new(TimeRange::default(), u64::MAX);
/// assert_eq!((p.from, p.until, p.cap), (None, None, i64::MAX - 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedParams {
    /// `$1` the range's start, inclusive.
    pub from: Option<Timestamp>,
    /// `$2` the range's end, exclusive.
    pub until: Option<Timestamp>,
    /// `$3` the cap (`cap + 1` must fit an int8).
    pub cap: i64,
}

impl FinishedParams {
    /// The parameters of a count of the jobs finished in `range`, capped at `cap`.
    pub fn new(range: TimeRange, cap: u64) -> Self {
        FinishedParams {
            from: range.from,
            until: range.until,
            cap: i64::try_from(cap).unwrap_or(i64::MAX).min(i64::MAX - 1),
        }
    }
}

/// The claim `database_diagnostics` explains: the runners' statement with a placeholder
/// worker and runner (the plan does not depend on them).
pub fn diagnostics_claim() -> ClaimParams {
    ClaimParams {
        runner_id: RunnerId::new("backtick-doctor"),
        workers: vec!["backtick-doctor".to_owned()],
        queues: None,
        limit: 10,
        lease_ttl: Duration::from_secs(30),
        now: None,
    }
}

/// `$1` of [`crate::admin_sql::DATABASE_DIAGNOSTICS`].
pub fn expected_indexes() -> Vec<&'static str> {
    EXPECTED_INDEXES.to_vec()
}

/// The diagnostics from the claim's `plan` and the `record` (the text of the JSON object)
/// [`crate::admin_sql::DATABASE_DIAGNOSTICS`] returned.
///
/// # Errors
/// [`StoreError::Corrupt`] when the record does not have the documented shape.
///
/// # Examples
/// ```
/// let record = r#"{"indexes": [{"name": "backtick_jobs_claim_idx", "present": true, "valid": true}],
///     "table": {"live_rows": 10, "dead_rows": 2, "vacuum_threshold": 500.0, "last_vacuum": null,
///               "last_autovacuum": null, "last_analyze": "2030-01-01T00:00:00+00:00"},
///     "autovacuum": {"server_enabled": true, "track_counts": true, "table_enabled": true,
///                    "table_options": ["fillfactor=70"]}}"#;
/// let plan = vec!["Index Scan using backtick_jobs_claim_idx on backtick_jobs".to_owned()];
/// let diagnostics = backtick_pg_common::admin::diagnostics(plan, record).unwrap();
/// assert!(diagnostics.claim_uses_its_index());
/// assert_eq!(diagnostics.table.dead_rows, 2);
/// ```
pub fn diagnostics(plan: Vec<String>, record: &str) -> Result<DatabaseDiagnostics, StoreError> {
    let bad = |e: serde_json::Error| corrupt(None, format!("database diagnostics: {e}"));
    let mut record: Value = serde_json::from_str(record).map_err(bad)?;
    let mut part = |name: &str| record.get_mut(name).map(Value::take).unwrap_or(Value::Null);
    let indexes: Vec<IndexHealth> = serde_json::from_value(part("indexes")).map_err(bad)?;
    let table: TableHealth = serde_json::from_value(part("table")).map_err(bad)?;
    let autovacuum: AutovacuumSettings = serde_json::from_value(part("autovacuum")).map_err(bad)?;
    Ok(DatabaseDiagnostics {
        claim_index: CLAIM_INDEX.to_owned(),
        claim_plan: plan,
        indexes,
        table,
        autovacuum,
    })
}
