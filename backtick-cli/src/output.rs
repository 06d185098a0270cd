//! How results are printed: aligned tables for people, one JSON document for scripts, and
//! the formats of times, ages and long texts in tables.

use std::io::Write;
use std::time::Duration;

use backtick_core::Timestamp;
use serde::Serialize;

use crate::error::CliError;

/// Where a command writes and in which form.
pub struct Output<'w> {
    /// The writer (stdout in the binary, a buffer in tests).
    pub out: &'w mut dyn Write,
    /// True for `--json`.
    pub json: bool,
}

impl<'w> Output<'w> {
    /// An output to `out`, as JSON when `json`.
    pub fn new(out: &'w mut dyn Write, json: bool) -> Self {
        Output { out, json }
    }

    /// Print `value` as pretty JSON.
    ///
    /// # Errors
    /// [`CliError::Io`] when writing fails.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CliError> {
        serde_json::to_writer_pretty(&mut *self.out, value).map_err(std::io::Error::from)?;
        writeln!(self.out)?;
        Ok(())
    }

    /// Print one line of text.
    ///
    /// # Errors
    /// [`CliError::Io`] when writing fails.
    pub fn line(&mut self, text: impl AsRef<str>) -> Result<(), CliError> {
        writeln!(self.out, "{}", text.as_ref())?;
        Ok(())
    }

    /// Print `table`, or `empty` when it has no rows.
    ///
    /// # Errors
    /// [`CliError::Io`] when writing fails.
    pub fn table(&mut self, table: &Table, empty: &str) -> Result<(), CliError> {
        if table.rows.is_empty() {
            return self.line(empty);
        }
        write!(self.out, "{}", table.render())?;
        Ok(())
    }

    /// Print `value` as JSON with `--json`, else the lines `human` makes.
    ///
    /// # Errors
    /// [`CliError::Io`] when writing fails.
    pub fn either<T: Serialize + ?Sized>(&mut self, value: &T, human: impl AsRef<str>) -> Result<(), CliError> {
        if self.json { self.json(value) } else { self.line(human) }
    }
}

/// A table of text cells with a header, printed with each column as wide as its widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, columns separated by two spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let mut text = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            text.push_str(cells.join("  ").trim_end());
            text.push('\n');
        }
        text
    }
}

/// A time in a table: UTC to the second, `-` when unset.
pub fn time(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), |at| at.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A duration in a table, to the second (`1h 2m 3s`), `-` when unset.
pub fn age(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || "-".to_owned(),
        |d| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string(),
    )
}

/// The age of `at` at `now`, `-` when unset.
pub fn age_since(at: Option<Timestamp>, now: Timestamp) -> String {
    age(at.map(|at| (now - at).to_std().unwrap_or(Duration::ZERO)))
}

/// `text` cut to `max` characters with an ellipsis, on one line; `-` when unset.
pub fn short(text: Option<&str>, max: usize) -> String {
    let Some(text) = text else {
        return "-".to_owned();
    };
    let flat = text.replace(['\n', '\r'], " ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_to_the_widest_cell() {
        let mut table = Table::new(&["ID", "QUEUE"]);
        table.row(vec!["1".into(), "mail".into()]);
        table.row(vec!["1234".into(), "q".into()]);
        assert_eq!(table.render(), "ID    QUEUE\n1     mail\n1234  q\n");
    }

    #[test]
    fn long_texts_are_cut_on_one_line() {
        assert_eq!(short(Some("a\nbcdef"), 4), "a b…");
        assert_eq!(short(None, 4), "-");
        assert_eq!(age(Some(Duration::from_millis(61_500))), "1m 1s");
    }
}
