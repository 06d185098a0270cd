//! The database's checks, judged from [`DatabaseDiagnostics`]: the claim plan, the jobs
//! table's indexes, its dead rows (bloat) and autovacuum. Each names the fix.

use backtick_core::QueueAdmin;
use backtick_core::admin::{AutovacuumSettings, DatabaseDiagnostics, TableHealth};

use super::{Check, Status, check};
use crate::error::CliError;

/// Dead rows past this share of the table (and past twice its vacuum threshold) are a warning.
pub(super) const BLOAT_WARNING: f64 = 0.2;

/// Dead rows past this share of the table (and past twice its vacuum threshold) fail.
pub(super) const BLOAT_FAILURE: f64 = 0.5;

/// The database's checks; one SKIP when the store has no database.
///
/// # Errors
/// A store failure.
pub(super) async fn checks(admin: &dyn QueueAdmin) -> Result<Vec<Check>, CliError> {
    Ok(match admin.database_diagnostics().await? {
        Some(diagnostics) => vec![
            claim_plan(&diagnostics),
            indexes(&diagnostics),
            bloat(&diagnostics.table),
            autovacuum(&diagnostics.autovacuum),
        ],
        None => vec![check(
            "database",
            Status::Skip,
            "this store has no database: no plan, index or vacuum to check",
            "",
        )],
    })
}

/// The plan's scans of the jobs table, without costs: `Index Scan using ... on backtick_jobs`.
fn scans(plan: &[String]) -> String {
    let scans: Vec<&str> = plan
        .iter()
        .map(|line| line.trim_start_matches([' ', '-', '>']))
        .filter(|line| line.contains("Scan") && line.contains("on backtick_jobs"))
        .map(|line| line.split("  (").next().unwrap_or(line).trim())
        .collect();
    if scans.is_empty() {
        plan.first()
            .map_or_else(|| "no plan".to_owned(), |l| l.trim().to_owned())
    } else {
        scans.join(", ")
    }
}

fn claim_plan(d: &DatabaseDiagnostics) -> Check {
    let found = scans(&d.claim_plan);
    if d.claim_uses_its_index() {
        let walk = found
            .split(", ")
            .find(|scan| scan.contains(&d.claim_index))
            .unwrap_or(&found);
        return check("claim plan", Status::Ok, walk.to_owned(), "");
    }
    let index_missing = d.unhealthy_indexes().iter().any(|i| i.name == d.claim_index);
    let fix = if index_missing {
        format!(
            "restore {} (see the indexes check), then run doctor again",
            d.claim_index
        )
    } else {
        "run `ANALYZE backtick_jobs`; check with `backtick migrate status` that backtick_claim is the migration's"
            .to_owned()
    };
    check(
        "claim plan",
        Status::Fail,
        format!("the claim does not use {}: {found}", d.claim_index),
        fix,
    )
}

fn indexes(d: &DatabaseDiagnostics) -> Check {
    let unhealthy = d.unhealthy_indexes();
    if unhealthy.is_empty() {
        return check(
            "indexes",
            Status::Ok,
            format!("all {} present and valid", d.indexes.len()),
            "",
        );
    }
    let missing: Vec<&str> = unhealthy
        .iter()
        .filter(|i| !i.present)
        .map(|i| i.name.as_str())
        .collect();
    let invalid: Vec<&str> = unhealthy
        .iter()
        .filter(|i| i.present)
        .map(|i| i.name.as_str())
        .collect();
    let mut found = Vec::new();
    let mut fixes = Vec::new();
    if !missing.is_empty() {
        found.push(format!("missing: {}", missing.join(", ")));
        fixes.push(
            "recreate them with the CREATE INDEX of backtick's migrations (migrations/*.up.sql), CONCURRENTLY on a busy table"
                .to_owned(),
        );
    }
    if !invalid.is_empty() {
        found.push(format!("invalid: {}", invalid.join(", ")));
        fixes.extend(invalid.iter().map(|name| format!("REINDEX INDEX CONCURRENTLY {name}")));
    }
    check("indexes", Status::Fail, found.join("; "), fixes.join("; "))
}

