//! The audit of one scenario: the jobs table and the ledger, against what the producer was
//! told was stored.

use std::collections::HashMap;
use std::fmt::Write as _;

use backtick_postgres::sqlx::{self, PgPool};
use chrono::{DateTime, TimeDelta, Utc};

use super::fleet::Fleet;
use super::producer::{Acked, JobKind};
use super::scenario::FaultWindow;
use crate::HarnessError;

/// What one scenario on one backend did to the jobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The backend's name.
    pub backend: &'static str,
    /// Jobs the producer got an id for.
    pub jobs: usize,
    /// Jobs that did not end as they must (done with an execution; poison: dead).
    pub lost: usize,
    /// Executions beyond the first, over all jobs.
    pub duplicates: usize,
    /// Duplicates whose earlier executions all ran in a runner process killed with SIGKILL.
    pub explained: usize,
    /// Jobs still queued or running at the end.
    pub stuck: usize,
    /// Runner processes that exited without being killed, or failed at SIGTERM.
    pub self_exits: usize,
    /// Seconds from the fault's end until executions ran at half the producer's rate again
    /// (or, with less work left than that, until the last execution).
    pub recovery_s: f64,
    /// The longest stretch without an execution during the fault, in seconds.
    /// `None` when no runner process was up through the fault (all were replaced) or none had
    /// completed a job before it began.
    pub max_gap_s: Option<f64>,
    /// Lines at WARN or ERROR in the runners' logs.
    pub warn_lines: usize,
    /// Whether every job was final before the settle limit.
    pub settled: bool,
}

impl Row {
    /// The audit's verdict: no job lost or stuck, every duplicate explained, no self-exit.
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.duplicates == self.explained && self.stuck == 0 && self.self_exits == 0
    }
}

/// The table of rows, one line each, with a header.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | backend | jobs | lost | duplicates | explained | stuck | self-exits | recovery s | max gap s | warn lines | verdict |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} |",
            r.scenario,
            r.backend,
            r.jobs,
            r.lost,
            r.duplicates,
            r.explained,
            r.stuck,
            r.self_exits,
            r.recovery_s,
            r.max_gap_s.map_or_else(|| "-".to_owned(), |gap| format!("{gap:.2}")),
            r.warn_lines,
            if r.passed() { "ok" } else { "FAILED" }
        );
    }
    out
}

struct Execution {
    job_id: i64,
    runner: String,
    at: DateTime<Utc>,
}

/// Audit the database's jobs and ledger against `acked`.
pub(crate) async fn audit(
    pool: &PgPool,
    acked: &[Acked],
    fleet: &Fleet,
    window: FaultWindow,
    rate: u64,
) -> Result<Row, HarnessError> {
    let states: HashMap<i64, String> = sqlx::query_as::<_, (i64, String)>("SELECT id, state FROM backtick_jobs")
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    let executions: Vec<Execution> = sqlx::query_as::<_, (i64, String, DateTime<Utc>)>(
        "SELECT job_id, runner, at FROM e2e_ledger ORDER BY at, job_id",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(job_id, runner, at)| Execution { job_id, runner, at })
    .collect();
    let mut per_job: HashMap<i64, Vec<&Execution>> = HashMap::new();
    for execution in &executions {
        per_job.entry(execution.job_id).or_default().push(execution);
    }
    let mut row = Row {
        jobs: acked.len(),
        self_exits: fleet.self_exits.len(),
        ..Row::default()
    };
    for job in acked {
        let state = states.get(&job.id.0).map(String::as_str);
        let ran = per_job.get(&job.id.0).map_or(0, Vec::len);
        match state {
            Some("queued" | "running") => row.stuck += 1,
            Some("dead") if job.kind == JobKind::Poison => {}
            Some("done") if job.kind != JobKind::Poison && ran > 0 => {}
            _ => row.lost += 1,
        }
    }
    for runs in per_job.values().filter(|runs| runs.len() > 1) {
        let extra = runs.len() - 1;
        row.duplicates += extra;
        if runs[..extra].iter().all(|run| fleet.killed.contains(&run.runner)) {
            row.explained += extra;
        }
    }
    let times: Vec<DateTime<Utc>> = executions.iter().map(|e| e.at).collect();
    row.recovery_s = recovery(&times, window.end, rate);
    row.max_gap_s = completion_gap(pool, fleet, window).await?;
    row.warn_lines = warn_lines(fleet.log_dir());
    Ok(row)
}

