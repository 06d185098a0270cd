//! `backtick doctor`: health checks, each OK, WARN or FAIL with the fix.
//!
//! The queue's checks (migrations, runners, stuck and waiting jobs, dead jobs, schedules) come
//! from the admin API; the database's (the claim plan, the indexes, table bloat, autovacuum)
//! from [`QueueAdmin::database_diagnostics`], judged in [`database`]. A store without a
//! database (the in-memory store of the tests) has no database checks: one SKIP says so.

mod database;

use std::time::Duration;

use backtick_core::admin::CountQuery;
use backtick_core::{JobState, QueueAdmin};
use serde::Serialize;

use crate::commands::migrate::{Schema, state_of};
use crate::error::CliError;
use crate::output::{Output, Table, age};

/// A queue whose oldest due job has waited longer than this is reported.
pub const WAIT_WARNING: Duration = Duration::from_secs(5 * 60);

/// How many expired leases are looked at.
const EXPIRED_SAMPLE: u32 = 100;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Fine.
    Ok,
    /// Worth a look.
    Warn,
    /// Broken: `doctor` exits 1.
    Fail,
    /// Not checked (see the detail for why): only for a store without a database.
    Skip,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do; empty when nothing.
    pub fix: String,
}

fn check(check: &'static str, status: Status, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check,
        status,
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// `doctor`: run every check and print them; exit 1 when one fails. `admin` is the admin API
/// or why it could not be had; `schema` the database's migrations when there is a database.
///
/// # Errors
/// [`CliError::ChecksFailed`] when a check fails; a store failure.
pub async fn doctor(
    admin: Result<&dyn QueueAdmin, &CliError>,
    schema: Option<&dyn Schema>,
    out: &mut Output<'_>,
) -> Result<(), CliError> {
    let mut checks = Vec::new();
    if let Some(schema) = schema {
        checks.push(migrations(schema).await);
    }
    match admin {
        Ok(admin) => {
            checks.push(runners(admin).await?);
            checks.push(stuck(admin).await?);
            checks.extend(queues(admin).await?);
            checks.push(dead(admin).await?);
            checks.push(schedules(admin).await?);
            checks.extend(database::checks(admin).await?);
        }
        Err(error) => checks.push(check(
            "queue",
            Status::Fail,
            error.one_line(),
            "fix the error above, then run doctor again",
        )),
    }
    print(&checks, out)?;
    match checks.iter().filter(|c| c.status == Status::Fail).count() {
        0 => Ok(()),
        failed => Err(CliError::ChecksFailed { failed }),
    }
}

fn print(checks: &[Check], out: &mut Output<'_>) -> Result<(), CliError> {
    if out.json {
        return out.json(checks);
    }
    let mut table = Table::new(&["STATUS", "CHECK", "FOUND", "FIX"]);
    for c in checks {
        let status = serde_json::to_value(c.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned));
        table.row(vec![
            status.unwrap_or_default(),
            c.check.to_owned(),
            c.detail.clone(),
            c.fix.clone(),
        ]);
    }
    out.table(&table, "")
}

async fn migrations(schema: &dyn Schema) -> Check {
    let status = match schema.status().await {
        Ok(status) => status,
        Err(error) => {
            return check(
                "migrations",
                Status::Fail,
                error.to_string(),
                "check the database url and permissions",
            );
        }
    };
    let named = |wanted: &str| -> Vec<String> {
        status
            .iter()
            .filter(|m| state_of(&m.state).0 == wanted)
            .map(|m| format!("{:04}_{}", m.version, m.name))
            .collect()
    };
    let (pending, changed, unknown) = (named("pending"), named("changed"), named("unknown"));
    if !changed.is_empty() {
        return check(
            "migrations",
            Status::Fail,
            format!("changed since applied: {}", changed.join(", ")),
            "restore the applied migration files; never edit an applied migration",
        );
    }
    if !pending.is_empty() {
        return check(
            "migrations",
            Status::Fail,
            format!("pending: {}", pending.join(", ")),
            "run `backtick migrate up`",
        );
    }
    if !unknown.is_empty() {
        return check(
            "migrations",
            Status::Warn,
            format!("applied by a newer build: {}", unknown.join(", ")),
            "upgrade this backtick",
        );
    }
    check(
        "migrations",
        Status::Ok,
        format!("{} applied, none pending", status.len()),
        "",
    )
}

