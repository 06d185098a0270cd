//! The figures: a table for people, RESULT lines for machines, a JSON file for later.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::limits::Limit;

/// One measured number.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub(crate) metric: &'static str,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
    /// The plain SQL limit of the same run this figure is also reported against.
    pub(crate) limit: Option<Limit>,
}

impl Figure {
    pub(crate) fn new(metric: &'static str, value: f64, unit: &'static str) -> Figure {
        Figure {
            metric,
            value,
            unit,
            limit: None,
        }
    }

    /// Also report this figure as a ratio to `limit` (when the run measured it).
    pub(crate) fn against(mut self, limit: Limit) -> Figure {
        self.limit = Some(limit);
        self
    }

    /// The value as printed: whole numbers from 100 up and for counts, two decimals below.
    fn value_text(&self) -> String {
        if self.value.abs() >= 100.0 || self.value.fract() == 0.0 {
            format!("{:.0}", self.value)
        } else {
            format!("{:.2}", self.value)
        }
    }

    /// `metric = value unit`.
    pub(crate) fn human(&self) -> String {
        format!("{} = {} {}", self.metric, self.value_text(), self.unit)
    }
}

/// Who a figure is about: `backtick-pg`, `backtick-diesel`, or [`PLAIN_SQL`].
pub(crate) type Subject = &'static str;

/// The subject of the plain SQL limits.
pub(crate) const PLAIN_SQL: Subject = "plain-sql";

struct Row {
    subject: Subject,
    workload: &'static str,
    load: String,
    figure: Figure,
}

/// A figure's ratio to the limit it is reported against.
struct Ratio {
    value: f64,
    limit: Limit,
    limit_value: f64,
}

/// A series of samples over time (the soak), for the JSON file.
struct Series {
    subject: Subject,
    workload: &'static str,
    points: Vec<serde_json::Value>,
}

/// Everything one run measured.
pub(crate) struct Report {
    started: chrono::DateTime<chrono::Utc>,
    quick: bool,
    server_version: String,
    settings: Vec<(String, String)>,
    rows: Vec<Row>,
    series: Vec<Series>,
}

impl Report {
    pub(crate) fn new(quick: bool, settings: Vec<(String, String)>, server_version: String) -> Report {
        Report {
            started: chrono::Utc::now(),
            quick,
            server_version,
            settings,
            rows: Vec::new(),
            series: Vec::new(),
        }
    }

    /// Add the figures of `workload` on `subject`, measured while the load average was `load`.
    pub(crate) fn add(&mut self, subject: Subject, workload: &'static str, load: &str, figures: Vec<Figure>) {
        for figure in figures {
            self.rows.push(Row {
                subject,
                workload,
                load: load.to_owned(),
                figure,
            });
        }
    }

    /// Add samples over time of `workload` on `subject` (written to the JSON file only).
    pub(crate) fn add_series(&mut self, subject: Subject, workload: &'static str, points: Vec<serde_json::Value>) {
        if !points.is_empty() {
            self.series.push(Series {
                subject,
                workload,
                points,
            });
        }
    }