fn bloat(table: &TableHealth) -> Check {
    let share = table.dead_fraction();
    let found = format!(
        "{} live rows, {} dead ({:.0}%), vacuum due past {:.0} dead",
        table.live_rows,
        table.dead_rows,
        share * 100.0,
        table.vacuum_threshold
    );
    let overdue = table.dead_rows as f64 > 2.0 * table.vacuum_threshold;
    let status = match share {
        s if overdue && s >= BLOAT_FAILURE => Status::Fail,
        s if overdue && s >= BLOAT_WARNING => Status::Warn,
        _ => Status::Ok,
    };
    let fix = match status {
        Status::Ok => "",
        _ => {
            "run `VACUUM (ANALYZE) backtick_jobs`; if dead rows stay, end long transactions (pg_stat_activity.xact_start) that hold them back"
        }
    };
    check("table bloat", status, found, fix)
}

fn autovacuum(settings: &AutovacuumSettings) -> Check {
    let mut issues: Vec<(Status, String, &str)> = Vec::new();
    if !settings.track_counts {
        issues.push((
            Status::Fail,
            "track_counts is off: nothing knows when the table needs a vacuum".into(),
            "set track_counts = on (postgresql.conf, or ALTER SYSTEM SET track_counts = on; SELECT pg_reload_conf())",
        ));
    }
    if !settings.table_enabled {
        issues.push((
            Status::Fail,
            "autovacuum_enabled=false on backtick_jobs: neither autovacuum nor the runners vacuum it".into(),
            "ALTER TABLE backtick_jobs RESET (autovacuum_enabled)",
        ));
    }
    if !settings.server_enabled {
        issues.push((
            Status::Warn,
            "the server's autovacuum is off: runners vacuum backtick_jobs themselves, but nothing analyzes it".into(),
            "set autovacuum = on (ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf())",
        ));
    }
    let tuned = settings
        .table_options
        .iter()
        .any(|o| o.starts_with("autovacuum_vacuum_scale_factor="));
    if !tuned {
        issues.push((
            Status::Warn,
            "backtick_jobs lost the migration's autovacuum tuning (the default 20% lets dead rows pile up)".into(),
            "ALTER TABLE backtick_jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 500)",
        ));
    }
    let Some(worst) = issues.iter().map(|(status, ..)| *status).max() else {
        let options: Vec<&str> = settings
            .table_options
            .iter()
            .map(String::as_str)
            .filter(|o| o.starts_with("autovacuum_vacuum"))
            .collect();
        return check(
            "autovacuum",
            Status::Ok,
            format!("on; backtick_jobs: {}", options.join(", ")),
            "",
        );
    };
    let found: Vec<String> = issues.iter().map(|(_, found, _)| found.clone()).collect();
    let fixes: Vec<&str> = issues.iter().map(|(.., fix)| *fix).collect();
    check("autovacuum", worst, found.join("; "), fixes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_drop_the_costs_and_the_arrows() {
        let plan = vec![
            "Update on backtick_jobs  (cost=1.2..3.4 rows=1 width=6)".to_owned(),
            "  ->  Index Scan using backtick_jobs_claim_idx on backtick_jobs  (cost=0.1..2.0 rows=10 width=6)"
                .to_owned(),
        ];
        assert_eq!(
            scans(&plan),
            "Index Scan using backtick_jobs_claim_idx on backtick_jobs"
        );
    }

    #[test]
    fn bloat_warns_and_fails_only_past_twice_the_vacuum_threshold() {
        let table = |live, dead| TableHealth {
            live_rows: live,
            dead_rows: dead,
            vacuum_threshold: 500.0,
            ..TableHealth::default()
        };
        assert_eq!(bloat(&table(100, 900)).status, Status::Ok, "a small table");
        assert_eq!(bloat(&table(10_000, 3_000)).status, Status::Warn);
        assert_eq!(bloat(&table(10_000, 20_000)).status, Status::Fail);
        assert_eq!(bloat(&table(1_000_000, 20_000)).status, Status::Ok);
    }

    #[test]
    fn autovacuum_off_for_the_table_fails_and_off_on_the_server_warns() {
        let tuned = AutovacuumSettings {
            table_options: vec!["autovacuum_vacuum_scale_factor=0.01".into()],
            ..AutovacuumSettings::default()
        };
        assert_eq!(autovacuum(&tuned).status, Status::Ok);
        let server_off = AutovacuumSettings {
            server_enabled: false,
            ..tuned.clone()
        };
        assert_eq!(autovacuum(&server_off).status, Status::Warn);
        let table_off = AutovacuumSettings {
            table_enabled: false,
            ..server_off
        };
        let c = autovacuum(&table_off);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.fix.contains("RESET (autovacuum_enabled)") && c.fix.contains("autovacuum = on"),
            "{c:?}"
        );
        assert_eq!(
            autovacuum(&AutovacuumSettings::default()).status,
            Status::Warn,
            "untuned"
        );
    }
}