/// Seconds from `end` until a one-second window of executions holds half of `rate`; with
/// less work left than that, until the last execution.
fn recovery(times: &[DateTime<Utc>], end: DateTime<Utc>, rate: u64) -> f64 {
    let after: Vec<_> = times.iter().copied().filter(|t| *t >= end).collect();
    let Some(last) = after.last().copied() else {
        return 0.0;
    };
    let want = (rate / 2).max(1) as usize;
    let second = TimeDelta::seconds(1);
    let mut ahead = 0;
    for (i, start) in after.iter().enumerate() {
        while ahead < after.len() && after[ahead] < *start + second {
            ahead += 1;
        }
        if ahead - i >= want {
            return seconds(*start - end);
        }
    }
    seconds(last - end)
}

/// The longest stretch during `window` without a completion by one runner, over the runners
/// that completed jobs before and after it.
async fn completion_gap(pool: &PgPool, fleet: &Fleet, window: FaultWindow) -> Result<Option<f64>, HarnessError> {
    let done: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT attempted_by, finished_at FROM backtick_jobs \
         WHERE state = 'done' AND attempted_by IS NOT NULL AND finished_at IS NOT NULL ORDER BY finished_at",
    )
    .fetch_all(pool)
    .await?;
    let mut per_runner: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for (runner, at) in &done {
        per_runner.entry(runner.as_str()).or_default().push(*at);
    }
    let through = per_runner.iter().filter(|(runner, times)| {
        !fleet.killed.iter().any(|k| k == *runner)
            && times.first().is_some_and(|t| *t <= window.start)
            && times.last().is_some_and(|t| *t >= window.end)
    });
    let gaps: Vec<(&str, f64)> = through
        .map(|(runner, times)| (*runner, max_gap(times, window)))
        .collect();
    if std::env::var_os("BT_FAULTS_DEBUG").is_some() {
        eprintln!(
            "completion gaps per runner during {} .. {}: {gaps:?}",
            window.start, window.end
        );
    }
    Ok(gaps.iter().map(|(_, gap)| *gap).reduce(f64::max))
}

/// The longest stretch within `window` without one of `times`.
fn max_gap(times: &[DateTime<Utc>], window: FaultWindow) -> f64 {
    let mut previous = window.start;
    let mut longest = TimeDelta::zero();
    for t in times.iter().copied().filter(|t| *t > window.start && *t < window.end) {
        longest = longest.max(t - previous);
        previous = t;
    }
    seconds(longest.max(window.end - previous))
}

fn seconds(delta: TimeDelta) -> f64 {
    delta.num_milliseconds() as f64 / 1_000.0
}

fn warn_lines(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .map(|log| {
            log.lines()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                .count()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(ms)
    }

    #[test]
    fn recovery_is_the_first_second_at_half_the_rate() {
        // 1 execution at 100 ms, then 10 per second from 2,000 ms on.
        let mut times = vec![at(1_100)];
        times.extend((0..30).map(|i| at(2_000 + i * 100)));
        assert_eq!(recovery(&times, at(1_000), 20), 1.0);
        assert_eq!(recovery(&[], at(1_000), 20), 0.0);
        // Less work left than half a second's worth: until the last execution.
        assert_eq!(recovery(&[at(1_500), at(1_700)], at(1_000), 100), 0.7);
    }

    #[test]
    fn the_longest_gap_counts_the_window_edges() {
        let window = FaultWindow {
            start: at(0),
            end: at(1_000),
        };
        assert_eq!(max_gap(&[at(100), at(200), at(900)], window), 0.7);
        assert_eq!(max_gap(&[], window), 1.0);
        assert_eq!(max_gap(&[at(100)], window), 0.9);
    }
}