    /// The value of `metric` of `workload` on `subject` in this run, if measured.
    pub(crate) fn value(&self, subject: Subject, workload: &str, metric: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|row| row.subject == subject && row.workload == workload && row.figure.metric == metric)
            .map(|row| row.figure.value)
    }

    /// The figures of `workload` on `subject` as `metric = value unit (ratio of limit)`, for
    /// the progress lines.
    pub(crate) fn describe(&self, subject: Subject, workload: &str) -> Vec<String> {
        self.rows
            .iter()
            .filter(|row| row.subject == subject && row.workload == workload)
            .map(|row| match self.ratio(row) {
                Some(ratio) => format!("{} ({:.2} of {})", row.figure.human(), ratio.value, ratio.limit.label()),
                None => row.figure.human(),
            })
            .collect()
    }

    /// `row`'s figure divided by its limit, when it has one and the run measured it.
    fn ratio(&self, row: &Row) -> Option<Ratio> {
        let limit = row.figure.limit?;
        let limit_value = self.value(PLAIN_SQL, limit.workload(), limit.metric())?;
        (limit_value > 0.0).then(|| Ratio {
            value: row.figure.value / limit_value,
            limit,
            limit_value,
        })
    }

    /// The table for people.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let mode = if self.quick {
            "quick (small sizes, dev profile)"
        } else {
            "full"
        };
        let _ = writeln!(
            out,
            "\nbacktick benchmark, {mode}, {}",
            self.started.format("%Y-%m-%d %H:%M:%S UTC")
        );
        let _ = writeln!(out, "machine: {} cpus, {}", cpus(), os());
        let _ = writeln!(out, "server: {}", self.server_version);
        let settings: Vec<String> = self.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "settings: {}\n", settings.join(", "));
        let _ = writeln!(
            out,
            "{:<17} {:<22} {:<22} {:>12}  {:<7} {:<22} load (1/5/15 min) at start",
            "backend", "workload", "metric", "value", "unit", "ratio to limit"
        );
        for row in &self.rows {
            let ratio = self
                .ratio(row)
                .map(|r| format!("{:.2} of {}", r.value, r.limit.label()))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<17} {:<22} {:<22} {:>12}  {:<7} {:<22} {}",
                row.subject,
                row.workload,
                row.figure.metric,
                row.figure.value_text(),
                row.figure.unit,
                ratio,
                row.load
            );
        }
        let _ = writeln!(
            out,
            "\nratio: the figure divided by the plain SQL limit measured in this run on the same server \
             ({}: one-row INSERT per commit, 1 client; {}: the same batches in plain INSERTs; \
             {}: claim {} + complete, the best of 1, 4 and 10 clients)",
            Limit::InsertSingle.label(),
            Limit::InsertBulk.label(),
            Limit::Claim.label(),
            crate::limits::CLAIM_BATCH,
        );
        out.push('\n');
        out
    }

    /// `RESULT <subject> <workload> <metric>=<value>`, one line per figure, followed by
    /// ` ratio=<value / limit>` when the figure has a limit the run measured.
    pub(crate) fn result_lines(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            let _ = write!(
                out,
                "RESULT {} {} {}={}",
                row.subject,
                row.workload,
                row.figure.metric,
                row.figure.value_text()
            );
            if let Some(ratio) = self.ratio(row) {
                let _ = write!(out, " ratio={:.3}", ratio.value);
            }
            out.push('\n');
        }
        out
    }

    /// Write the report as JSON to `dir/bench-<timestamp>.json` and `dir/latest.json`;
    /// returns the timestamped path.
    pub(crate) fn write_json(&self, dir: &Path) -> Result<PathBuf, String> {
        let results: Vec<_> = self
            .rows
            .iter()
            .map(|row| {
                let mut result = json!({
                    "backend": row.subject,
                    "workload": row.workload,
                    "metric": row.figure.metric,
                    "value": row.figure.value,
                    "unit": row.figure.unit,
                    "loadavg": row.load,
                });
                if let Some(ratio) = self.ratio(row) {
                    result["ratio"] = json!(ratio.value);
                    result["limit"] = json!({
                        "workload": ratio.limit.workload(),
                        "metric": ratio.limit.metric(),
                        "value": ratio.limit_value,
                    });
                }
                result
            })
            .collect();
        let series: Vec<_> = self
            .series
            .iter()
            .map(|s| json!({ "backend": s.subject, "workload": s.workload, "points": s.points }))
            .collect();
        let settings: serde_json::Map<String, serde_json::Value> =
            self.settings.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let document = json!({
            "started_at": self.started.to_rfc3339(),
            "quick": self.quick,
            "profile": if cfg!(debug_assertions) { "dev" } else { "release" },
            "machine": { "cpus": cpus(), "os": os(), "loadavg_end": loadavg() },
            "postgres": { "version": self.server_version, "settings": settings },
            "results": results,
            "series": series,
        });
        let text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(format!("bench-{}.json", self.started.format("%Y%m%dT%H%M%SZ")));
        for file in [path.clone(), dir.join("latest.json")] {
            std::fs::write(&file, &text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        }
        Ok(path)
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn os() -> String {
    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The load average (1, 5, 15 minutes) from `/proc/loadavg`, or `?` where there is none.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut report = Report::new(true, Vec::new(), "PostgreSQL".to_owned());
        report.add(
            PLAIN_SQL,
            "L.claim",
            "0 0 0",
            vec![Figure::new("best_jobs_per_s", 20_000.0, "jobs/s")],
        );
        report.add(
            "backtick-pg",
            "A.drain.c10",
            "0 0 0",
            vec![
                Figure::new("jobs_per_s", 5_000.0, "jobs/s").against(Limit::Claim),
                Figure::new("bulk_jobs_per_s", 5_000.0, "jobs/s").against(Limit::InsertBulk),
            ],
        );
        report
    }

    #[test]
    fn a_figure_with_a_measured_limit_gets_its_ratio_everywhere() {
        let report = report();
        let lines = report.result_lines();
        assert!(
            lines.contains("RESULT plain-sql L.claim best_jobs_per_s=20000\n"),
            "{lines}"
        );
        assert!(
            lines.contains("RESULT backtick-pg A.drain.c10 jobs_per_s=5000 ratio=0.250\n"),
            "{lines}"
        );
        assert!(report.table().contains("0.25 of L.claim best"));
        assert_eq!(
            report.describe("backtick-pg", "A.drain.c10")[0],
            "jobs_per_s = 5000 jobs/s (0.25 of L.claim best)"
        );
    }

    #[test]
    fn a_figure_whose_limit_was_not_measured_has_no_ratio() {
        let lines = report().result_lines();
        assert!(
            lines.contains("RESULT backtick-pg A.drain.c10 bulk_jobs_per_s=5000\n"),
            "{lines}"
        );
    }

    #[test]
    fn the_json_holds_ratios_and_series() {
        let mut report = report();
        report.add_series("backtick-pg", "E.soak", vec![json!({ "t_s": 1.0 })]);
        let dir = std::env::temp_dir().join(format!("backtick-bench-report-{}", std::process::id()));
        let path = report.write_json(&dir).unwrap();
        let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let drain = &document["results"][1];
        assert_eq!(drain["ratio"], json!(0.25));
        assert_eq!(drain["limit"]["workload"], json!("L.claim"));
        assert_eq!(document["series"][0]["workload"], json!("E.soak"));
        assert!(dir.join("latest.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
