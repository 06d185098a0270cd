//! The figures: a table for people, RESULT lines for machines, a JSON file for later.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::backend::Backend;

/// One measured number.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub(crate) metric: &'static str,
    pub(crate) value: f64,
    pub(crate) unit: &'static str,
}

impl Figure {
    pub(crate) fn new(metric: &'static str, value: f64, unit: &'static str) -> Figure {
        Figure { metric, value, unit }
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

struct Row {
    backend: Backend,
    workload: &'static str,
    load: String,
    figure: Figure,
}

/// Everything one run measured.
pub(crate) struct Report {
    started: chrono::DateTime<chrono::Utc>,
    quick: bool,
    server_version: String,
    settings: Vec<(String, String)>,
    rows: Vec<Row>,
}

impl Report {
    pub(crate) fn new(quick: bool, settings: Vec<(String, String)>, server_version: String) -> Report {
        Report {
            started: chrono::Utc::now(),
            quick,
            server_version,
            settings,
            rows: Vec::new(),
        }
    }

    /// Add the figures of `workload` on `backend`, measured while the load average was `load`.
    pub(crate) fn add(&mut self, backend: Backend, workload: &'static str, load: &str, figures: Vec<Figure>) {
        for figure in figures {
            self.rows.push(Row {
                backend,
                workload,
                load: load.to_owned(),
                figure,
            });
        }
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
            "{:<17} {:<18} {:<16} {:>12}  {:<7} load (1/5/15 min) at start",
            "backend", "workload", "metric", "value", "unit"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{:<17} {:<18} {:<16} {:>12}  {:<7} {}",
                row.backend.result_name(),
                row.workload,
                row.figure.metric,
                row.figure.value_text(),
                row.figure.unit,
                row.load
            );
        }
        out.push('\n');
        out
    }

    /// `RESULT backtick-<backend> <workload> <metric>=<value>`, one line per figure.
    pub(crate) fn result_lines(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            let _ = writeln!(
                out,
                "RESULT {} {} {}={}",
                row.backend.result_name(),
                row.workload,
                row.figure.metric,
                row.figure.value_text()
            );
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
                json!({
                    "backend": row.backend.result_name(),
                    "workload": row.workload,
                    "metric": row.figure.metric,
                    "value": row.figure.value,
                    "unit": row.figure.unit,
                    "loadavg": row.load,
                })
            })
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