async fn runners(admin: &dyn QueueAdmin) -> Result<Check, CliError> {
    let runners = admin.list_runners(None).await?;
    let stale: Vec<String> = runners
        .iter()
        .filter(|r| r.stale)
        .map(|r| r.info.id.to_string())
        .collect();
    let live = runners.len() - stale.len();
    Ok(if live == 0 {
        check(
            "runners",
            Status::Warn,
            "no live runner",
            "start the application's runner: nothing claims jobs",
        )
    } else if !stale.is_empty() {
        check(
            "runners",
            Status::Warn,
            format!("{live} live, {} stale: {}", stale.len(), stale.join(", ")),
            "stale runners crashed or lost the database; they are forgotten after a day",
        )
    } else {
        check("runners", Status::Ok, format!("{live} live"), "")
    })
}

async fn stuck(admin: &dyn QueueAdmin) -> Result<Check, CliError> {
    let expired = admin.expired_leases(EXPIRED_SAMPLE, None).await?;
    Ok(match expired.len() {
        0 => check("stuck jobs", Status::Ok, "no running job is past its lease", ""),
        n => check(
            "stuck jobs",
            Status::Warn,
            format!(
                "{n}{} running job(s) past their lease",
                if n as u32 >= EXPIRED_SAMPLE { "+" } else { "" }
            ),
            "a live runner's reviver requeues them; start a runner if none is live",
        ),
    })
}

async fn queues(admin: &dyn QueueAdmin) -> Result<Vec<Check>, CliError> {
    let mut checks = Vec::new();
    for queue in admin.list_queues(None).await? {
        if queue.is_paused() {
            checks.push(check(
                "paused queue",
                Status::Warn,
                format!("{} is paused ({} queued)", queue.name, queue.count(JobState::Queued)),
                format!("`backtick queues resume {}` when it should run again", queue.name),
            ));
        } else if queue.oldest_due_age.is_some_and(|waited| waited > WAIT_WARNING) {
            checks.push(check(
                "waiting jobs",
                Status::Warn,
                format!("{}: oldest due job waited {}", queue.name, age(queue.oldest_due_age)),
                "check that runners serve this queue and have its workers, or add concurrency",
            ));
        }
    }
    if checks.is_empty() {
        checks.push(check(
            "queues",
            Status::Ok,
            format!("no queue paused or waiting over {}", age(Some(WAIT_WARNING))),
            "",
        ));
    }
    Ok(checks)
}

async fn dead(admin: &dyn QueueAdmin) -> Result<Check, CliError> {
    let counts = admin.count_jobs(&CountQuery::default()).await?;
    let dead = counts.total(JobState::Dead);
    Ok(match dead.value {
        0 => check("dead jobs", Status::Ok, "none", ""),
        _ => check(
            "dead jobs",
            Status::Warn,
            format!("{dead} dead job(s)"),
            "`backtick jobs list --state dead`, then `backtick jobs retry --state dead --yes` or prune them",
        ),
    })
}

async fn schedules(admin: &dyn QueueAdmin) -> Result<Check, CliError> {
    let schedules = admin.list_schedules(None).await?;
    let stale: Vec<&str> = schedules
        .iter()
        .filter(|s| s.is_stale())
        .map(|s| s.name.as_str())
        .collect();
    Ok(match stale.as_slice() {
        [] => check(
            "schedules",
            Status::Ok,
            format!("{} declared by live runners", schedules.len()),
            "",
        ),
        names => check(
            "schedules",
            Status::Warn,
            format!("declared by no live runner: {}", names.join(", ")),
            "`backtick cron remove NAME` for schedules removed from the code",
        ),
    })
}
